"""`imgpipe backfill`: redo what is stale, with Function Compute doing the work.

For a deployed stack (`--outputs`, its `terraform output -json`) or the
local buckets of `make demo` (`--buckets .demo/buckets`):

1. list the source objects under the source prefix, page by page (OSS
   ListObjects with `marker`, 1,000 keys a page; locally, a directory walk in
   the same key order), never holding the whole listing;
2. build, for each, the CloudEvent EventBridge would deliver for its upload
   and match it against the *deployed* pattern (the `event_filter_pattern`
   output, or locally the pattern evaluated from the Terraform): what the
   trigger would not route, backfill does not invoke either (`filtered`);
3. skip it when its work is current: the same check, through the same code
   (`fc_handler.current`), the handler makes before it downloads anything;
4. invoke the function **asynchronously** with that event (FC 3.0
   InvokeFunction, `x-fc-invocation-type: Async`; locally, the real handler
   in-process), at most `--rate` per second, retrying throttling (429), 5xx
   and network errors with backoff; an invoke that still fails is written
   to the failures file and the run goes on.

A checkpoint file records the last key up to which every object is settled
(listed, and skipped or accepted by FC or failed for good), with the counts,
every second; a stopped run resumes after it. The first Ctrl-C or SIGTERM
stops between objects and nothing accepted is invoked again; a second one,
a kill or a crash leaves the last periodic checkpoint, and objects invoked
after it are invoked again (harmless: the handler finds them current). The
checkpoint names the flags it was written with (`_identity`); a resume with
others is refused. A finished run deletes its checkpoint, so the next run
starts from the beginning (and finds everything current).

FC accepting an asynchronous invocation is not the work done: FC runs it,
retries it and dead-letters what keeps failing (`imgpipe redrive`). A
second backfill is the audit: what it finds stale was not done.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fc_handler.settings import Settings, SettingsError, is_image_key, parse_suffixes
from imgpipe import argtypes, stackoutputs
from imgpipe.eventpattern import matches

CHECKPOINT_VERSION = 1


class BackfillError(Exception):
    """The run cannot start or go on; the message says what to fix."""


class InvokeError(Exception):
    """An invocation FC did not accept; `retryable` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


# ------------------------------------------------------------------ the stack


