"""What the function does with each object an event names.

Outcomes, one log line each (`outcomes.py` says each once, for the docs'
table and `imgpipe process`):
- `processed`: every variant written to the target bucket;
- `current`: the work is already done for this exact object (its ETag) and
  configuration (its fingerprint): every variant, or the rejection record,
  carries both (`fc_handler.current`). Nothing is downloaded or written. A
  duplicate delivery, a retry after a partial success and a backfill racing
  a new upload all end here. `imgpipe backfill --force` sets the event's
  `imgpipeforce` attribute to redo the work anyway;
- `deleted`: the source was deleted (`ObjectRemoved:DeleteObject` or
  `DeleteObjects`) and is still gone, so its variants and rejection record
  are deleted too (`DELETE_VARIANTS_WITH_SOURCE`, default true). Only the
  keys the *current* configuration names: variants of a variant removed
  from the configuration since stay (docs/day-two.md);
- `rejected`: the processor refused the bytes for good (`corrupt`,
  `unsupported`, `too-large`, `empty`), or the object is over
  `MAX_OBJECT_BYTES` (`too-large`, never downloaded); a JSON record is written under
  `REJECTED_PREFIX` in the target bucket and the invocation succeeds, since
  retrying cannot help. Variants of an earlier image under the same key are
  deleted (an image overwritten by a non-image), and a processed image's
  stale rejection record likewise (DELETE_VARIANTS_WITH_SOURCE);
- `ignored`: the event is not for us (not a finished creation, a deletion
  when deletions are not followed or whose object exists again, another
  bucket, outside the source prefix, a key without an image ending
  (IMAGE_SUFFIXES, any case: the event pattern cannot filter endings), the
  function's own output, a folder marker, an object deleted since);
- `failed`: anything else (network, OSS 5xx, throttling, permissions, a
  bug). After every record has had its turn, the first failure is raised,
  so FC retries the invocation and finally dead-letters it. Records that
  already succeeded are simply redone: the same source gives the same keys.

Requests to OSS, each a round trip the instance is billed for while it
waits (docs/cost.md): the source HEAD is skipped when the event gives the
object's size and ETag and its key decodes one way only (OSS events do; a
HEAD would tell nothing new, and an object deleted since is found by the
GET); the current check's two HEADs, made at once (`current.check_outputs`); one
GET, or for an object over `HEADER_BYTES` two: its header first, which
may get it refused without downloading the rest (`_download`); the
variants' PUTs in parallel (`PUT_WORKERS` at a time; the encoded outputs
are already in memory, so the pool adds no copies); then the "ready"
manifest's PUT, after every variant (`manifest.py`): four round trips in a
row for a new upload. The header's GET goes out with the two HEADs, so an
upload over `HEADER_BYTES` makes 11 requests in those 4.
A PUT that fails still fails the invocation, after the
others have finished: a half-written set is never "current", because the
check wants every variant stamped with this ETag and fingerprint, so the
retry redoes the work.

A failure must not outlive its invocation: the raised exception's traceback
holds the frames that raised it, and those frames hold the source bytes and
the decoded image. Each failure's frames are cleared of their locals as soon
as it is logged (the traceback keeps its file and line numbers, so FC's log
shows the same stack), and the re-raise leaves no reference from this frame
back to the exception, so no reference cycle waits for the garbage collector.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from imgproc import Rejection, admit, allocator, process
from imgproc.errors import TOO_LARGE

from . import manifest
from .current import Check, check_outputs, outputs_for, stamp
from .events import ObjectEvent, parse_event
from .keys import candidates
from .logs import emit
from .outcomes import CURRENT, DELETED, FAILED, IGNORED, PROCESSED, REJECTED
from .settings import Settings
from .storage import NotFound, ObjectInfo, Storage, TransientError


@dataclass
class Outcome:
    bucket: str
    key: str
    outcome: str
    reason: str | None = None
    detail: str | None = None
    outputs: tuple[str, ...] = ()
    bytes: int | None = None
    output_bytes: int | None = None
    ms: float = 0.0
    retryable: bool | None = None
    decoder: str | None = None  # processed only: "libvips" or "pillow"
    # Serving (docs/serving.md): keys whose earlier copies were overwritten or
    # deleted, so cached copies are stale; and what the CDN refresh of them did.
    stale: tuple[str, ...] | None = None
    cdn_refresh: dict[str, Any] | None = None

    def log_record(self, request_id: str | None) -> dict[str, Any]:
        record = {"request_id": request_id, **self.__dict__, "outputs": list(self.outputs)}
        return {k: v for k, v in record.items() if v is not None or k in ("reason", "bytes")}


def handle_event(
    event: Any,
    *,
    settings: Settings,
    storage: Storage,
    request_id: str | None,
    log: Callable[[dict[str, Any]], None] = emit,
    memory_mb: int | None = None,
    refresh: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Handle every record of an FC event; raise the first failure at the end.

    `memory_mb`: the instance's memory (`index.instance_memory_mb`); uploads
    that would not fit are rejected as `too-large` (`imgproc.memory`).
    `refresh`: the CDN refresh of an outcome's stale keys (`cdn.Refresher`,
    which never raises), or None when no CDN serves the variants.
    """
    records = parse_event(event)  # EventError propagates: the event is unusable
    outcomes: list[Outcome] = []
    first_error: BaseException | None = None
    for record in records:
        started = time.perf_counter()
        try:
            outcome = handle_record(record, settings, storage, request_id, memory_mb)
        except Exception as exc:  # noqa: BLE001 - logged here, re-raised below
            outcome = Outcome(
                bucket=record.bucket,
                key=record.key,
                outcome=FAILED,
                reason=type(exc).__name__,
                detail=str(exc)[:500],
                retryable=isinstance(exc, TransientError),
            )
            _release_frames(exc)
            first_error = first_error or exc
        allocator.release()  # a warm instance's heap must not grow (imgproc.allocator)
        if refresh is not None and outcome.stale:  # serving: cached copies (cdn.py)
            refresh(outcome)
        outcome.ms = round((time.perf_counter() - started) * 1000, 1)
        log(outcome.log_record(request_id))
        outcomes.append(outcome)
    if first_error is not None:
        try:
            raise first_error
        finally:
            # The traceback will hold this frame; without this the frame would
            # hold the exception back: a cycle only the collector could free.
            first_error = None
    return outcomes


