"""OSS through oss2, with errors sorted into missing, transient and the rest.

Imported only when the function talks to OSS: `import oss2` costs about
250 ms, which the local tools and most tests need not pay.

How an OSS answer is sorted (tests/test_storage_oss.py drives each over HTTP):

- `NotFound`: 404 (NoSuchKey, NoSuchBucket). The handler logs `ignored`.
- `TransientError`: no answer (connection refused, timeout), a body cut
  short or failing its CRC-64, 429, 5xx, and the codes in `_TRANSIENT_CODES`
  whatever the status. The handler logs `failed`, `retryable: true`.
- `StorageError`, everything else, notably 403 AccessDenied and 409: a
  deployment problem (the role lost a grant, a KMS key denies, a retention
  policy forbids the overwrite) that a retry seconds later will not fix.
  Never `NotFound`: the handler logs `failed`, `retryable: false`, and
  raises like for the transient ones, so FC still retries and then
  dead-letters the event, to be replayed once the policy is fixed.

A HEAD answer has no body, so for HEAD only the status counts.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import quote, unquote

import oss2
import requests
from oss2 import exceptions as oss_errors

from .storage import NotFound, ObjectInfo, StorageError, TransientError

# OSS error codes that mean "try again later" whatever the HTTP status.
_TRANSIENT_CODES = {
    "Throttling",
    "RequestTimeout",
    "ServiceUnavailable",
    "InternalError",
    "SlowDown",
    # 403s that a retry can fix: FC hands a retry fresh STS credentials, and
    # a clock skew is the client's and passes.
    "SecurityTokenExpired",
    "RequestTimeTooSkewed",
}


def credentials_auth(context: Any, env: dict[str, str] | os._Environ[str]) -> Any:
    """oss2 auth from FC's context (python3.10) or the environment (python3.12).

    FC hands out temporary STS credentials of the function's role; the
    python3.12 runtime has no `context.credentials` and sets
    `ALIBABA_CLOUD_ACCESS_KEY_ID`, `..._SECRET` and `..._SECURITY_TOKEN`.
    """
    creds = getattr(context, "credentials", None)
    if creds is not None and getattr(creds, "access_key_id", None):
        key_id = creds.access_key_id
        secret = creds.access_key_secret
        token = getattr(creds, "security_token", None)
    else:
        key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
        secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN")
    if not key_id or not secret:
        raise StorageError(
            "no credentials: neither context.credentials nor ALIBABA_CLOUD_ACCESS_KEY_ID/"
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET are set (is the function's role attached?)"
        )
    return oss2.StsAuth(key_id, secret, token) if token else oss2.Auth(key_id, secret)


def default_endpoint(region: str) -> str:
    """The region's internal endpoint: free traffic, no public network."""
    return f"https://oss-{region}-internal.aliyuncs.com"


_META = "x-oss-meta-"


_session: oss2.Session | None = None
_session_lock = threading.Lock()


def shared_session() -> oss2.Session:
    """One HTTP session (connection pool) per instance, for every invocation.

    oss2 gives each `Bucket` a new `Session` unless it is handed one, so every
    invocation opened its own TCP (and TLS) connections: about 7 per upload.
    The pool outlives the invocation; the credentials do not (each
    invocation's `OssStorage` carries that invocation's STS token). requests'
    session and urllib3's pool are safe to share between threads (the PUTs
    run in parallel); creating it is guarded so two threads make one.
    """
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                _session = oss2.Session()
    return _session


class OssStorage:
    def __init__(
        self,
        auth: Any,
        endpoint: str,
        *,
        connect_timeout: float = 10,
        session: oss2.Session | None = None,
    ) -> None:
        self.auth = auth
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.session = session
        self._buckets: dict[str, oss2.Bucket] = {}

    def _bucket(self, name: str) -> oss2.Bucket:
        if name not in self._buckets:
            self._buckets[name] = oss2.Bucket(
                self.auth,
                self.endpoint,
                name,
                connect_timeout=self.connect_timeout,
                session=self.session,
            )
        return self._buckets[name]

    def head(self, bucket: str, key: str) -> ObjectInfo:
        with _mapped(bucket, key):
            meta = self._bucket(bucket).head_object(key)
            metadata = {
                name[len(_META) :].lower(): unquote(value)
                for name, value in meta.headers.items()
                if name.lower().startswith(_META)
            }
            return ObjectInfo(
                size=int(meta.content_length),
                etag=meta.etag.strip('"').upper(),
                metadata=metadata,
            )

    def get(self, bucket: str, key: str, *, first: int = 0, last: int | None = None) -> bytes:
        """The object, or bytes `first`-`last` of it (inclusive; `last` None: to the end).

        OSS answers a range past the object's end with the whole object
        (200, not 416): the caller sees more bytes than it asked for and
        knows it has them all.
        """
        byte_range = None if first == 0 and last is None else (first, last)
        with _mapped(bucket, key):
            return self._bucket(bucket).get_object(key, byte_range=byte_range).read()

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        headers = {"Content-Type": content_type}
        if cache_control:
            headers["Cache-Control"] = cache_control
        for name, value in (metadata or {}).items():
            # HTTP headers are latin-1: percent-encode so unicode keys survive.
            headers[f"{_META}{name}"] = quote(value, safe="/:=@,;+ ")
        with _mapped(bucket, key):
            self._bucket(bucket).put_object(key, data, headers=headers)

    def delete(self, bucket: str, key: str) -> None:
        """DeleteObject: OSS answers 204 whether or not the key existed."""
        with _mapped(bucket, key):
            self._bucket(bucket).delete_object(key)


class _mapped:
    """Translate oss2's exceptions into the storage vocabulary."""

    def __init__(self, bucket: str, key: str) -> None:
        self.where = f"oss://{bucket}/{key}"

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        if isinstance(exc, (oss_errors.NoSuchKey, oss_errors.NotFound)):
            raise NotFound(self.where) from exc
        if isinstance(exc, oss_errors.RequestError):  # no HTTP response at all
            raise TransientError(f"{self.where}: network error: {exc}") from exc
        if isinstance(exc, requests.RequestException):  # the body broke off or stalled
            raise TransientError(f"{self.where}: network error reading the body: {exc}") from exc
        if isinstance(exc, oss_errors.InconsistentError):  # CRC-64 of the body mismatched
            raise TransientError(f"{self.where}: body failed its CRC-64 check") from exc
        if isinstance(exc, oss_errors.OssError):
            status = getattr(exc, "status", 0) or 0
            code = getattr(exc, "code", "") or ""
            detail = f"{self.where}: HTTP {status} {code} {getattr(exc, 'message', '')}".strip()
            if status == 404:
                raise NotFound(self.where) from exc
            if status >= 500 or status == 429 or code in _TRANSIENT_CODES:
                raise TransientError(detail) from exc
            raise StorageError(detail) from exc
        return False