@dataclass(frozen=True)
class Stack:
    """What backfill and redrive need to know about a deployment."""

    source_bucket: str
    target_bucket: str
    source_prefix: str
    rejected_prefix: str
    config: Any  # imgproc.Config
    pattern: dict[str, Any]
    memory_mb: int
    region: str
    account: str
    function_name: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)  # local runs
    max_object_bytes: int | None = None
    # Endings the handler takes (IMAGE_SUFFIXES): the deployed pattern
    # routes every key under the prefix (EventBridge's 5 expressions).
    image_suffixes: tuple[str, ...] = Settings.image_suffixes

    def ignore_reason(self, item: Listed) -> str | None:
        """Why the handler would ignore this object, so invoking it is waste.

        The handler's own rule (`fc_handler.handle`), for what a listing
        knows: with one bucket for sources and outputs, one of the function's
        own outputs. Without this each rerun would invoke them again, since
        they never get variants. An empty object and one over
        MAX_OBJECT_BYTES are invoked: the handler rejects them with a record
        (`empty`; `too-large`, never downloaded), so they are current once
        done, and the backfill leaves the same records as an upload would.
        """
        guarded = (*self.config.output_prefixes(), self.rejected_prefix)
        if self.source_bucket == self.target_bucket and item.key.startswith(guarded):
            return "own-output"
        return None

    def routes(self, item: Listed, event: dict[str, Any]) -> bool:
        """Whether the deployed routing takes this object: the pattern, then the ending.

        The ending is the handler's test (IMAGE_SUFFIXES, any case), which
        took over from the pattern where EventBridge's 5 expressions per
        field could not: an object either fails is "filtered", as before.
        """
        return matches(self.pattern, event) and is_image_key(item.key, self.image_suffixes)

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any], *, memory_mb: int) -> Stack:
        """Read `terraform output -json` (each output is `{"value": ...}`)."""
        found = stackoutputs.values(
            outputs,
            (
                "source_bucket",
                "target_bucket",
                "function_name",
                "function_arn",
                "event_filter_pattern",
                "pipeline_config",
            ),
            BackfillError,
        )
        # acs:fc:<region>:<account>:functions/<name>
        region, account = stackoutputs.region_account(
            str(found["function_arn"]), "function_arn", "fc", BackfillError
        )
        pipeline, config = stackoutputs.pipeline(found, BackfillError)
        try:
            pattern = json.loads(found["event_filter_pattern"])
        except (ValueError, TypeError) as exc:
            raise BackfillError(f"event_filter_pattern output is not JSON: {exc}") from None
        return cls(
            source_bucket=str(found["source_bucket"]),
            target_bucket=str(found["target_bucket"]),
            source_prefix=str(pipeline["source_prefix"]),
            rejected_prefix=str(pipeline.get("rejected_prefix", "rejected/")),
            config=config,
            pattern=pattern,
            memory_mb=memory_mb,
            region=region,
            account=account,
            function_name=str(found["function_name"]),
            max_object_bytes=_positive_int(pipeline.get("max_object_bytes")),
            image_suffixes=_suffixes(pipeline.get("image_suffixes")),
        )

    @classmethod
    def local(cls, config_json: str | None = None, variables: dict | None = None) -> Stack:
        """The dev environment's evaluated Terraform, as `make demo` runs it.

        `config_json` replaces the processor configuration (IMGPIPE_CONFIG),
        to try a variant change locally before changing `var.variants`.
        """
        from fc_handler.settings import Settings
        from imgpipe.terraform import LOCAL_ACCOUNT, LOCAL_REGION, evaluate

        ev = evaluate({"env": "dev", **(variables or {})})
        env = dict(ev.function_environment)
        if config_json is not None:
            env["IMGPIPE_CONFIG"] = config_json
        settings = Settings.from_env(env)
        return cls(
            source_bucket=settings.source_bucket,
            target_bucket=settings.target_bucket,
            source_prefix=settings.source_prefix,
            rejected_prefix=settings.rejected_prefix,
            config=settings.processor,
            pattern=ev.filter_pattern,
            memory_mb=int(ev.one("alicloud_fcv3_function")["memory_size"]),
            region=LOCAL_REGION,
            account=LOCAL_ACCOUNT,
            environment=env,
            max_object_bytes=settings.max_object_bytes,
            image_suffixes=settings.image_suffixes,
        )


def _suffixes(value: Any) -> tuple[str, ...]:
    """pipeline_config's image_suffixes; a stack from before it had them: the handler's default."""
    if value is None:
        return Settings.image_suffixes
    try:
        return parse_suffixes(",".join(value))
    except (SettingsError, TypeError) as exc:
        raise BackfillError(f"pipeline_config output: image_suffixes: {exc}") from None


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


# ------------------------------------------------------------------- listing


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    etag: str  # upper-case hex, no quotes


def list_local(root: Path, bucket: str, prefix: str, after: str = "") -> Iterator[Listed]:
    """Objects of a local bucket under `prefix` with keys after `after`, in key order.

    OSS lists keys in byte order; walking each directory with its entries
    sorted by name, a directory's name followed by "/", gives the same order
    (a key under `a/` sorts where "a/" sorts). Directories wholly before
    `after`, or beside the prefix, are not entered. The writer's temporary
    files (`.name.*.part`) are not objects.
    """
    import hashlib

    base = root / bucket

    def walk(directory: Path, rel: str) -> Iterator[Listed]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        named = sorted((e.name + ("/" if e.is_dir() else ""), e) for e in entries)
        del entries
        for name, entry in named:
            key = rel + name
            if not (key.startswith(prefix) or prefix.startswith(key)):
                continue
            if name.endswith("/"):
                if after and after > key and not after.startswith(key):
                    continue  # everything in it sorts before `after`
                yield from walk(Path(entry.path), key)
            elif key > after and key.startswith(prefix):
                if name.startswith(".") and name.endswith(".part"):
                    continue
                data = Path(entry.path).read_bytes()
                yield Listed(key, len(data), hashlib.md5(data).hexdigest().upper())

    yield from walk(base, "")