def _release_frames(exc: BaseException) -> None:
    """Drop the locals of every finished frame `exc` and its chain refer to.

    Its type, message and the traceback's lines stay as they are; what goes
    is what the frames held: the object's bytes, the decoded image, the
    encoded variants. Frames still running (this one) are left alone.
    """
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        err = pending.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        traceback.clear_frames(err.__traceback__)
        pending += [err.__cause__, err.__context__]


def ignore_reason(record: ObjectEvent, key: str, settings: Settings) -> str | None:
    """Why an event for `key` is not for this function, or None."""
    if record.is_object_removed:
        if not settings.delete_variants_with_source:
            return f"deletions-not-followed ({record.event_name})"
    elif not record.is_object_created:
        return f"not-object-created ({record.event_name})"
    if record.bucket != settings.source_bucket:
        return "other-bucket"
    if not key.startswith(settings.source_prefix):
        return "outside-source-prefix"
    if record.bucket == settings.target_bucket and key.startswith(settings.guarded_prefixes):
        return "own-output"
    if key.endswith("/"):
        return "folder-marker"
    if not settings.is_image_key(key):
        return "not-an-image-suffix"
    return None


def handle_record(
    record: ObjectEvent,
    settings: Settings,
    storage: Storage,
    request_id: str | None,
    memory_mb: int | None = None,
) -> Outcome:
    def ignored(reason: str, key: str = record.key, size: int | None = record.size) -> Outcome:
        return Outcome(bucket=record.bucket, key=key, outcome=IGNORED, reason=reason, bytes=size)

    forms = candidates(record.key)
    reasons = [ignore_reason(record, k, settings) for k in forms]
    wanted = [k for k, why in zip(forms, reasons) if why is None]
    if not wanted:
        return ignored(reasons[0] or "ignored")
    if record.is_object_removed:
        return _follow_deletion(record, wanted, settings, storage)
    # An empty object is not ignored: the processor rejects it as `empty`,
    # with a record, as `imgpipe process` and the docs say (outcomes.py).

    found = _from_event(record, wanted) or _resolve(storage, record, wanted)
    if found is None:
        return ignored("missing (deleted since the event, or never written)", forms[-1], None)
    key, info = found

    # The header's GET goes out with the current check's HEADs (one round
    # trip for all three); a duplicate delivery wasted its 256 KiB.
    header = None
    if HEADER_BYTES < info.size <= settings.max_object_bytes:
        header = _InBackground(lambda: storage.get(record.bucket, key, last=HEADER_BYTES - 1))
    try:
        return _after_header(
            record,
            key,
            info,
            header=header,
            settings=settings,
            storage=storage,
            request_id=request_id,
            memory_mb=memory_mb,
        )
    finally:
        if header is not None:
            header.close()


