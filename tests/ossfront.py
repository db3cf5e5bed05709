"""OSS in front of moto's S3 server: OSS V1 signatures checked, S3 named.

The tests that need a full object store (versions, listings, metadata) run
the real oss2 client against moto's S3 server. moto decides which of its
services a request is for by reading the `Authorization` header as AWS
SigV4 (`Credential=key/date/region/service/aws4_request`, split on "/").
An OSS header, `OSS key:base64(hmac-sha1)`, is not that shape; but when the
base64 signature holds exactly four "/", the split yields five parts and
moto invents a service and host from pieces of the signature, prints
"Unable to find appropriate backend for ..." to stdout and answers 500
(moto 5.2.5, `moto/moto_server/werkzeug_app.py`, `infer_service_region_host`
and `get_backend_for_host`). That happened to about one request in 1,400,
enough to fail a smoke test run now and then (issue 27).

`OssFront` removes the cause: it checks each OSS-signed request's signature
with the documented V1 algorithm (a wrong secret or a mis-signed header is
a 403 here, as on OSS) and then hands moto the request with an
`Authorization` that names S3 plainly, so moto never reads an OSS signature.
Requests signed for AWS (the tests' boto3 client) pass unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from oss2.auth import ProviderAuth

from imgpipe.cloud.standin import oss_error

# Which query parameters are part of the signed resource. OSS's page lists
# examples, not all of them; the Python SDK's set is the one our requests are
# signed with (oss2 2.16.0, oss2/auth.py line 79, `_subresource_key_set`).
SUBRESOURCES = frozenset(ProviderAuth._subresource_key_set)

# What moto is told instead of the OSS header: a SigV4 credential scope that
# names S3 in us-east-1 (moto's default region); moto checks no signature.
AS_S3 = (
    "AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def canonical_resource(raw_path: str, query: Iterable[tuple[str, str]]) -> str:
    """`/bucket/key` (decoded, as stored) plus the signed subresources, sorted,
    `k=v` or a bare `k` for an empty value (path-style: oss2 uses it for an IP)."""
    signed = sorted((k, v) for k, v in query if k in SUBRESOURCES)
    tail = "&".join(f"{k}={v}" if v else k for k, v in signed)
    return unquote(raw_path) + (f"?{tail}" if tail else "")


def signature(secret: str, method: str, headers: Mapping[str, str], resource: str) -> str:
    """OSS V1: base64(hmac-sha1(secret, VERB \\n Content-MD5 \\n Content-Type \\n
    Date \\n CanonicalizedOSSHeaders + CanonicalizedResource)).

    "Include a V1 signature in the Authorization header",
    https://www.alibabacloud.com/help/en/oss/developer-reference/include-signatures-in-the-authorization-header
    (`headers` keys in any case; x-oss-date wins over Date, as the page says).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    oss = "".join(f"{k}:{lower[k]}\n" for k in sorted(k for k in lower if k.startswith("x-oss-")))
    date = lower.get("x-oss-date") or lower.get("date", "")
    text = "\n".join(
        [method, lower.get("content-md5", ""), lower.get("content-type", ""), date, oss + resource]
    )
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _headers(environ: Mapping[str, object]) -> dict[str, str]:
    """The request's headers from a WSGI environ, lower-case names."""
    headers = {
        k[5:].lower().replace("_", "-"): str(v) for k, v in environ.items() if k.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


def _raw_path(environ: Mapping[str, object]) -> tuple[str, str]:
    """(path, query) as the client sent them: WSGI's PATH_INFO is already
    decoded (as latin-1), the raw URI is not."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if raw:
        url = urlsplit(raw)
        return url.path, url.query
    path = str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8")
    return path, str(environ.get("QUERY_STRING", ""))


class OssFront:
    """A WSGI app: OSS-signed requests checked and passed to moto as S3."""

    def __init__(self, app: Callable, key_id: str, secret: str) -> None:
        self.app, self.key_id, self.secret = app, key_id, secret
        self.lock = threading.Lock()
        self.bad_signatures = 0
        self.signatures: list[str] = []  # every OSS signature accepted, in order

    def __call__(self, environ: dict, start_response: Callable):
        auth = str(environ.get("HTTP_AUTHORIZATION", ""))
        if auth.startswith("OSS "):
            path, query = _raw_path(environ)
            resource = canonical_resource(path, parse_qsl(query, keep_blank_values=True))
            headers = _headers(environ)
            expected = signature(self.secret, environ["REQUEST_METHOD"], headers, resource)
            with self.lock:
                if auth != f"OSS {self.key_id}:{expected}":
                    self.bad_signatures += 1
                    status, reply_headers, body = oss_error(403, "SignatureDoesNotMatch")
                    reply_headers["Content-Length"] = str(len(body))
                    start_response(f"{status} Forbidden", list(reply_headers.items()))
                    return [body]
                self.signatures.append(expected)
            environ["HTTP_AUTHORIZATION"] = AS_S3.format(key=self.key_id)
        return self.app(environ, start_response)
