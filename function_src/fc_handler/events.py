"""Turn what Function Compute hands the handler into typed object records.

Two shapes reach the function: the EventBridge CloudEvent (one object per
invocation; bucket at `data.oss.bucket.name`, key at `data.oss.object.key`)
and the native OSS trigger's `{"events": [...]}` (several records). The
event arrives as bytes on FC's python runtimes; tests and tools may pass a
str or an already-parsed dict. Anything else is an `EventError`, which the
handler raises so the invocation fails visibly (retries, then the
dead-letter queue) instead of being counted as a success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

# Finished-object creations. InitiateMultipartUpload, UploadPart and
# UploadPartCopy also start with "ObjectCreated:" but leave no object yet.
CREATED_EVENTS = frozenset(
    {
        "ObjectCreated:PutObject",
        "ObjectCreated:PostObject",
        "ObjectCreated:CopyObject",
        "ObjectCreated:AppendObject",
        "ObjectCreated:PutSymlink",
        "ObjectCreated:CompleteMultipartUpload",
    }
)


# Deletions the function follows (DELETE_VARIANTS_WITH_SOURCE): one event per
# object, whether it was deleted alone or in a DeleteObjects batch.
REMOVED_EVENTS = frozenset({"ObjectRemoved:DeleteObject", "ObjectRemoved:DeleteObjects"})

# A CloudEvent extension attribute only `imgpipe backfill --force` sets:
# redo the work even when it is current. EventBridge never sends it.
FORCE_ATTRIBUTE = "imgpipeforce"


class EventError(ValueError):
    """The event cannot be understood; raising it makes FC retry / dead-letter."""


@dataclass(frozen=True)
class ObjectEvent:
    event_name: str  # "ObjectCreated:PutObject", without the "oss:" prefix
    bucket: str
    key: str  # as it arrived: maybe URL-encoded (see keys.candidates)
    size: int | None
    etag: str | None
    region: str | None
    event_time: str | None
    force: bool = False

    @property
    def is_object_created(self) -> bool:
        return self.event_name in CREATED_EVENTS

    @property
    def is_object_removed(self) -> bool:
        return self.event_name in REMOVED_EVENTS


def parse_event(event: bytes | bytearray | str | dict[str, Any]) -> list[ObjectEvent]:
    """All object records in an FC event, in order."""
    payload = _load(event)
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        if not payload["events"]:
            raise EventError("native OSS event has an empty 'events' list")
        return [_native_record(r, i) for i, r in enumerate(payload["events"])]
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        return [_cloudevent(payload)]
    keys = sorted(payload)[:10] if isinstance(payload, dict) else type(payload).__name__
    raise EventError(f"unrecognised event shape (top level: {keys})")


def _load(event: Any) -> Any:
    if isinstance(event, dict):
        return event
    if isinstance(event, (bytes, bytearray)):
        try:
            event = bytes(event).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventError(f"event is not UTF-8: {exc}") from None
    if not isinstance(event, str):
        raise EventError(f"event must be bytes, str or dict, got {type(event).__name__}")
    try:
        return json.loads(event)
    except json.JSONDecodeError as exc:
        raise EventError(f"event is not JSON: {exc}") from None


def _cloudevent(ce: dict[str, Any]) -> ObjectEvent:
    data = ce["data"]
    name = data.get("eventName")
    if not isinstance(name, str):
        ce_type = ce.get("type")
        name = ce_type.removeprefix("oss:") if isinstance(ce_type, str) else None
    record = _record(
        name,
        data.get("oss"),
        region=data.get("region") or ce.get("aliyunregionid"),
        event_time=data.get("eventTime") or ce.get("time"),
        where="CloudEvent data",
    )
    if ce.get(FORCE_ATTRIBUTE) in (True, "true"):
        record = replace(record, force=True)
    return record


def _native_record(rec: Any, index: int) -> ObjectEvent:
    if not isinstance(rec, dict):
        raise EventError(f"events[{index}] is not an object")
    return _record(
        rec.get("eventName"),
        rec.get("oss"),
        region=rec.get("region"),
        event_time=rec.get("eventTime"),
        where=f"events[{index}]",
    )


def _record(name: Any, oss: Any, *, region: Any, event_time: Any, where: str) -> ObjectEvent:
    if not isinstance(name, str) or not name:
        raise EventError(f"{where}: no event name")
    if not isinstance(oss, dict):
        raise EventError(f"{where}: no 'oss' object")
    bucket = (oss.get("bucket") or {}).get("name") if isinstance(oss.get("bucket"), dict) else None
    obj = oss.get("object") if isinstance(oss.get("object"), dict) else {}
    key = obj.get("key")
    if not isinstance(bucket, str) or not bucket:
        raise EventError(f"{where}: no oss.bucket.name")
    if not isinstance(key, str) or not key:
        raise EventError(f"{where}: no oss.object.key")
    size = obj.get("size")
    etag = obj.get("eTag")
    return ObjectEvent(
        event_name=name,
        bucket=bucket,
        key=key,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        etag=etag.strip('"').upper() if isinstance(etag, str) and etag else None,
        region=region if isinstance(region, str) else None,
        event_time=event_time if isinstance(event_time, str) else None,
    )
