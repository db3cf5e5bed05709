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

The MNS client is `imgpipe.cloud.mns` (the documented REST API).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import oss2
from PIL import Image, ImageDraw

from imgpipe import argtypes, flags
from imgpipe.cloud import outputs
from imgpipe.cloud.credentials import Credentials
from imgpipe.cloud.errors import SetupError
from imgpipe.cloud.mns import MnsQueue, mentions
from imgpipe.cloud.stack import QUEUE_OUTPUTS, Stack
from imgproc.config import Config
from imgproc.keys import CONTENT_TYPES


class SmokeError(Exception):
    """The deployed pipeline did not do what it must; the message says where to look."""


def make_photo(width: int, height: int) -> bytes:
    """A deterministic JPEG photo-like image: gradients and shapes, no randomness."""
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
        expected = {k: CONTENT_TYPES[fmt] for k, _, fmt in stack.outputs(key).variants}
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
        failing = self.stack.source_prefix + self.failing_relative
        leftovers = list(self.stack.outputs(failing).variant_keys)
        # the "ready" manifests the function writes after the variants (issue 25)
        leftovers += [
            self.stack.outputs(self.stack.source_prefix + r).ready
            for r in (self.relative, self.failing_relative)
        ]
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
    try:
        meta = bucket.head_object(key)
    except oss2.exceptions.NotFound:
        return None
    headers = meta.headers
    return int(meta.content_length or 0), headers.get("Content-Type", ""), meta.versionid


# -------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    flags.add_outputs(p)
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
    flags.add_endpoint_arguments(p, "oss", "mns")
    p.add_argument("--run-id", help="names the test objects (default: random)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        stack = Stack.from_outputs(outputs.read(args.outputs), QUEUE_OUTPUTS)
        creds = Credentials.from_env()
    except (OSError, ValueError, SetupError) as exc:
        print(f"imgpipe smoke: {exc}", file=sys.stderr)
        return 2
    auth = creds.oss_auth()
    oss_endpoint = outputs.oss_endpoint(args.oss_endpoint, stack.region)
    mns_endpoint = outputs.mns_endpoint(args.mns_endpoint, stack.region, stack.account)
    smoke = Smoke(
        stack=stack,
        oss=lambda bucket: oss2.Bucket(auth, oss_endpoint, bucket),
        queue=MnsQueue(mns_endpoint, str(stack.queue_name), creds),
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
