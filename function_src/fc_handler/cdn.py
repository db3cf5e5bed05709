"""CDN cache refresh for the variants the function rewrote or deleted.

In the `cdn` serving mode (docs/serving.md) a CDN domain serves the target
bucket, and its points of presence keep each variant for the `max-age` of
`CACHE_CONTROL` (a day by default). When a source is replaced (its variants
are rewritten under the same keys) or deleted (they are deleted), the cached
copies are stale; the handler hands the keys it overwrote or deleted
(`Outcome.stale`) to `Refresher`, which asks CDN's RefreshObjectCaches to
drop exactly those URLs. `CDN_REFRESH_DOMAIN` empty (the `none` and
`signed_url` modes) means no refresher at all.

Standard library only (the function's package stays small and this runs on
python3.10 and 3.12): an RPC-style request signed with signature version 1
(HMAC-SHA1), with the same STS credentials of the function's role that OSS
gets (`storage_oss.credentials_auth` reads them from the FC context or the
environment; `credentials` below does the same without oss2).

RefreshObjectCaches' documented limits (CDN API reference, "RefreshObjectCaches",
https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-refreshobjectcaches,
updated 2026-06-29; the same in the Chinese page help.aliyun.com/document_detail/91164.html):
"By default, each account can commit up to 10,000 URL refresh requests and 100
folder refresh requests per day"; "Each request supports up to 1,000 URL refresh
requests" (每次请求最多支持提交 1000 条 URL 刷新); "单个域名每分钟最多支持提交
10000 条 URL 刷新" (10,000 URLs a minute per domain); "Maximum number of calls per
user per second: 50". A record's stale keys (variants x formats) are batched
`MAX_URLS_PER_CALL` at a time; the daily quota cannot be batched around:
docs/serving.md says what it allows (1,666 replaced or deleted sources a day with
the default six outputs).

A refresh that fails never fails the invocation (docs/serving.md, "Fresh
after a change"): the variants are written and correct in the bucket, and a
retry of the invocation would find them current and not refresh again, so
raising would only dead-letter a good event. Instead the object's log line
carries `cdn_refresh` with its own `outcome` (`refreshed`, `throttled`,
`quota-exceeded`, `denied`, `rejected`, `unavailable`), the code and whether
a later try can help; a throttled or unavailable call is tried once more
after a short pause first. The stale copy otherwise lives out its max-age.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

ENDPOINT = "https://cdn.aliyuncs.com"
API_VERSION = "2018-05-10"
MAX_URLS_PER_CALL = 1000  # "Each request supports up to 1,000 URL refresh requests"
DAILY_URL_QUOTA = 10_000  # "up to 10,000 URL refresh requests ... per day" (per account)

# What each answer means for the log line (`cdn_refresh.outcome`).
REFRESHED = "refreshed"
THROTTLED = "throttled"  # Throttling*, 429: a later try helps
QUOTA_EXCEEDED = "quota-exceeded"  # the day's URL quota is spent: tomorrow helps
DENIED = "denied"  # 403, signature or credentials: the role needs cdn:RefreshObjectCaches
REJECTED = "rejected"  # other 4xx: a malformed path, a domain that is not the account's
UNAVAILABLE = "unavailable"  # no answer, timeouts, 5xx: a later try helps

RETRYABLE = frozenset({THROTTLED, UNAVAILABLE})


@dataclass(frozen=True)
class Credentials:
    key_id: str
    secret: str
    token: str | None = None


def credentials(context: Any, env: Mapping[str, str]) -> Credentials | None:
    """The function role's STS credentials, as `storage_oss.credentials_auth` finds them:
    `context.credentials` (python3.10), else `ALIBABA_CLOUD_*` (python3.12)."""
    creds = getattr(context, "credentials", None)
    if creds is not None and getattr(creds, "access_key_id", None):
        return Credentials(
            creds.access_key_id, creds.access_key_secret, getattr(creds, "security_token", None)
        )
    key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if not key_id or not secret:
        return None
    return Credentials(key_id, secret, env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None)


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the RPC signature wants it: only A-Z a-z 0-9 - _ . ~ stay
    (a space is %20, `*` is %2A, `~` is kept), UTF-8 bytes as %XY in upper case."""
    return quote(value, safe="~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """`METHOD&%2F&percent_encode(canonicalized query)`, parameters sorted by name."""
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Signature version 1: base64(HMAC-SHA1(secret + "&", string_to_sign))."""
    text = string_to_sign(method, params)
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_params(
    action: str,
    params: Mapping[str, str],
    creds: Credentials,
    *,
    now: datetime | None = None,
    nonce: str | None = None,
    method: str = "POST",
) -> dict[str, str]:
    """The common parameters, the action's own, and their `Signature`."""
    now = now or datetime.now(timezone.utc)
    signed = {
        "Action": action,
        "Version": API_VERSION,
        "Format": "JSON",
        "AccessKeyId": creds.key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **params,
    }
    if creds.token:
        signed["SecurityToken"] = creds.token
    signed["Signature"] = signature(creds.secret, method, signed)
    return signed


class RefreshError(Exception):
    """A RefreshObjectCaches call that did not succeed, classified."""

    def __init__(self, outcome: str, code: str, detail: str) -> None:
        super().__init__(f"{outcome}: {code} {detail}".strip())
        self.outcome, self.code, self.detail = outcome, code, detail

    @property
    def retryable(self) -> bool:
        return self.outcome in RETRYABLE


def classify(status: int, code: str) -> str:
    """The outcome of an error answer, from its HTTP status and `Code`."""
    if code.startswith("Throttling") or status == 429:
        return THROTTLED
    if "quota" in code.lower():
        return QUOTA_EXCEEDED
    if status >= 500 or code in ("ServiceUnavailable", "InternalError"):
        return UNAVAILABLE
    if status == 403 or code.startswith(("Forbidden", "NoPermission", "InvalidAccessKeyId")):
        return DENIED
    if code in ("SignatureDoesNotMatch", "IncompleteSignature") or code.startswith(
        "InvalidSecurityToken"
    ):
        return DENIED
    return REJECTED


class CdnClient:
    """RefreshObjectCaches over HTTPS (or the tests' stand-in, tests/cdnfront.py)."""

    def __init__(self, creds: Credentials, endpoint: str = ENDPOINT, timeout: float = 5.0) -> None:
        self.creds, self.endpoint, self.timeout = creds, endpoint.rstrip("/"), timeout

    def refresh_object_caches(self, urls: list[str]) -> str:
        """Refresh these URLs (at most MAX_URLS_PER_CALL); the RefreshTaskId."""
        if not urls or len(urls) > MAX_URLS_PER_CALL:
            raise ValueError(f"1 to {MAX_URLS_PER_CALL} URLs per call, got {len(urls)}")
        params = signed_params(
            "RefreshObjectCaches", {"ObjectPath": "\n".join(urls), "ObjectType": "File"}, self.creds
        )
        request = urllib.request.Request(
            self.endpoint + "/",
            data=urlencode(params, quote_via=quote).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = _json(response.read())
        except urllib.error.HTTPError as exc:
            answer = _json(exc.read())
            code = str(answer.get("Code", ""))
            raise RefreshError(
                classify(exc.code, code), code, f"HTTP {exc.code} {answer.get('Message', '')}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out
            raise RefreshError(UNAVAILABLE, "", f"no answer: {exc}") from None
        task = body.get("RefreshTaskId")
        if not task:
            raise RefreshError(UNAVAILABLE, "", f"no RefreshTaskId in the answer: {body}")
        return str(task)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def object_urls(domain: str, keys: Iterable[str]) -> list[str]:
    """The URL of each key on the CDN domain, the path percent-encoded as a browser
    sends it (docs/serving.md: apps build variant URLs the same way). `http://`, the
    form of the API's own example ("http://example.com/image/1.png")."""
    return [f"http://{domain}/{quote(key, safe='/')}" for key in keys]


def batches(urls: list[str], size: int = MAX_URLS_PER_CALL) -> list[list[str]]:
    return [urls[i : i + size] for i in range(0, len(urls), size)]


class Refresher:
    """Refreshes an outcome's stale keys and records the result on it (`cdn_refresh`).

    Never raises: a refresh is a courtesy to caches, not part of the work
    (the module docstring says why). One more try, after `pause` seconds,
    for a throttled or unavailable call.
    """

    def __init__(
        self,
        client: CdnClient,
        domain: str,
        *,
        pause: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client, self.domain, self.pause, self.sleep = client, domain, pause, sleep

    def __call__(self, outcome: Any) -> None:
        outcome.cdn_refresh = self.refresh(outcome.stale or ())

    def refresh(self, keys: Iterable[str]) -> dict[str, Any]:
        urls = object_urls(self.domain, keys)
        tasks: list[str] = []
        done = 0
        try:
            for batch in batches(urls):
                tasks.append(self._call(batch))
                done += len(batch)
        except RefreshError as exc:
            return {
                "outcome": exc.outcome,
                "code": exc.code,
                "detail": exc.detail[:300],
                "retryable": exc.retryable,
                "urls": len(urls),
                "refreshed": done,
            }
        except Exception as exc:  # noqa: BLE001 - a bug here must not fail good work
            return {"outcome": UNAVAILABLE, "code": type(exc).__name__, "detail": str(exc)[:300]}
        return {"outcome": REFRESHED, "urls": len(urls), "tasks": tasks}

    def _call(self, batch: list[str]) -> str:
        try:
            return self.client.refresh_object_caches(batch)
        except RefreshError as exc:
            if not exc.retryable:
                raise
        (self.sleep or time.sleep)(self.pause)
        return self.client.refresh_object_caches(batch)


def refresher_from(domain: str, endpoint: str, context: Any, env: Mapping[str, str] | None = None):
    """The handler's `refresh` hook for `CDN_REFRESH_DOMAIN`, or None when it is empty.

    Without credentials (a local run) the hook records `denied` on each outcome
    rather than failing the invocation.
    """
    if not domain:
        return None
    creds = credentials(context, os.environ if env is None else env)
    if creds is None:
        creds = Credentials("", "")
    return Refresher(CdnClient(creds, endpoint or ENDPOINT), domain)
