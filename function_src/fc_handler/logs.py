"""One structured JSON line per object, written to stdout.

FC ships stdout to the function's SLS logstore; a JSON line per object lets
users query outcomes (`outcome: rejected`, `reason: corrupt`) without
parsing prose. Field names are an interface: dashboards and alerts key on
them.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

FIELDS = ("request_id", "bucket", "key", "outcome", "reason", "outputs", "bytes", "ms")


def emit(record: dict[str, Any], stream: TextIO | None = None) -> None:
    line = {name: record.get(name) for name in FIELDS}
    line.update({k: v for k, v in record.items() if k not in line})
    print(json.dumps(line, ensure_ascii=False, default=str), file=stream or sys.stdout, flush=True)
