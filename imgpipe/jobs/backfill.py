"""The backfill run: list, route, check, invoke, checkpoint (`imgpipe backfill`,
and the demo's day two). docs/day-two.md and the command's module
(`imgpipe.commands.backfill`) say what a user sees of it.

A checkpoint file records the last key up to which every object is settled
(listed, and skipped or accepted by FC or failed for good), with the counts,
every second; a stopped run resumes after it. The first Ctrl-C or SIGTERM
stops between objects and nothing accepted is invoked again; a second one,
a kill or a crash leaves the last periodic checkpoint, and objects invoked
after it are invoked again (harmless: the handler finds them current). The
checkpoint names what the run was (its identity); a resume with another is
refused.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fc_handler.current import current_outputs
from fc_handler.localfs import write_atomic
from imgpipe.cloud.errors import InvokeError
from imgpipe.cloud.fc import object_event
from imgpipe.cloud.objects import Listed
from imgpipe.cloud.stack import Stack

CHECKPOINT_VERSION = 1


class BackfillError(Exception):
    """The run cannot start or go on; the message says what to fix."""


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
        return (
            current_outputs(
                self.target,
                target_bucket=self.stack.target_bucket,
                outputs=self.stack.outputs(item.key),
                config=self.stack.config,
                etag=item.etag,
            )
            is not None
        )

    def _record_failure(self, key: str, error: str) -> None:
        line = {
            "key": key,
            "error": error,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with self.failures.open("a") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
