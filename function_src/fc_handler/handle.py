"""What the function does with each object an event names.

Outcomes, one log line each:
- `processed`: every variant written to the target bucket;
- `rejected`: the processor refused the bytes for good (`corrupt`,
  `unsupported`, `too-large`, `empty`); a JSON record is written under
  `REJECTED_PREFIX` in the target bucket and the invocation succeeds, since
  retrying cannot help;
- `ignored`: the event is not for us (not a finished creation, another
  bucket, outside the source prefix, the function's own output, a folder
  marker, an empty or oversized object, an object deleted since);
- `failed`: anything else (network, OSS 5xx, throttling, permissions, a
  bug). After every record has had its turn, the first failure is raised,
  so FC retries the invocation and finally dead-letters it. Records that
  already succeeded are simply redone: the same source gives the same keys.

A failure must not outlive its invocation: the raised exception's traceback
holds the frames that raised it, and those frames hold the source bytes and
the decoded image. Each failure's frames are cleared of their locals as soon
as it is logged (the traceback keeps its file and line numbers, so FC's log
shows the same stack), and the re-raise leaves no reference from this frame
back to the exception, so no reference cycle waits for the garbage collector.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from imgproc import Rejection, output_key, process

from .events import ObjectEvent, parse_event
from .keys import candidates, relative_to
from .logs import emit
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
) -> list[Outcome]:
    """Handle every record of an FC event; raise the first failure at the end."""
    records = parse_event(event)  # EventError propagates: the event is unusable
    outcomes: list[Outcome] = []
    first_error: BaseException | None = None
    for record in records:
        started = time.perf_counter()
        try:
            outcome = handle_record(record, settings, storage, request_id)
        except Exception as exc:  # noqa: BLE001 - logged here, re-raised below
            outcome = Outcome(
                bucket=record.bucket,
                key=record.key,
                outcome="failed",
                reason=type(exc).__name__,
                detail=str(exc)[:500],
                retryable=isinstance(exc, TransientError),
            )
            _release_frames(exc)
            first_error = first_error or exc
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
    if not record.is_object_created:
        return f"not-object-created ({record.event_name})"
    if record.bucket != settings.source_bucket:
        return "other-bucket"
    if not key.startswith(settings.source_prefix):
        return "outside-source-prefix"
    if record.bucket == settings.target_bucket and key.startswith(settings.guarded_prefixes):
        return "own-output"
    if key.endswith("/"):
        return "folder-marker"
    return None


def handle_record(
    record: ObjectEvent, settings: Settings, storage: Storage, request_id: str | None
) -> Outcome:
    def ignored(reason: str, key: str = record.key, size: int | None = record.size) -> Outcome:
        return Outcome(bucket=record.bucket, key=key, outcome="ignored", reason=reason, bytes=size)

    forms = candidates(record.key)
    reasons = [ignore_reason(record, k, settings) for k in forms]
    wanted = [k for k, why in zip(forms, reasons) if why is None]
    if not wanted:
        return ignored(reasons[0] or "ignored")
    # The event's size, when it has one, spares a HEAD; the HEAD's is checked below.
    if record.size is not None and (why := _size_reason(record.size, settings)):
        return ignored(why)

    found = _resolve(storage, record, wanted)
    if found is None:
        return ignored("missing (deleted since the event, or never written)", forms[-1], None)
    key, info = found
    if why := _size_reason(info.size, settings):
        return ignored(why, key, info.size)

    try:
        data = storage.get(record.bucket, key)
    except NotFound:
        return ignored("missing (deleted since the event)", key, info.size)

    relative = relative_to(settings.source_prefix, key)
    try:
        result = process(data, settings.processor)
    except Rejection as rej:
        record_key = _write_rejection(
            storage,
            settings,
            record,
            key=key,
            relative=relative,
            info=info,
            rej=rej,
            request_id=request_id,
        )
        return Outcome(
            bucket=record.bucket,
            key=key,
            outcome="rejected",
            reason=rej.reason,
            detail=rej.detail,
            outputs=(record_key,),
            bytes=len(data),
        )

    metadata = {"source-bucket": record.bucket, "source-key": key, "source-etag": info.etag}
    written = []
    for out in result.outputs:
        out_key = output_key(settings.processor.key_template, relative, out.variant, out.format)
        storage.put(
            settings.target_bucket,
            out_key,
            out.data,
            content_type=out.content_type,
            cache_control=settings.cache_control,
            metadata=metadata,
        )
        written.append(out_key)
    return Outcome(
        bucket=record.bucket,
        key=key,
        outcome="processed",
        outputs=tuple(written),
        bytes=len(data),
        output_bytes=sum(len(o.data) for o in result.outputs),
    )


def _size_reason(size: int, settings: Settings) -> str | None:
    """Why an object of `size` bytes is not worth downloading, or None."""
    if size == 0:
        return "empty-object"
    if size > settings.max_object_bytes:
        return f"too-big (over MAX_OBJECT_BYTES={settings.max_object_bytes})"
    return None


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
    relative: str,
    info: ObjectInfo,
    rej: Rejection,
    request_id: str | None,
) -> str:
    record_key = f"{settings.rejected_prefix}{relative}.json"
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
        metadata={"source-key": key, "source-etag": info.etag},
    )
    return record_key