def list_oss(
    bucket: Any,
    prefix: str,
    after: str = "",
    page: int = 1000,
    *,
    retries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Listed]:
    """ListObjects page by page from `marker=after`; one page in memory at a time.

    A page that fails with 5xx, 429 or no answer is asked again with backoff
    (0.5 s, 1, 2, 4, 8); after that the listing stops with a BackfillError
    naming the marker, and the checkpoint lets a rerun resume there.
    """
    import oss2

    marker = after
    while True:
        for attempt in range(retries + 1):
            try:
                result = bucket.list_objects(prefix=prefix, marker=marker, max_keys=page)
                break
            except (oss2.exceptions.RequestError, oss2.exceptions.ServerError) as exc:
                status = getattr(exc, "status", 0) or 0
                transient = isinstance(exc, oss2.exceptions.RequestError) or (
                    status >= 500 or status == 429
                )
                if not transient or attempt == retries:
                    code = getattr(exc, "code", "") or type(exc).__name__
                    msg = (
                        f"listing oss://{bucket.bucket_name}/{prefix} after {marker!r} "
                        f"failed: HTTP {status} {code}"
                    )
                    raise BackfillError(msg) from None
                sleep(min(0.5 * 2**attempt, 8.0))
        for obj in result.object_list:
            if not obj.key.endswith("/"):  # folder markers
                yield Listed(obj.key, int(obj.size), obj.etag.strip('"').upper())
        if not result.is_truncated:
            return
        marker = result.next_marker


# ------------------------------------------------------------------ invoking


def object_event(stack: Stack, item: Listed, *, force: bool = False) -> dict[str, Any]:
    """The CloudEvent EventBridge delivers for the upload of `item`."""
    from imgpipe.events import cloudevent

    event = cloudevent(
        stack.source_bucket, item.key, b"", region=stack.region, account=stack.account
    )
    obj = event["data"]["oss"]["object"]
    obj.update(size=item.size, deltaSize=item.size, eTag=item.etag)
    if force:
        from fc_handler.events import FORCE_ATTRIBUTE

        event[FORCE_ATTRIBUTE] = "true"
    return event


class FcInvoker:
    """FC 3.0 InvokeFunction, asynchronous, through Alibaba's SDK.

    One SDK client per thread (the SDK keeps connection state). FC answers
    an accepted asynchronous invocation with 202. 429 and 5xx are retryable,
    and so is no answer at all (the SDK's UnretryableException is a network
    error or a timeout, retryable for us); any other 4xx is not.
    """

    def __init__(
        self,
        function_name: str,
        *,
        region: str,
        credentials: Any,
        endpoint: str | None = None,
        qualifier: str = "LATEST",
        timeout_s: float = 10.0,
    ) -> None:
        self.function_name = function_name
        self.region = region
        self.credentials = credentials
        self.endpoint = endpoint
        self.qualifier = qualifier
        self.timeout_ms = int(timeout_s * 1000)
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            from alibabacloud_fc20230330.client import Client
            from alibabacloud_tea_openapi import utils_models

            protocol, host = "https", self.endpoint
            if host and "://" in host:
                protocol, host = host.split("://", 1)
            config = utils_models.Config(
                access_key_id=self.credentials.access_key_id,
                access_key_secret=self.credentials.access_key_secret,
                security_token=self.credentials.security_token,
                region_id=self.region,
                endpoint=host.rstrip("/") if host else None,
                protocol=protocol,
            )
            client = self._local.client = Client(config)
        return client

    def __call__(self, payload: bytes) -> str:
        from alibabacloud_fc20230330 import models
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
        from darabonba.runtime import RuntimeOptions

        runtime = RuntimeOptions(
            autoretry=False, read_timeout=self.timeout_ms, connect_timeout=self.timeout_ms
        )
        try:
            response = self._client().invoke_function_with_options(
                self.function_name,
                models.InvokeFunctionRequest(body=payload, qualifier=self.qualifier),
                models.InvokeFunctionHeaders(x_fc_invocation_type="Async"),
                runtime,
            )
        except AlibabaCloudException as exc:
            status = getattr(exc, "status_code", None) or 0
            retryable = status == 429 or status >= 500
            raise InvokeError(f"HTTP {status} {exc.code}", retryable=retryable) from None
        except Exception as exc:  # noqa: BLE001 - the SDK's network errors have no common base
            text = str(exc)[:200]
            raise InvokeError(f"no answer: {type(exc).__name__}: {text}", retryable=True) from None
        if response.status_code != 202:
            msg = f"HTTP {response.status_code} (an asynchronous invocation is accepted with 202)"
            raise InvokeError(msg, retryable=response.status_code >= 500)
        return str((response.headers or {}).get("x-fc-request-id", ""))


