"""A stand-in for CDN's RefreshObjectCaches: signature checked, limits kept, calls recorded.

The demo's day two refreshes through it (a replaced source, serving mode cdn), and
the tests (tests/test_cdn_refresh.py).

An HTTP server on 127.0.0.1 (the `Server` of imgpipe/standin.py, like the
other stand-ins) that answers the one action the function calls, the way
the CDN API documents it, and keeps every accepted call in `refreshed` so a
test can say which URLs the function refreshed, and which it did not.

What it checks, each refused the way the API refuses it:
- the RPC signature, version 1, recomputed here from the documented
  algorithm ("Request syntax and signature method V2 for RPC APIs":
  StringToSign = METHOD & %2F & percentEncode(sorted, encoded query),
  key = secret + "&", HMAC-SHA1, base64), not from fc_handler.cdn: a wrong
  secret or a mis-encoded parameter is a 400 SignatureDoesNotMatch; an
  unknown key is InvalidAccessKeyId.NotFound; a reused nonce is
  SignatureNonceUsed; an STS key without its token is
  InvalidSecurityToken.Missing;
- Action, Version, ObjectType (File); Format JSON, SignatureMethod HMAC-SHA1,
  SignatureVersion 1.0, a form body, and a Timestamp (ISO 8601, UTC) within
  15 minutes of now;
- at most 1,000 URLs per call ("Each request supports up to 1,000 URL refresh
  requests", RefreshObjectCaches, CDN API reference, 2026-06-29);
- every URL on the domain it serves (InvalidDomain.NotFound otherwise);
- the daily quota, 10,000 URLs per account by default (same page), smaller
  here when a test asks: QuotaExceeded.Refresh.

`fail_next(status, code, times)` makes the next calls fail (throttling,
5xx) before any check, as the real API does under load. The error codes the
stand-in answers with are its own choice where the page lists none; the
function classifies by HTTP status and code prefix (fc_handler/cdn.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlsplit

from imgpipe.cloud.standin import Request, Server

MAX_URLS = 1000
DAILY_QUOTA = 10_000


@dataclass(frozen=True)
class RefreshCall:
    urls: tuple[str, ...]
    key_id: str
    token: str | None


def _encode(value: str) -> str:
    # RFC 3986 unreserved characters stay; everything else %XY (upper case).
    return "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_.~") else quote(ch, safe="")
        for ch in value
    )


def expected_signature(secret: str, method: str, params: dict[str, str]) -> str:
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))
    text = "&".join([method, _encode("/"), _encode(query)])
    return base64.b64encode(
        hmac.new((secret + "&").encode(), text.encode(), hashlib.sha1).digest()
    ).decode()


def _recent(stamp: str, minutes: int = 15) -> bool:
    """An ISO 8601 UTC `Timestamp` (2026-12-04T12:00:00Z) within `minutes` of now."""
    try:
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    return abs(datetime.now(timezone.utc) - when) <= timedelta(minutes=minutes)


class CdnStandIn(Server):
    def __init__(
        self,
        domain: str,
        keys: dict[str, str],
        *,
        sts_keys: frozenset[str] = frozenset(),
        daily_quota: int = DAILY_QUOTA,
    ) -> None:
        super().__init__()
        self.domain, self.keys, self.sts_keys = domain, keys, sts_keys
        self.remaining = daily_quota
        self.refreshed: list[RefreshCall] = []
        self.refused: list[str] = []  # the code of every refused call, in order
        self._nonces: set[str] = set()
        self._failures: list[tuple[int, str]] = []

    def fail_next(self, status: int, code: str, times: int = 1) -> None:
        self._failures += [(status, code)] * times

    @property
    def urls(self) -> list[str]:
        return [u for call in self.refreshed for u in call.urls]

    def _error(self, status: int, code: str, message: str = "") -> tuple[int, dict, bytes]:
        self.refused.append(code)
        body = {"RequestId": "stand-in", "HostId": "cdn.aliyuncs.com", "Code": code}
        body["Message"] = message or code
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            if self._failures:
                return self._error(*self._failures.pop(0))
            params = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
            params.update(req.query)
            given = params.pop("Signature", "")
            key_id = params.get("AccessKeyId", "")
            if key_id not in self.keys:
                return self._error(404, "InvalidAccessKeyId.NotFound")
            if given != expected_signature(self.keys[key_id], req.method, params):
                return self._error(400, "SignatureDoesNotMatch")
            if key_id in self.sts_keys and not params.get("SecurityToken"):
                return self._error(400, "InvalidSecurityToken.Missing")
            nonce = params.get("SignatureNonce", "")
            if not nonce or nonce in self._nonces:
                return self._error(400, "SignatureNonceUsed")
            self._nonces.add(nonce)
            if (params.get("Action"), params.get("Version")) != (
                "RefreshObjectCaches",
                "2018-05-10",
            ):
                return self._error(400, "InvalidAction.NotFound")
            if req.headers.get("content-type") != "application/x-www-form-urlencoded":
                return self._error(400, "MissingObjectPath")  # the form was not read
            signing = (params.get("SignatureMethod"), params.get("SignatureVersion"))
            if signing != ("HMAC-SHA1", "1.0") or params.get("Format") != "JSON":
                return self._error(400, "InvalidParameter", f"{signing} {params.get('Format')}")
            if not _recent(params.get("Timestamp", "")):
                return self._error(400, "InvalidTimeStamp.Expired")
            if params.get("ObjectType", "File") != "File":
                return self._error(400, "InvalidObjectType.ValueNotSupported")
            urls = [u for u in params.get("ObjectPath", "").replace("\r\n", "\n").split("\n") if u]
            if not urls or len(urls) > MAX_URLS:
                return self._error(400, "InvalidObjectPath.Malformed", f"{len(urls)} URLs")
            if any(urlsplit(u).hostname != self.domain for u in urls):
                return self._error(400, "InvalidDomain.NotFound")
            if len(urls) > self.remaining:
                return self._error(400, "QuotaExceeded.Refresh", "daily URL quota")
            self.remaining -= len(urls)
            self.refreshed.append(RefreshCall(tuple(urls), key_id, params.get("SecurityToken")))
            task = str(len(self.refreshed) + 1000)
            body = json.dumps({"RequestId": "stand-in", "RefreshTaskId": task}).encode()
            return 200, {"Content-Type": "application/json"}, body
