"""`imgpipe smoke`: prove a deployed stack end to end, then leave nothing behind.

After `terraform apply`, with the stack's outputs (`terraform output -json`)
and the caller's credentials (`ALIBABA_CLOUD_ACCESS_KEY_ID`,
`ALIBABA_CLOUD_ACCESS_KEY_SECRET`, optionally `ALIBABA_CLOUD_SECURITY_TOKEN`):

1. upload a generated photo under the source prefix;
2. wait, bounded and with progress, for every configured variant in the
   target bucket, and check each one's size and content type;
3. report the end-to-end latency (upload to the last variant seen);
4. upload an object the function must fail on, an *Archive*-class copy of the
   photo: OSS refuses to read an Archive object that was not restored (403
   InvalidObjectState, OSS error 0016-00000404), the handler raises, FC
   retries and then dead-letters it; wait for it in the queue;
5. delete everything it wrote: both uploads and the variants (in a
   versioned bucket every version of each, delete markers included), and
   its message in the queue (other messages are put back at once).

It fails, with the object or queue and where to look, when a variant never
appears, has the wrong type or is empty, or when the failure never reaches
the queue. This is the failure drill of README "Which dead-letter path a
deployed stack uses", automated; docs/alibaba-cloud-review.md, point 7.

The MNS client is the documented REST API (ReceiveMessage, DeleteMessage,
ChangeMessageVisibility; "Sign requests": HMAC-SHA1 over method, MD5, type,
date, the `x-mns-*` headers and the resource), written here because the
runtime's MNS SDK is not on PyPI for current Python.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import imgpipe  # noqa: F401 - puts function_src on sys.path
from imgpipe import argtypes, stackoutputs

if TYPE_CHECKING:  # imgproc (and Pillow) load only when a smoke test runs
    from imgproc.config import Config

REQUIRED_OUTPUTS = ("source_bucket", "target_bucket", "queue_name", "queue_arn", "pipeline_config")
MNS_VERSION = "2015-06-06"
MNS_NS = "{http://mns.aliyuncs.com/doc/v1/}"


class SmokeError(Exception):
    """The deployed pipeline did not do what it must; the message says where to look."""


class SetupError(Exception):
    """The smoke test could not start: outputs, credentials or endpoints are wrong."""


class MnsError(SetupError):
    """MNS refused a request; `code` is its error code (e.g. ReceiptHandleError)."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status


# ------------------------------------------------------------------ stack


@dataclass(frozen=True)
class Stack:
    source_bucket: str
    target_bucket: str
    queue_name: str
    region: str
    account: str
    source_prefix: str
    config: Config

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any]) -> Stack:
        """Read `terraform output -json` (each output is `{"value": ...}`)."""
        found = stackoutputs.values(outputs, REQUIRED_OUTPUTS, SetupError)
        # acs:mns:<region>:<account>:/queues/<name>/messages
        region, account = stackoutputs.region_account(
            str(found["queue_arn"]), "queue_arn", "mns", SetupError
        )
        pipeline, config = stackoutputs.pipeline(found, SetupError)
        return cls(
            source_bucket=str(found["source_bucket"]),
            target_bucket=str(found["target_bucket"]),
            queue_name=str(found["queue_name"]),
            region=region,
            account=account,
            source_prefix=str(pipeline["source_prefix"]),
            config=config,
        )

    def manifest_key(self, relative: str) -> str:
        """The "ready" manifest the function writes after `relative`'s variants."""
        from fc_handler.manifest import manifest_key

        return manifest_key(self.config, relative)

    def expected_outputs(self, relative: str) -> list[tuple[str, str]]:
        """(key, content type) of every variant the function must write for `relative`."""
        from imgproc.keys import CONTENT_TYPES, output_key

        return [
            (output_key(self.config.key_template, relative, v.name, fmt), CONTENT_TYPES[fmt])
            for v in self.config.variants
            for fmt in v.formats
        ]