class LocalInvoker:
    """The real handler in-process against local buckets, as `imgpipe invoke` runs it.

    Synchronous where FC is asynchronous, so a local run also does the work;
    its log lines are appended to `log` (the demo's `function.log`). A
    handler that raises is retryable, as FC would retry it.
    """

    def __init__(self, buckets: Path, environment: Mapping[str, str], log: Path) -> None:
        self.buckets = buckets
        self.environment = dict(environment)
        self.log = log

    def __call__(self, payload: bytes) -> str:
        from imgpipe.invoke import invoke

        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            result = invoke(payload, self.buckets, env=self.environment)
        with self.log.open("a") as fh:
            fh.write(captured.getvalue())
        if result.raised:
            msg = f"handler raised {type(result.error).__name__}: {result.error}"
            raise InvokeError(msg, retryable=True)
        return result.request_id


class RateLimiter:
    """At most `rate` acquisitions per second, spread evenly; thread-safe."""

    def __init__(self, rate: float | None, clock=time.monotonic, sleep=time.sleep) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self.next = 0.0
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            at = max(now, self.next)
            self.next = at + self.interval
        if at > now:
            self.sleep(at - now)


# ---------------------------------------------------------------- checkpoint


@dataclass
class Counts:
    listed: int = 0
    filtered: int = 0
    ignored: int = 0
    current: int = 0
    invoked: int = 0
    failed: int = 0
    would_invoke: int = 0


