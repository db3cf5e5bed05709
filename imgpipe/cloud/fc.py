"""Invoking the function: FC 3.0 (`FcInvoker`) or the real handler in-process
(`LocalInvoker`), the same call for both: `invoker(payload) -> request id`,
raising `InvokeError` with `retryable` when the invocation was not accepted.

`object_event` builds the CloudEvent EventBridge delivers for an upload, so
a command that invokes for a listed object sends what the trigger would.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fc_handler.events import FORCE_ATTRIBUTE
from imgpipe.cloud.errors import InvokeError
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.localfc import invoke
from imgpipe.cloud.objects import Listed
from imgpipe.cloud.stack import Stack


def object_event(stack: Stack, item: Listed, *, force: bool = False) -> dict[str, Any]:
    """The CloudEvent EventBridge delivers for the upload of `item`."""
    event = cloudevent(
        stack.source_bucket, item.key, b"", region=stack.region, account=stack.account
    )
    obj = event["data"]["oss"]["object"]
    obj.update(size=item.size, deltaSize=item.size, eTag=item.etag)
    if force:
        event[FORCE_ATTRIBUTE] = "true"
    return event


def _sdk() -> SimpleNamespace:
    """Alibaba's FC 3.0 SDK, imported on first use.

    The one lazy import of the local tools: it takes 0.32 s (`python -X
    importtime -c "import alibabacloud_fc20230330.client"`), which the demo
    and every local run, never calling FC, would otherwise pay.
    """
    from alibabacloud_fc20230330 import client, models
    from alibabacloud_tea_openapi import exceptions, utils_models
    from darabonba import runtime

    return SimpleNamespace(
        Client=client.Client,
        Config=utils_models.Config,
        models=models,
        AlibabaCloudException=exceptions.AlibabaCloudException,
        RuntimeOptions=runtime.RuntimeOptions,
    )


class FcInvoker:
    """FC 3.0 InvokeFunction, asynchronous, through Alibaba's SDK.

    One SDK client per thread (the SDK keeps connection state). FC answers
    an accepted asynchronous invocation with 202. 429 and 5xx are retryable,
    and so is no answer at all (the SDK's UnretryableException is a network
    error or a timeout, retryable for us); any other 4xx is not.
    """

    def __init__(
        self,
        function_name: str,
        *,
        region: str,
        credentials: Any,
        endpoint: str | None = None,
        qualifier: str = "LATEST",
        timeout_s: float = 10.0,
    ) -> None:
        self.function_name = function_name
        self.region = region
        self.credentials = credentials
        self.endpoint = endpoint
        self.qualifier = qualifier
        self.timeout_ms = int(timeout_s * 1000)
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            sdk = _sdk()
            protocol, host = "https", self.endpoint
            if host and "://" in host:
                protocol, host = host.split("://", 1)
            config = sdk.Config(
                access_key_id=self.credentials.access_key_id,
                access_key_secret=self.credentials.access_key_secret,
                security_token=self.credentials.security_token,
                region_id=self.region,
                endpoint=host.rstrip("/") if host else None,
                protocol=protocol,
            )
            client = self._local.client = sdk.Client(config)
        return client

    def __call__(self, payload: bytes) -> str:
        sdk = _sdk()
        runtime = sdk.RuntimeOptions(
            autoretry=False, read_timeout=self.timeout_ms, connect_timeout=self.timeout_ms
        )
        try:
            response = self._client().invoke_function_with_options(
                self.function_name,
                sdk.models.InvokeFunctionRequest(body=payload, qualifier=self.qualifier),
                sdk.models.InvokeFunctionHeaders(x_fc_invocation_type="Async"),
                runtime,
            )
        except sdk.AlibabaCloudException as exc:
            status = getattr(exc, "status_code", None) or 0
            retryable = status == 429 or status >= 500
            raise InvokeError(f"HTTP {status} {exc.code}", retryable=retryable) from None
        except Exception as exc:  # noqa: BLE001 - the SDK's network errors have no common base
            text = str(exc)[:200]
            raise InvokeError(f"no answer: {type(exc).__name__}: {text}", retryable=True) from None
        if response.status_code != 202:
            msg = f"HTTP {response.status_code} (an asynchronous invocation is accepted with 202)"
            raise InvokeError(msg, retryable=response.status_code >= 500)
        return str((response.headers or {}).get("x-fc-request-id", ""))


class LocalInvoker:
    """The real handler in-process against local buckets, as `imgpipe invoke` runs it.

    Synchronous where FC is asynchronous, so a local run also does the work;
    its log lines are appended to `log` (the demo's `function.log`). A
    handler that raises is retryable, as FC would retry it.
    """

    def __init__(self, buckets: Path, environment: Mapping[str, str], log: Path) -> None:
        self.buckets = buckets
        self.environment = dict(environment)
        self.log = log

    def __call__(self, payload: bytes) -> str:
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            result = invoke(payload, self.buckets, env=self.environment)
        with self.log.open("a") as fh:
            fh.write(captured.getvalue())
        if result.raised:
            msg = f"handler raised {type(result.error).__name__}: {result.error}"
            raise InvokeError(msg, retryable=True)
        return result.request_id