def make_photo(width: int, height: int) -> bytes:
    """A deterministic JPEG photo-like image: gradients and shapes, no randomness."""
    from PIL import Image, ImageDraw

    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(im)
    for i in range(12):
        x, y = (i * 97) % width, (i * 61) % height
        r = max(8, min(width, height) // (4 + i))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((i * 40) % 256, (i * 90) % 256, 200))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def photo_size(config: Config) -> tuple[int, int]:
    """Larger than every variant's bounds, so every variant is a real downscale."""
    side = max([1600] + [(v.width or 0) + 64 for v in config.variants])
    tall = max([1200] + [(v.height or 0) + 64 for v in config.variants])
    return side, tall


# -------------------------------------------------------------------- MNS


def mns_signature(secret: str, method: str, headers: dict[str, str], resource: str) -> str:
    """MNS "Sign requests": base64(HMAC-SHA1(secret, string-to-sign))."""
    lower = {k.lower(): v for k, v in headers.items()}
    mns_headers = "".join(f"{k}:{lower[k]}\n" for k in sorted(lower) if k.startswith("x-mns-"))
    to_sign = "\n".join(
        [method, lower.get("content-md5", ""), lower.get("content-type", ""), lower["date"]]
    )
    to_sign += "\n" + mns_headers + resource
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> Credentials:
        key, secret = (
            env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"),
            env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        )
        if not key or not secret:
            msg = "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            msg += " (and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials)"
            raise SetupError(msg)
        return cls(key, secret, env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None)

    def oss_auth(self) -> Any:
        """oss2's signer for these credentials (STS when a token is set)."""
        import oss2

        if self.security_token:
            return oss2.StsAuth(self.access_key_id, self.access_key_secret, self.security_token)
        return oss2.Auth(self.access_key_id, self.access_key_secret)


@dataclass(frozen=True)
class Message:
    receipt_handle: str
    body: str
    message_id: str = ""
    enqueue_ms: int | None = None  # EnqueueTime, ms since the epoch
    dequeue_count: int | None = None


@dataclass
class MnsQueue:
    """The three queue operations the smoke test needs, over MNS's REST API."""

    endpoint: str  # https://<account>.mns.<region>.aliyuncs.com
    queue: str
    credentials: Credentials
    timeout: float = 40
    session: Any = field(default=None, repr=False)

    def _call(self, method: str, query: dict[str, str], *, ok: tuple[int, ...]) -> Any:
        import requests

        self.session = self.session or requests.Session()
        resource = f"/queues/{quote(self.queue)}/messages"
        if query:
            # Values go in as they are, as the MNS SDK does: a receipt handle is
            # base64-like ("1-ODU4...=="), and the signed resource must be the
            # URI the server sees.
            resource += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        headers = {"Date": formatdate(usegmt=True), "x-mns-version": MNS_VERSION}
        if self.credentials.security_token:
            headers["x-mns-security-token"] = self.credentials.security_token
        signature = mns_signature(self.credentials.access_key_secret, method, headers, resource)
        headers["Authorization"] = f"MNS {self.credentials.access_key_id}:{signature}"
        try:
            response = self.session.request(
                method, self.endpoint.rstrip("/") + resource, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            msg = f"MNS {self.endpoint} unreachable: {exc}"
            raise SetupError(msg) from exc
        if response.status_code in ok:
            return response
        code = _xml_text(response.content, "Code") or str(response.status_code)
        if code == "MessageNotExist":
            return None
        detail = _xml_text(response.content, "Message") or response.text[:200]
        msg = f"MNS {method} {resource}: {response.status_code} {code}: {detail}"
        raise MnsError(msg, code=code, status=response.status_code)

    def receive(self, wait_seconds: int) -> Message | None:
        response = self._call("GET", {"waitseconds": str(wait_seconds)}, ok=(200,))
        if response is None:
            return None
        root = ET.fromstring(response.content)
        handle = root.findtext(f"{MNS_NS}ReceiptHandle") or root.findtext("ReceiptHandle")
        body = root.findtext(f"{MNS_NS}MessageBody") or root.findtext("MessageBody") or ""
        if not handle:
            msg = f"MNS answered a message without a receipt handle: {response.text[:200]}"
            raise SetupError(msg)
        return Message(handle, body)

    def receive_batch(self, count: int, wait_seconds: int, *, peek: bool = False) -> list[Message]:
        """BatchReceiveMessage (or BatchPeekMessage: no handles, nothing changes); MNS
        returns at most 16 a call."""
        query = {"numOfMessages": str(count)}
        query.update({"peekonly": "true"} if peek else {"waitseconds": str(wait_seconds)})
        response = self._call("GET", query, ok=(200,))
        if response is None:
            return []
        root = ET.fromstring(response.content)
        nodes = root.findall(f"{MNS_NS}Message") or root.findall("Message")
        if not nodes and root.tag.endswith("Message"):
            nodes = [root]
        out = []
        for node in nodes:

            def text(tag: str, node: ET.Element = node) -> str | None:
                return node.findtext(f"{MNS_NS}{tag}") or node.findtext(tag)

            enqueued, dequeues = text("EnqueueTime"), text("DequeueCount")
            out.append(
                Message(
                    receipt_handle=text("ReceiptHandle") or "",
                    body=text("MessageBody") or "",
                    message_id=text("MessageId") or "",
                    enqueue_ms=int(enqueued) if enqueued and enqueued.isdigit() else None,
                    dequeue_count=int(dequeues) if dequeues and dequeues.isdigit() else None,
                )
            )
        return out

    def delete(self, message: Message) -> None:
        self._call("DELETE", {"ReceiptHandle": message.receipt_handle}, ok=(204,))

    def release(self, message: Message) -> None:
        """Make a message that is not ours visible again (almost) at once."""
        query = {"receiptHandle": message.receipt_handle, "visibilityTimeout": "1"}
        self._call("PUT", query, ok=(200,))


def _xml_text(content: bytes, tag: str) -> str | None:
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    return root.findtext(f"{MNS_NS}{tag}") or root.findtext(tag)


def mentions(body: str, needle: str) -> bool:
    """Whether a queued message (raw, or base64 as MNS may store it) names `needle`."""
    if needle in body:
        return True
    try:
        decoded = base64.b64decode(body, validate=True).decode("utf-8", "replace")
    except ValueError:
        return False
    return needle in decoded


# ------------------------------------------------------------------ the run


@dataclass
class Report:
    variants: list[dict[str, Any]] = field(default_factory=list)
    latency_s: float | None = None
    dead_letter_s: float | None = None
    cleaned: list[str] = field(default_factory=list)


@dataclass
class Smoke:
    stack: Stack
    oss: Callable[[str], Any]  # bucket name -> oss2.Bucket
    queue: MnsQueue
    run_id: str
    timeout: float = 300
    dlq_timeout: float = 900
    poll: float = 2.0
    say: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    report: Report = field(default_factory=Report)
    _written: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def relative(self) -> str:
        return f"imgpipe-smoke/{self.run_id}/photo.jpg"

    @property
    def failing_relative(self) -> str:
        return f"imgpipe-smoke/{self.run_id}/archived.jpg"

    def run(self) -> Report:
        try:
            photo = make_photo(*photo_size(self.stack.config))
            self._variants(photo)
            self._dead_letter(photo)
        finally:
            self._clean()
        return self.report

    # -- 1-3: the happy path

    def _put(self, bucket: str, key: str, data: bytes, headers: dict[str, str]) -> None:
        result = self.oss(bucket).put_object(key, data, headers=headers)
        self._written.append((bucket, key, getattr(result, "versionid", None)))

    def _variants(self, photo: bytes) -> None:
        stack = self.stack
        key = stack.source_prefix + self.relative
        expected = dict(stack.expected_outputs(self.relative))
        self.say(f"uploading oss://{stack.source_bucket}/{key} ({len(photo)} bytes)")
        start = self.clock()
        self._put(stack.source_bucket, key, photo, {"Content-Type": "image/jpeg"})
        target = self.oss(stack.target_bucket)
        seen: dict[str, tuple[int, str]] = {}
        while True:
            for out_key in expected:
                if out_key not in seen and (info := _head(target, out_key)) is not None:
                    seen[out_key] = info
                    self._written.append((stack.target_bucket, out_key, info[2]))
            elapsed = self.clock() - start
            self.say(f"  {len(seen)}/{len(expected)} variants after {elapsed:.1f} s")
            if len(seen) == len(expected):
                break
            if elapsed >= self.timeout:
                missing = sorted(set(expected) - set(seen))
                msg = (
                    f"{len(missing)} of {len(expected)} variants never appeared in "
                    f"oss://{stack.target_bucket}/ within {self.timeout:.0f} s: "
                    f"{', '.join(missing)}. "
                    "Look at the function's logs (SLS query `message.key: "
                    f'"{key}"`) and its Asynchronous invocations tab.'
                )
                raise SmokeError(msg)
            self.sleep(self.poll)
        self.report.latency_s = round(self.clock() - start, 3)
        for out_key, (size, ctype, _version) in sorted(seen.items()):
            self.report.variants.append({"key": out_key, "bytes": size, "content_type": ctype})
            if size <= 0 or ctype != expected[out_key]:
                msg = (
                    f"oss://{stack.target_bucket}/{out_key}: {size} bytes of {ctype!r}, "
                    f"expected a non-empty {expected[out_key]!r}"
                )
                raise SmokeError(msg)
        self.say(
            f"all {len(expected)} variants in {self.report.latency_s:.1f} s"
            " (upload to last variant)"
        )

    # -- 4: the failure path

    def _dead_letter(self, photo: bytes) -> None:
        stack = self.stack
        key = stack.source_prefix + self.failing_relative
        self.say(
            f"uploading oss://{stack.source_bucket}/{key} as Archive: the function must fail on it"
        )
        start = self.clock()
        headers = {"Content-Type": "image/jpeg", "x-oss-storage-class": "Archive"}
        self._put(stack.source_bucket, key, photo, headers)
        while True:
            remaining = self.dlq_timeout - (self.clock() - start)
            if remaining <= 0:
                msg = (
                    f"the failing upload {key} did not reach the queue {stack.queue_name} within "
                    f"{self.dlq_timeout:.0f} s. If the function's Asynchronous invocations "
                    "tab lists it, FC's async path is retrying it or its on_failure "
                    "destination is wrong "
                    "(alicloud_fcv3_async_invoke_config); if not, the trigger invokes "
                    "synchronously (README, 'Which dead-letter path a deployed stack uses')."
                )
                raise SmokeError(msg)
            message = self.queue.receive(int(max(1, min(remaining, 30))))
            if message is None:
                self.say(f"  waiting for the dead letter, {self.clock() - start:.0f} s")
                continue
            # The whole key, not the run id and the name apart: run `ci-1` must not
            # take run `ci-12`'s letter.
            if mentions(message.body, self.failing_relative):
                self.queue.delete(message)
                self.report.dead_letter_s = round(self.clock() - start, 3)
                self.report.cleaned.append(f"mns://{stack.queue_name} (the smoke test's message)")
                self.say(f"dead-lettered in {self.report.dead_letter_s:.0f} s")
                return
            self.queue.release(message)  # someone else's failure: leave it for them

    # -- 5: leave nothing behind

    def _clean(self) -> None:
        # Variants of the failing upload exist only if the bucket reads Archive
        # objects in real time; remove them too if they do.
        target = self.oss(self.stack.target_bucket)
        leftovers = [k for k, _ in self.stack.expected_outputs(self.failing_relative)]
        # the "ready" manifests the function writes after the variants (issue 25)
        leftovers += [self.stack.manifest_key(r) for r in (self.relative, self.failing_relative)]
        for out_key in leftovers:
            try:
                info = _head(target, out_key)
            except Exception:  # noqa: BLE001 - cleaning must go on
                info = None
            if info is not None:
                self._written.append((self.stack.target_bucket, out_key, info[2]))
        done: set[tuple[str, str]] = set()
        for bucket, key, version in reversed(self._written):
            if (bucket, key) in done:
                continue
            done.add((bucket, key))
            try:
                versions = self._versions(bucket, key) if version else [None]
                for one in versions:
                    self._delete(bucket, key, {"versionId": one} if one else None)
                self.report.cleaned.append(f"oss://{bucket}/{key}")
            except Exception as exc:  # noqa: BLE001 - report every leftover, keep cleaning
                self.say(f"could not delete oss://{bucket}/{key}: {exc}")

    def _versions(self, bucket: str, key: str) -> list[str]:
        """Every version and delete marker of `key` in a versioned bucket.

        Not only the version this run saw: the function may have written a
        variant twice (a retry after a partial success), and in a versioned
        bucket each write is a version of its own (OSS ListObjectVersions,
        paged by key and version-id markers).
        """
        found: list[str] = []
        key_marker = version_marker = ""
        while True:
            page = self.oss(bucket).list_object_versions(
                prefix=key, key_marker=key_marker, versionid_marker=version_marker
            )
            found += [v.versionid for v in (*page.versions, *page.delete_marker) if v.key == key]
            if not page.is_truncated:
                return found
            key_marker, version_marker = page.next_key_marker, page.next_versionid_marker

    def _delete(self, bucket: str, key: str, params: dict[str, str] | None) -> None:
        """DeleteObject, retried on a 5xx, 429 or a broken connection, which OSS
        (and the test's moto server) answer now and then: one such answer must
        not leave a test object behind."""
        import oss2

        for attempt in range(3):
            try:
                self.oss(bucket).delete_object(key, params=params)
                return
            except (oss2.exceptions.ServerError, oss2.exceptions.RequestError) as exc:
                status = getattr(exc, "status", None)
                transient = isinstance(exc, oss2.exceptions.RequestError) or (
                    isinstance(status, int) and (status >= 500 or status == 429)
                )
                if not transient or attempt == 2:
                    raise
                self.sleep(0.5 * (attempt + 1))


def _head(bucket: Any, key: str) -> tuple[int, str, str | None] | None:
    import oss2

    try:
        meta = bucket.head_object(key)
    except oss2.exceptions.NotFound:
        return None
    headers = meta.headers
    return int(meta.content_length or 0), headers.get("Content-Type", ""), meta.versionid


# -------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--outputs", required=True, metavar="FILE", help="`terraform output -json` (- for stdin)"
    )
    p.add_argument(
        "--timeout",
        type=argtypes.number(0, 86_400, above_minimum=True),
        default=300,
        help="seconds to wait for the variants",
    )
    p.add_argument(
        "--dlq-timeout",
        type=argtypes.number(0, 86_400),
        default=900,
        help="seconds to wait for the dead letter",
    )
    p.add_argument(
        "--poll",
        type=argtypes.number(0, 3_600, above_minimum=True),
        default=2.0,
        help="seconds between checks",
    )
    stackoutputs.add_endpoint_arguments(p, "oss", "mns")
    p.add_argument("--run-id", help="names the test objects (default: random)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        stack = Stack.from_outputs(stackoutputs.read(args.outputs))
        creds = Credentials.from_env()
    except (OSError, ValueError, SetupError) as exc:
        print(f"imgpipe smoke: {exc}", file=sys.stderr)
        return 2
    import oss2

    auth = creds.oss_auth()
    oss_endpoint = stackoutputs.oss_endpoint(args.oss_endpoint, stack.region)
    mns_endpoint = stackoutputs.mns_endpoint(args.mns_endpoint, stack.region, stack.account)
    smoke = Smoke(
        stack=stack,
        oss=lambda bucket: oss2.Bucket(auth, oss_endpoint, bucket),
        queue=MnsQueue(mns_endpoint, stack.queue_name, creds),
        run_id=args.run_id or uuid.uuid4().hex[:12],
        timeout=args.timeout,
        dlq_timeout=args.dlq_timeout,
        poll=args.poll,
        say=(lambda line: print(line, file=sys.stderr)) if args.json else print,
    )
    # With --json, stdout carries the report and nothing else: whatever any
    # library prints during the run goes to stderr with the progress lines
    # (a stray line once broke `json.loads` of the output, issue 27).
    keep_stdout = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        with keep_stdout:
            report = smoke.run()
    except (SmokeError, SetupError) as exc:
        print(f"imgpipe smoke: FAILED: {exc}", file=sys.stderr)
        for line in smoke.report.cleaned:
            print(f"  cleaned {line}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - OSS errors: classified, no traceback
        print(f"imgpipe smoke: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.__dict__, indent=2))
    else:
        print(
            f"passed: {len(report.variants)} variants in {report.latency_s:.1f} s; "
            f"failure dead-lettered in {report.dead_letter_s:.0f} s; "
            f"{len(report.cleaned)} items cleaned"
        )
    return 0