def _after_header(
    record: ObjectEvent,
    key: str,
    info: ObjectInfo,
    *,
    header: _InBackground | None,
    settings: Settings,
    storage: Storage,
    request_id: str | None,
    memory_mb: int | None,
) -> Outcome:
    # Every key this source may have, once: checked, written, deleted, reported.
    outputs = outputs_for(settings.processor, settings.source_prefix, settings.rejected_prefix, key)
    # Forced (backfill --force): nothing is known, so every stale key is deleted.
    done = Check(None, variants_exist=True, rejection_exists=True)
    if not record.force:
        done = check_outputs(
            storage,
            target_bucket=settings.target_bucket,
            outputs=outputs,
            config=settings.processor,
            etag=info.etag,
        )
        if done.outputs is not None:
            if done.variants_exist and not done.rejection_exists:  # manifest.py: heal a lost one
                manifest.ensure(storage, settings, key, info, outputs)
            return Outcome(
                bucket=record.bucket,
                key=key,
                outcome=CURRENT,
                outputs=done.outputs,
                bytes=info.size,
            )

    def rejected(rej: Rejection) -> Outcome:
        _write_rejection(
            storage,
            settings,
            record,
            key=key,
            record_key=outputs.rejection,
            info=info,
            rej=rej,
            request_id=request_id,
        )
        stale = None
        if settings.delete_variants_with_source and done.variants_exist:  # image -> non-image
            stale = outputs.variant_keys
            for stale_key in stale:
                storage.delete(settings.target_bucket, stale_key)
            storage.delete(settings.target_bucket, outputs.ready)
        return Outcome(
            bucket=record.bucket,
            key=key,
            outcome=REJECTED,
            reason=rej.reason,
            detail=rej.detail,
            outputs=(outputs.rejection,),
            bytes=info.size,
            stale=stale,
        )

    if info.size > settings.max_object_bytes:
        mib = settings.max_object_bytes / 2**20
        return rejected(
            Rejection(
                TOO_LARGE,
                f"{info.size} bytes, over MAX_OBJECT_BYTES={settings.max_object_bytes} "
                f"({mib:g} MiB, variable max_object_mb): not downloaded",
            )
        )
    try:
        data = _download(
            storage,
            record.bucket,
            key,
            size=info.size,
            header=header,
            settings=settings,
            memory_mb=memory_mb,
        )
        result = process(data, settings.processor, memory_mb=memory_mb)
    except NotFound:
        return Outcome(
            bucket=record.bucket,
            key=key,
            outcome="ignored",
            reason="missing (deleted since the event)",
            bytes=info.size,
        )
    except Rejection as rej:
        return rejected(rej)

    metadata = stamp(record.bucket, key, info.etag, settings.processor)
    written = [outputs.key_for(out.variant, out.format) for out in result.outputs]
    _put_all(
        storage,
        settings.target_bucket,
        [(out_key, out.data, out.content_type) for out_key, out in zip(written, result.outputs)],
        cache_control=settings.cache_control,
        metadata=metadata,
    )
    if settings.delete_variants_with_source and done.rejection_exists:  # non-image -> image
        storage.delete(settings.target_bucket, outputs.rejection)
    # last, after every variant's PUT succeeded (manifest.py)
    manifest.write(
        storage, settings, key, info, outputs=outputs, written=list(zip(written, result.outputs))
    )
    return Outcome(
        bucket=record.bucket,
        key=key,
        outcome=PROCESSED,
        outputs=tuple(written),
        bytes=len(data),
        output_bytes=sum(len(o.data) for o in result.outputs),
        decoder=result.decoder,
        stale=tuple(written) if done.variants_exist else None,  # a replaced source
    )


# The first GET of an upload asks for this many bytes: every header the
# pipeline reads before decoding (PNG's IHDR; a JPEG's markers up to its
# frame header, phone EXIF and ICC profiles included) is in them, and a
# smaller object comes whole in one request.
HEADER_BYTES = 256 * 1024


def _download(
    storage: Storage,
    bucket: str,
    key: str,
    *,
    size: int,
    header: _InBackground | None,
    settings: Settings,
    memory_mb: int | None,
) -> bytes:
    """The object's bytes, unless its header alone gets it refused.

    The first GET asks for `HEADER_BYTES`; `imgproc.admit` refuses from them
    what is not an image, has too many pixels or would not fit in memory
    (raising `Rejection`), and only an accepted upload's remaining bytes are
    fetched. A 100 MP PNG that is refused costs 256 KiB of transfer, not its
    30 MiB. One request more than a single GET for an accepted upload larger
    than `HEADER_BYTES`.
    """
    if header is None:
        return storage.get(bucket, key)
    head = header.result()
    admit(head, size, settings.processor, memory_mb=memory_mb)
    if len(head) >= size:  # the store sent it all (a range it did not honour)
        return head
    rest = storage.get(bucket, key, first=len(head))
    data = head + rest
    del head, rest
    return data


