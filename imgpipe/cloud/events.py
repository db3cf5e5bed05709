"""Events shaped as OSS and EventBridge send them, for local runs and tests.

The shapes follow `tests/data/events/event-samples.json` (copied from
Alibaba Cloud's documentation and devsapp/fc3): the EventBridge CloudEvent
for an OSS upload, and the native OSS trigger's `{"events": [...]}`.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from typing import Any

LOCAL_ACCOUNT = "1234567890123456"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _oss_block(bucket: str, key: str, data: bytes, region: str, account: str) -> dict[str, Any]:
    return {
        "bucket": {
            "name": bucket,
            "arn": f"acs:oss:{region}:{account}:{bucket}",
            "virtualBucket": "",
            "ownerIdentity": account,
        },
        "ossSchemaVersion": "1.0",
        "object": {
            "size": len(data),
            "objectMeta": {"mimeType": "application/octet-stream"},
            "deltaSize": len(data),
            "eTag": hashlib.md5(data).hexdigest().upper(),
            "key": key,
        },
    }


def cloudevent(
    bucket: str,
    key: str,
    data: bytes,
    *,
    api: str = "PutObject",
    region: str = "cn-hangzhou",
    account: str = LOCAL_ACCOUNT,
) -> dict[str, Any]:
    """What EventBridge delivers to the function for one OSS object event."""
    now = _now()
    event_name = api if ":" in api else f"ObjectCreated:{api}"
    return {
        "datacontenttype": "application/json;charset=utf-8",
        "aliyunaccountid": account,
        "data": {
            "eventVersion": "1.0",
            "responseElements": {"requestId": uuid.uuid4().hex[:24].upper()},
            "eventSource": "acs:oss",
            "eventTime": now,
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "eventName": event_name,
            "userIdentity": {"principalId": account},
            "region": region,
            "oss": _oss_block(bucket, key, data, region, account),
        },
        "subject": f"acs:oss:{region}:{account}:{bucket}/{key}",
        "aliyunoriginalaccountid": account,
        "source": "acs.oss",
        "type": f"oss:{event_name}",
        "aliyunpublishtime": now,
        "specversion": "1.0",
        "aliyuneventbusname": "default",
        "id": uuid.uuid4().hex,
        "time": now,
        "aliyunregionid": region,
    }


def native_event(
    records: list[tuple[str, str, bytes]],
    *,
    api: str = "PutObject",
    region: str = "cn-hangzhou",
    account: str = LOCAL_ACCOUNT,
) -> dict[str, Any]:
    """The native OSS trigger's event: several (bucket, key, data) records."""
    event_name = api if ":" in api else f"ObjectCreated:{api}"
    return {
        "events": [
            {
                "eventName": event_name,
                "eventSource": "acs:oss",
                "eventTime": _now(),
                "eventVersion": "1.0",
                "oss": {**_oss_block(bucket, key, data, region, account), "ruleId": "local"},
                "region": region,
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"requestId": uuid.uuid4().hex[:24].upper()},
                "userIdentity": {"principalId": account},
            }
            for bucket, key, data in records
        ]
    }
