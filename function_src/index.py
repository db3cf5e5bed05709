"""Function Compute entry point: `index.handler` (python3.10 or python3.12).

Reads the configuration from the environment once per instance, picks the
storage (OSS with the function role's credentials, or local directories
when `IMGPIPE_LOCAL_BUCKETS` is set by the local tools), and hands the event
to `fc_handler.handle`. The handler raises on anything that is not a
permanent verdict on the input, because FC counts a handler that returns as
a success, whatever it returns: raising is what triggers the async retries
and, after them, the dead-letter queue.
"""

from __future__ import annotations

import os
from typing import Any

from fc_handler.cdn import refresher_from
from fc_handler.handle import handle_event
from fc_handler.settings import VARIABLES, Settings, SettingsError
from fc_handler.storage import LocalStorage, Storage

_cache: dict[tuple[str | None, ...], Settings] = {}


def settings_from_env() -> Settings:
    """Validated settings, cached for as long as the environment is the same."""
    snapshot = tuple(os.environ.get(name) for name in VARIABLES)
    if snapshot not in _cache:
        _cache.clear()
        _cache[snapshot] = Settings.from_env(os.environ)
    return _cache[snapshot]


def storage_for(settings: Settings, context: Any) -> Storage:
    if settings.local_buckets:
        return LocalStorage(settings.local_buckets)
    from fc_handler.storage_oss import (
        OssStorage,
        credentials_auth,
        default_endpoint,
        shared_session,
    )

    region = getattr(context, "region", None) or os.environ.get("FC_REGION", "")
    if not settings.oss_endpoint and not region:
        raise SettingsError("OSS_ENDPOINT is required when the FC region is unknown")
    endpoint = settings.oss_endpoint or default_endpoint(region)
    return OssStorage(credentials_auth(context, os.environ), endpoint, session=shared_session())


def instance_memory_mb(context: Any) -> int | None:
    """The instance's memory in MB, as FC itself knows it, or None.

    From the runtime: `context.function.memory` (python3.10 and python3.12
    both document it), else `FC_FUNCTION_MEMORY_SIZE`, a system variable FC
    sets in every instance. Not a variable Terraform passes: FC's own figure
    is the size the instance is killed at, whoever changed it (a console
    edit, another Terraform run), and FC_* names are reserved to FC.
    None outside FC (the local tools): no memory check.
    """
    for value in (
        getattr(getattr(context, "function", None), "memory", None),
        os.environ.get("FC_FUNCTION_MEMORY_SIZE"),
    ):
        try:
            memory = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if memory > 0:
            return memory
    return None


def handler(event: Any, context: Any) -> dict[str, Any]:
    settings = settings_from_env()
    outcomes = handle_event(
        event,
        settings=settings,
        storage=storage_for(settings, context),
        request_id=getattr(context, "request_id", None),
        memory_mb=instance_memory_mb(context),
        # serving mode cdn: refresh cached copies of rewritten or deleted variants
        refresh=refresher_from(settings.cdn_refresh_domain, settings.cdn_endpoint, context),
    )
    return {"records": [o.log_record(getattr(context, "request_id", None)) for o in outcomes]}