class _InBackground:
    """`fn()` running in another thread; `result` waits for it and returns its
    value or raises its error, `close` waits so no request outlives the
    invocation's work."""

    def __init__(self, fn: Callable[[], bytes]) -> None:
        self._fn = fn
        self._value: bytes | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for it
            self._error = exc

    def result(self) -> bytes:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        value, self._value = self._value, None  # the caller holds the only reference
        assert value is not None
        return value

    def close(self) -> None:
        self._thread.join()
        self._value = self._error = None


PUT_WORKERS = 6  # the default six variants in one wave; OSS takes thousands of PUTs a second


def _put_all(
    storage: Storage,
    bucket: str,
    items: list[tuple[str, bytes, str]],
    *,
    cache_control: str | None,
    metadata: dict[str, str],
) -> None:
    """PUT every (key, data, content type) at once; raise the first failure after all end.

    Waiting for every PUT before raising means no write is still in flight
    when the invocation reports its failure (FC may start the retry at once).
    """

    def put(item: tuple[str, bytes, str]) -> None:
        key, data, content_type = item
        storage.put(
            bucket,
            key,
            data,
            content_type=content_type,
            cache_control=cache_control,
            metadata=metadata,
        )

    if len(items) <= 1:
        for item in items:
            put(item)
        return
    with ThreadPoolExecutor(max_workers=min(PUT_WORKERS, len(items))) as pool:
        futures = [pool.submit(put, item) for item in items]
    errors = [f.exception() for f in futures]
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        try:
            raise first
        finally:
            first = errors = None  # no cycle through this frame (see the module docstring)


def _from_event(record: ObjectEvent, keys: list[str]) -> tuple[str, ObjectInfo] | None:
    """The object as the event describes it, when that is unambiguous: no HEAD needed.

    Only for one candidate key (a key with `%` or `+` could name two objects,
    and the HEADs' ETags pick between them) and an event that carries both
    size and ETag. If the object changed since, its own event follows and the
    variants written now, stamped with this ETag, are stale to it.
    """
    if len(keys) != 1 or record.size is None or not record.etag:
        return None
    return keys[0], ObjectInfo(size=record.size, etag=record.etag)


def _resolve(
    storage: Storage, record: ObjectEvent, keys: list[str]
) -> tuple[str, ObjectInfo] | None:
    """The existing key among `keys`, preferring the one with the event's ETag."""
    existing: list[tuple[str, ObjectInfo]] = []
    for key in keys:
        try:
            info = storage.head(record.bucket, key)
        except NotFound:
            continue
        if record.etag and info.etag == record.etag:
            return key, info
        existing.append((key, info))
    return existing[0] if existing else None


def _write_rejection(
    storage: Storage,
    settings: Settings,
    record: ObjectEvent,
    *,
    key: str,
    record_key: str,
    info: ObjectInfo,
    rej: Rejection,
    request_id: str | None,
) -> None:
    body = {
        "bucket": record.bucket,
        "key": key,
        "etag": info.etag,
        "size": info.size,
        "event": record.event_name,
        "reason": rej.reason,
        "detail": rej.detail,
        "retryable": False,
        "request_id": request_id,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    storage.put(
        settings.target_bucket,
        record_key,
        json.dumps(body, ensure_ascii=False, indent=2).encode(),
        content_type="application/json",
        metadata=stamp(record.bucket, key, info.etag, settings.processor),
    )


def _follow_deletion(
    record: ObjectEvent, keys: list[str], settings: Settings, storage: Storage
) -> Outcome:
    """Delete the outputs of every form of the key that is gone from the source.

    A form that exists again (uploaded after the deletion, whose own event
    makes its variants anew) keeps its outputs: deleting them would race the
    new upload's processing.
    """
    gone = []
    for key in keys:
        try:
            storage.head(record.bucket, key)
        except NotFound:
            gone.append(key)
    if not gone:
        return Outcome(
            bucket=record.bucket,
            key=keys[0],
            outcome=IGNORED,
            reason="source-exists (uploaded again since the deletion)",
        )
    removed: list[str] = []
    stale: list[str] = []  # the variants; a rejection record is not served
    for key in gone:
        outputs = outputs_for(
            settings.processor, settings.source_prefix, settings.rejected_prefix, key
        )
        for out_key in outputs.all_keys:
            storage.delete(settings.target_bucket, out_key)
            removed.append(out_key)
        stale += outputs.variant_keys
    return Outcome(
        bucket=record.bucket,
        key=gone[0],
        outcome=DELETED,
        outputs=tuple(removed),
        stale=tuple(stale),
    )