class Checkpoint:
    """The last settled key and the counts so far, replaced atomically."""

    def __init__(self, path: Path, identity: dict[str, Any]) -> None:
        self.path = path
        self.identity = identity  # `_identity`: a checkpoint of another run is refused

    def load(self) -> tuple[str, Counts]:
        if not self.path.exists():
            return "", Counts()
        try:
            data = json.loads(self.path.read_text())
            if data.get("version") != CHECKPOINT_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            counts = Counts(**data["counts"])
            after = str(data["after"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = f"checkpoint {self.path} is unreadable ({exc}); delete it to start over"
            raise BackfillError(msg) from None
        saved = data.get("identity")
        if saved != self.identity:
            saved = saved if isinstance(saved, dict) else {}
            differ = ", ".join(
                f"{name} {saved.get(name)!r} there, {self.identity.get(name)!r} here"
                for name in sorted(set(saved) | set(self.identity))
                if saved.get(name) != self.identity.get(name)
            )
            msg = (
                f"checkpoint {self.path} belongs to another run ({differ}): resuming would "
                f"take the objects up to {after!r} as done this way, and skip them. Run the "
                "same command as before to resume it, or delete it (or give --checkpoint "
                "another file) to start over"
            )
            raise BackfillError(msg)
        return after, counts

    def save(self, after: str, counts: Counts) -> None:
        from fc_handler.localfs import write_atomic

        body = {
            "version": CHECKPOINT_VERSION,
            "identity": self.identity,
            "after": after,
            "counts": asdict(counts),
            "saved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_atomic(self.path, json.dumps(body, indent=1).encode())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


# ------------------------------------------------------------------- the run


@dataclass
class Backfill:
    stack: Stack
    lister: Callable[[str], Iterator[Listed]]  # after -> objects in key order
    target: Any  # fc_handler.storage.Storage of the target bucket
    invoker: Callable[[bytes], str]
    checkpoint: Checkpoint
    failures: Path
    rate: float | None = None
    force: bool = False
    dry_run: bool = False
    workers: int = 8
    retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    checkpoint_every_s: float = 1.0
    progress: Callable[[Counts, int], None] | None = None  # (counts, in flight)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    stop: threading.Event = field(default_factory=threading.Event)
    complete: bool = False  # set by `run`: every object settled, checkpoint removed
    # The highest sequence number of an object whose work has started (see `_one`).
    _started: int = field(default=-1, init=False, repr=False)
    _start_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def run(self) -> Counts:
        """Settle every object after the checkpoint; save progress as it goes."""
        after, counts = self.checkpoint.load()
        self.stop.clear()
        self._started = -1
        limiter = RateLimiter(self.rate, clock=self.clock, sleep=self.sleep)
        # Objects in key order, settled from the left only: (key, future or
        # None, verdict). The checkpoint moves to the last settled key.
        pending: deque[tuple[str, Future | None, str | None]] = deque()
        limit = max(4 * self.workers, 16)
        slots = threading.BoundedSemaphore(limit)
        last_save = self.clock()
        settled_after = after

        def settle(until: int) -> None:
            """Settle what is done; wait on the oldest while more than `until` are pending."""
            nonlocal settled_after
            while pending:
                key, fut, verdict = pending[0]
                if fut is not None:
                    if not fut.done() and len(pending) <= until:
                        return
                    verdict, error = fut.result()
                    if verdict is None:  # stopped before it ran: not settled
                        return
                    if error is not None:
                        self._record_failure(key, error)
                pending.popleft()
                setattr(counts, verdict, getattr(counts, verdict) + 1)
                settled_after = key

        # A KeyboardInterrupt (a second Ctrl-C: `run` turns the first into
        # `stop`) can land between any two steps of the bookkeeping below, so
        # the state it leaves is not saved: the last periodic checkpoint,
        # written between items, stands. Objects invoked since it may be
        # invoked again on resume; none is skipped.
        hard_stop = False
        with ThreadPoolExecutor(self.workers, thread_name_prefix="backfill") as pool:
            try:
                for seq, item in enumerate(self.lister(after)):
                    counts.listed += 1
                    event = object_event(self.stack, item, force=self.force)
                    if not self.stack.routes(item, event):
                        pending.append((item.key, None, "filtered"))
                    elif self.stack.ignore_reason(item):
                        pending.append((item.key, None, "ignored"))
                    else:
                        payload = json.dumps(event, ensure_ascii=False).encode()
                        slots.acquire()
                        fut = pool.submit(self._one, item, payload, limiter, seq)
                        fut.add_done_callback(lambda _f: slots.release())
                        pending.append((item.key, fut, None))
                    settle(until=2 * limit)
                    if self.progress:
                        self.progress(counts, len(pending))
                    if self.clock() - last_save >= self.checkpoint_every_s:
                        # `listed` without the unsettled: a resume lists them again
                        settled = dataclasses.replace(counts, listed=counts.listed - len(pending))
                        self.checkpoint.save(settled_after, settled)
                        last_save = self.clock()
                    if counts.failed >= 50 and counts.invoked == 0:
                        msg = f"the first {counts.failed} objects all failed; see {self.failures}"
                        raise BackfillError(msg)
                    if self.stop.is_set():
                        break
            except BaseException as exc:
                hard_stop = isinstance(exc, KeyboardInterrupt)
                self.stop.set()  # queued work returns unsettled at once
                raise
            finally:
                try:
                    if not hard_stop:
                        settle(until=0)
                except KeyboardInterrupt:  # while the last ones finish
                    hard_stop = True
                    self.stop.set()
                    raise
                finally:
                    # Listed but unsettled (stopped) objects are listed again on resume.
                    counts.listed -= len(pending)
                    self.complete = not self.stop.is_set() and not pending
                    if self.complete:  # the next run starts from the beginning
                        self.checkpoint.clear()
                    elif not hard_stop:
                        self.checkpoint.save(settled_after, counts)
                    if self.progress:
                        self.progress(counts, 0)
        return counts

    def _one(
        self, item: Listed, payload: bytes, limiter: RateLimiter, seq: int
    ) -> tuple[str | None, str | None]:
        """(verdict, error) for one routed object; never raises. None: stopped first.

        Once stopped, an object starts only if a later one (a higher `seq`)
        already has: the workers take objects in order but may check `stop`
        out of order, and a hole (object 6 stopped, object 7 invoked) would
        leave 7 unsettled behind 6, to be invoked a second time on resume.
        So what started is always a prefix of what was submitted.
        """
        with self._start_lock:
            if self.stop.is_set() and seq > self._started:
                return None, None
            self._started = max(self._started, seq)
        try:
            if not self.force and self._current(item):
                return "current", None
        except Exception as exc:  # noqa: BLE001 - a HEAD that keeps failing: report, go on
            return "failed", f"checking the variants: {type(exc).__name__}: {exc}"
        if self.dry_run:
            return "would_invoke", None
        error = ""
        for attempt in range(self.retries + 1):
            limiter.acquire()
            try:
                self.invoker(payload)
                return "invoked", None
            except InvokeError as exc:
                error = f"{exc} (attempt {attempt + 1})"
                if not exc.retryable:
                    break
            if attempt < self.retries:
                self.sleep(min(self.backoff_s * 2**attempt, self.max_backoff_s))
        return "failed", error

    def _current(self, item: Listed) -> bool:
        from fc_handler.current import current_outputs

        return (
            current_outputs(
                self.target,
                target_bucket=self.stack.target_bucket,
                source_prefix=self.stack.source_prefix,
                rejected_prefix=self.stack.rejected_prefix,
                config=self.stack.config,
                key=item.key,
                etag=item.etag,
            )
            is not None
        )

    def _record_failure(self, key: str, error: str) -> None:
        line = {"key": key, "error": error, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        with self.failures.open("a") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    stackoutputs.add_outputs_or_buckets(
        p, buckets_help="local buckets (make demo's .demo/buckets): the real handler in-process"
    )
    p.add_argument(
        "--prefix",
        metavar="P",
        help="only keys under P, a part of the source prefix (e.g. uploads/2024/)",
    )
    p.add_argument("--function", metavar="NAME", help="invoke this function instead of the stack's")
    p.add_argument("--dry-run", action="store_true", help="list and check, invoke nothing")
    p.add_argument("--force", action="store_true", help="redo current objects too")
    p.add_argument(
        "--rate",
        type=argtypes.number(0, 100_000, above_minimum=True),
        metavar="N",
        help="at most N invocations per second (default: as fast as --workers go)",
    )
    p.add_argument(
        "--workers",
        type=argtypes.integer(1, 256, meaning="a whole number of workers"),
        default=16,
        help="concurrent checks and invokes (FC mode; local runs use 1)",
    )
    p.add_argument(
        "--retries",
        type=argtypes.integer(0, 20, meaning="a whole number of retries"),
        default=4,
        help="retries of a throttled or failed invoke before it is reported",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="progress file (default: .imgpipe-backfill.json, or DIR/../backfill.json)",
    )
    p.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="local runs: a processor config JSON instead of the Terraform's",
    )
    p.add_argument(
        "--memory-mb",
        type=argtypes.integer(128, 32768, meaning="a memory size in MB"),
        help="for --dry-run's cost (default: the function's, or 1024)",
    )
    p.add_argument(
        "--vcpu",
        type=argtypes.number(0.05, 16),
        default=1.0,
        help="vCPUs per instance for --dry-run's cost (default 1, the module's `cpu` default)",
    )
    p.add_argument(
        "--ms-per-object",
        type=argtypes.number(0, 600_000, above_minimum=True),
        default=300.0,
        help="billed duration per invoke for --dry-run's cost (default 300)",
    )
    stackoutputs.add_endpoint_arguments(p, "oss", "fc")
    p.add_argument(
        "--expected",
        type=argtypes.integer(1, 10**12, meaning="a whole number of objects"),
        metavar="N",
        help="objects under the prefix, for the progress bar's ETA (local runs count them)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _credentials():
    from imgpipe.smoke import Credentials, SetupError

    try:
        return Credentials.from_env()
    except SetupError as exc:
        raise BackfillError(str(exc)) from None


def build(args: argparse.Namespace) -> Backfill:
    """A Backfill for the parsed flags (no listing, no invoking yet)."""
    from fc_handler.storage import LocalStorage

    if args.buckets is not None:
        config_json = None
        if args.config is not None:
            config_json = Path(args.config).read_text(encoding="utf-8")
        try:
            stack = Stack.local(config_json)
        except ValueError as exc:  # SettingsError: the config does not parse
            raise BackfillError(f"--config: {exc}") from None
        buckets = Path(args.buckets)
        root = buckets.parent
        checkpoint = args.checkpoint or root / "backfill.json"
        return Backfill(
            stack=stack,
            lister=lambda after: list_local(
                buckets, stack.source_bucket, _prefix(stack, args), after
            ),
            target=LocalStorage(buckets),
            invoker=LocalInvoker(buckets, stack.environment, root / "function.log"),
            checkpoint=Checkpoint(checkpoint, _identity(stack, args)),
            failures=checkpoint.with_suffix(".failed.jsonl"),
            rate=args.rate,
            force=args.force,
            dry_run=args.dry_run,
            workers=1,
            retries=min(args.retries, 2),
            backoff_s=0.0,
        )
    try:
        outputs = stackoutputs.read(args.outputs)
    except (OSError, ValueError) as exc:  # stackoutputs.OutputsFileError: names the file
        raise BackfillError(str(exc)) from None
    stack = Stack.from_outputs(outputs, memory_mb=args.memory_mb or 1024)
    if args.function:
        stack = dataclasses.replace(stack, function_name=args.function)
    creds = _credentials()
    import oss2

    from fc_handler.storage_oss import OssStorage

    auth = creds.oss_auth()
    oss_endpoint = stackoutputs.oss_endpoint(args.oss_endpoint, stack.region)
    source = oss2.Bucket(auth, oss_endpoint, stack.source_bucket)
    checkpoint = args.checkpoint or Path(".imgpipe-backfill.json")
    return Backfill(
        stack=stack,
        lister=lambda after: list_oss(source, _prefix(stack, args), after),
        target=OssStorage(auth, oss_endpoint),
        invoker=FcInvoker(
            str(stack.function_name),
            region=stack.region,
            credentials=creds,
            endpoint=args.fc_endpoint,
        ),
        checkpoint=Checkpoint(checkpoint, _identity(stack, args)),
        failures=checkpoint.with_suffix(".failed.jsonl"),
        rate=args.rate,
        force=args.force,
        dry_run=args.dry_run,
        workers=args.workers,
        retries=args.retries,
    )


def _prefix(stack: Stack, args: argparse.Namespace) -> str:
    """What to list: the source prefix, or a part of it (`--prefix`)."""
    prefix = args.prefix if args.prefix is not None else stack.source_prefix
    if not prefix.startswith(stack.source_prefix):
        msg = f"--prefix {prefix!r} is outside the source prefix {stack.source_prefix!r}"
        raise BackfillError(msg)
    return prefix


def _identity(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    """What a checkpoint's `after` means: settled *how*, for which run.

    Every flag that changes what happened to the objects before `after`:
    the objects listed (bucket, prefix), what was done to them (a dry run
    invoked nothing; a stale run skipped the current ones, a forced one did
    not), which function did it, and the configuration "current" was
    judged by (`--config` locally, the deployed `pipeline_config` in FC
    mode). A resume under any other value would take objects as settled
    that were not settled that way, and skip them for good: refused
    (`Checkpoint.load`). Flags that only pace or price the run (`--rate`,
    `--workers`, `--retries`, `--memory-mb`, ...) may change between runs.
    """
    from imgproc.config import fingerprint

    return {
        "source": f"{stack.source_bucket}/{_prefix(stack, args)}",
        "mode": "dry-run" if args.dry_run else ("force" if args.force else "stale"),
        "function": stack.function_name,
        "config": fingerprint(stack.config),
    }


def cost_line(
    stack: Stack, n: int, ms: float, memory_mb: int | None = None, vcpu: float = 1.0
) -> str:
    """What invoking `n` objects costs, by `imgpipe cost`'s CU model, no trial quota.

    The same model (`imgpipe.cost.cu_estimate`) as `imgpipe cost` and the
    demo, so the three never disagree; see docs/cost.md for the rates.
    """
    from imgpipe.cost import CuRates, cu_estimate

    memory = memory_mb or stack.memory_mb
    rates = CuRates()
    est = cu_estimate(n, vcpu, memory, ms, rates=rates)
    return (
        f"estimated cost of {n:,} invocations at {vcpu:g} vCPU, {memory} MB x {ms:g} ms: "
        f"{est.total_cny:.2f} CNY ({est.total_cu:,.0f} CU: {est.invocations_cu:,.0f} "
        f"invocations + {est.vcpu_cu:,.0f} vCPU + {est.memory_cu + est.disk_cu:,.0f} "
        "memory and disk; `imgpipe cost` CU rates, no trial quota)"
    )


class _Progress:
    """A tqdm bar over the listing with the counts; ETA when the total is known."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, unit="obj", desc="backfill", disable=not enabled, file=sys.stderr
        )
        self.seen = 0

    def __call__(self, counts: Counts, in_flight: int) -> None:
        self.bar.update(counts.listed - self.seen)
        self.seen = counts.listed
        self.bar.set_postfix(
            current=counts.current,
            invoked=counts.invoked or counts.would_invoke,
            failed=counts.failed,
            filtered=counts.filtered,
            in_flight=in_flight,
            refresh=False,
        )

    def close(self) -> None:
        self.bar.close()


def summary(counts: Counts, job: Backfill, elapsed: float, args: argparse.Namespace) -> str:
    verb = "would invoke" if job.dry_run else "invoked"
    n = counts.would_invoke if job.dry_run else counts.invoked
    lines = [
        f"listed {counts.listed:,} objects under "
        f"{job.stack.source_bucket}/{_prefix(job.stack, args)} in {elapsed:.1f} s "
        f"({counts.listed / elapsed if elapsed > 0 else 0:,.0f}/s)",
        f"  current (skipped):  {counts.current:,}",
        f"  {verb + ':':19} {n:,}",
        f"  not routed:         {counts.filtered:,} (the event pattern would not send them)",
        f"  ignored:            {counts.ignored:,} (over MAX_OBJECT_BYTES or the "
        "function's own outputs: it would ignore them)",
        f"  failed:             {counts.failed:,}"
        + (f" (listed in {job.failures})" if counts.failed else ""),
    ]
    if job.dry_run or args.buckets is None:
        lines.append(cost_line(job.stack, n, args.ms_per_object, args.memory_mb, args.vcpu))
    if not job.dry_run and args.buckets is None and n:
        lines.append(
            "FC accepted these; it runs, retries and dead-letters them: "
            "`imgpipe redrive --peek` shows failures, a second backfill finds what is still stale"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        job = build(args)
        job.checkpoint.load()  # a checkpoint that cannot be resumed stops us before any work
    except BackfillError as exc:
        print(f"imgpipe backfill: {exc}", file=sys.stderr)
        return 2
    # OSS cannot count a prefix without listing it: the ETA needs --expected there.
    total = args.expected
    if total is None and args.buckets is not None:
        total = sum(1 for _ in _count_local(Path(args.buckets), job.stack))
    progress = _Progress(total, sys.stderr.isatty())
    job.progress = progress
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(_sig, _frame):
        """The first Ctrl-C or SIGTERM stops between objects, the second at once."""
        if job.stop.is_set():
            raise KeyboardInterrupt
        job.stop.set()

    started = time.monotonic()
    try:
        for sig in previous:
            signal.signal(sig, on_signal)
        counts = job.run()
    except KeyboardInterrupt:
        job.stop.set()
        progress.close()
        print(
            f"imgpipe backfill: stopped at once; the progress saved last in "
            f"{job.checkpoint.path} stands: run the same command again to resume "
            "(objects invoked since then are invoked again, none is skipped)",
            file=sys.stderr,
        )
        return 130
    except BackfillError as exc:
        progress.close()
        print(f"imgpipe backfill: {exc}", file=sys.stderr)
        if job.checkpoint.path.exists():
            print(
                f"imgpipe backfill: progress saved in {job.checkpoint.path}: "
                "run the same command again to resume",
                file=sys.stderr,
            )
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    progress.close()
    if not job.complete:  # stopped by a signal, between objects
        print(
            f"imgpipe backfill: stopped; progress saved in {job.checkpoint.path}: "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    elapsed = time.monotonic() - started
    if args.json:
        print(json.dumps({**asdict(counts), "seconds": round(elapsed, 3)}))
    else:
        print(summary(counts, job, elapsed, args))
    return 1 if counts.failed else 0


def _count_local(buckets: Path, stack: Stack) -> Iterator[None]:
    base = buckets / stack.source_bucket / stack.source_prefix
    for _dirpath, _dirs, files in os.walk(base):
        for _ in files:
            yield None
