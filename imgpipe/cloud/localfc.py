"""`imgpipe invoke`: the real FC handler on an event, against local buckets.

The function's own entry point (`index.handler`) runs unchanged; only the
storage differs: `IMGPIPE_LOCAL_BUCKETS` makes it read and write
`DIR/<bucket>/<key>` instead of OSS. The context mimics FC's (request id,
region, account, function name, memory, timeout; no credentials, which
local storage does not need).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FunctionMeta:
    name: str = "imgpipe-local"
    handler: str = "index.handler"
    memory: int = 512
    timeout: int = 60


@dataclass(frozen=True)
class FcContext:
    """The attributes of FC's python context that the handler may read."""

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "cn-hangzhou"
    account_id: str = "1234567890123456"
    credentials: Any = None
    function: FunctionMeta = field(default_factory=FunctionMeta)


@dataclass
class InvokeResult:
    request_id: str
    result: Any = None
    error: BaseException | None = None

    @property
    def raised(self) -> bool:
        return self.error is not None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request_id": self.request_id,
            "status": "raised" if self.raised else "ok",
        }
        if self.error is not None:
            out["error_type"] = type(self.error).__name__
            out["error"] = str(self.error)
        else:
            out["records"] = (self.result or {}).get("records", [])
        return out


@contextlib.contextmanager
def environment(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def invoke(
    event: bytes, buckets: Path, env: Mapping[str, str] | None = None, region: str | None = None
) -> InvokeResult:
    """Run `index.handler(event, context)` once; never raises what it raised."""
    import index  # function_src/index.py, on sys.path through `import imgpipe`

    context = FcContext(region=region or os.environ.get("FC_REGION", "cn-hangzhou"))
    overrides = {**(env or {}), "IMGPIPE_LOCAL_BUCKETS": str(Path(buckets).resolve())}
    with environment(overrides):
        try:
            return InvokeResult(context.request_id, result=index.handler(event, context))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, as FC would
            return InvokeResult(context.request_id, error=exc)
