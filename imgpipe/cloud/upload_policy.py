"""A signed OSS PostObject policy: what lets a browser upload one photo, and no more.

The source bucket is private. A browser gets, from the app's server (or
`imgpipe upload-policy`), an HTML form's fields: a policy document that OSS
enforces and its signature, made with a RAM role's credentials that never
leave the server. OSS checks every condition before it stores a byte:

- `{"bucket": <source bucket>}`: this bucket only;
- `["starts-with", "$key", <prefix>]` (or `["eq", "$key", <key>]`): inside
  the source prefix, under a prefix made for this upload;
- `["content-length-range", 1, <max bytes>]`: not empty and at most
  `max_object_mb`, the size the function accepts (and never over PostObject's
  own 5 GB);
- `["in", "$content-type", [...]]`: a declared type among the image types the
  function processes (`image_suffixes`);
- `["not-in", "$x-oss-object-acl", ["public-read", "public-read-write"]]`:
  the object cannot be made public by a form field;
- `expiration`: minutes, not days.

Sources (OSS documentation, read 2026-12-04):
- PostObject, https://www.alibabacloud.com/help/doc-detail/31988.htm:
  "The size of the object that you want to upload by calling the PostObject
  operation cannot exceed 5 GB"; "the PostObject operation uses an AccessKey
  secret to calculate the signature for the policy form field"; the request
  line is `POST /`, the bucket is the host.
- Policy operators, https://www.alibabacloud.com/help/en/oss/user-guide/0006-00000224:
  `eq` (String), `starts-with` (String), `content-length-range` (two
  integers), `in` and `not-in` (List), e.g. `["in", "$content-type",
  ["image/jpeg", "image/png"]]`.
- `content-length-range` values "must be positive integers, and max-len must
  be greater than or equal to min-len" (0006-00000221).
- A policy needs `expiration` and `conditions` (0006-00000207); an expired
  one is refused with AccessDenied "Invalid according to Policy: Policy
  expired" (https://www.alibabacloud.com/help/en/oss/how-to-handle-common-errors-when-the-postobject-operation-is-called).

Signature version 1: `Signature = base64(hmac-sha1(secret, policy))`, where
`policy` is the base64 of the UTF-8 JSON document, sent with
`OSSAccessKeyId` (and `x-oss-security-token` for STS credentials). OSS also
documents a V4 form (`x-oss-signature-version: OSS4-HMAC-SHA256`); it is
not built here (docs/uploading.md says so).

Pure: no clock, no network, no environment. `imgpipe upload-policy` and the
demo's upload page call it; the local OSS stand-in checks its output
(`imgpipe.cloud.oss_post`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone

# PostObject: "cannot exceed 5 GB" (page above).
MAX_POST_BYTES = 5 * 1024**3

# The declared types a browser may send for each ending the function
# processes (IMAGE_SUFFIXES): the IANA names browsers give these files.
TYPES_BY_SUFFIX: dict[str, tuple[str, ...]] = {
    ".jpg": ("image/jpeg",),
    ".jpeg": ("image/jpeg",),
    ".png": ("image/png",),
    ".webp": ("image/webp",),
    ".gif": ("image/gif",),
    ".tif": ("image/tiff",),
    ".tiff": ("image/tiff",),
    ".bmp": ("image/bmp",),
    ".heic": ("image/heic",),
    ".heif": ("image/heif",),
    ".avif": ("image/avif",),
}

PUBLIC_ACLS = ["public-read", "public-read-write"]


class PolicyError(ValueError):
    """The policy asked for cannot be made; the message says which input is wrong."""


def content_types(suffixes: tuple[str, ...] | list[str]) -> list[str]:
    """The content types a policy allows for these key endings, in order, no repeats.

    An ending with no known image type adds nothing (the function would
    ignore its key anyway); none at all is an error.
    """
    types: list[str] = []
    for suffix in suffixes:
        for t in TYPES_BY_SUFFIX.get(suffix.lower(), ()):
            if t not in types:
                types.append(t)
    if not types:
        raise PolicyError(f"no image content type for the endings {', '.join(suffixes)}")
    return types


def content_type_for(name: str, suffixes: tuple[str, ...] | list[str]) -> str | None:
    """The content type a file named `name` is uploaded with, or None if the
    function would not process that ending."""
    lower = name.lower()
    for suffix in sorted(suffixes, key=len, reverse=True):
        if lower.endswith(suffix.lower()) and suffix.lower() in TYPES_BY_SUFFIX:
            return TYPES_BY_SUFFIX[suffix.lower()][0]
    return None


def iso8601(moment: datetime) -> str:
    """OSS's `expiration` form: UTC, milliseconds, `Z` (the pages' examples)."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def document(
    *,
    bucket: str,
    key_prefix: str,
    max_bytes: int,
    types: list[str],
    expiration: datetime,
    exact_key: bool = False,
) -> dict:
    """The policy document; `exact_key`: the key must equal `key_prefix` (one named object)."""
    if not 1 <= max_bytes <= MAX_POST_BYTES:
        raise PolicyError(f"max bytes {max_bytes}: from 1 to {MAX_POST_BYTES} (PostObject's 5 GB)")
    if not key_prefix or key_prefix.startswith("/"):
        raise PolicyError(f"key prefix {key_prefix!r}: not empty, no leading '/'")
    if not types:
        raise PolicyError("at least one content type")
    key_rule = ["eq", "$key", key_prefix] if exact_key else ["starts-with", "$key", key_prefix]
    return {
        "expiration": iso8601(expiration),
        "conditions": [
            {"bucket": bucket},
            key_rule,
            ["content-length-range", 1, max_bytes],
            ["in", "$content-type", list(types)],
            ["not-in", "$x-oss-object-acl", PUBLIC_ACLS],
        ],
    }


def encode(doc: dict) -> str:
    """The `policy` form field: base64 of the document's UTF-8 JSON."""
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode("utf-8")).decode()


def sign(secret: str, policy_b64: str) -> str:
    """The V1 `Signature` form field: base64(hmac-sha1(secret, policy))."""
    digest = hmac.new(secret.encode(), policy_b64.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Form:
    """Everything a browser needs to POST one upload."""

    url: str  # the bucket's URL: https://<bucket>.oss-<region>.aliyuncs.com
    fields: dict[str, str]  # in the order they go in the form; `file` goes last
    key_prefix: str
    max_bytes: int
    content_types: list[str]
    expiration: str
    policy: dict

    def as_json(self) -> dict:
        return {
            "url": self.url,
            "fields": self.fields,
            "key_prefix": self.key_prefix,
            "max_bytes": self.max_bytes,
            "content_types": self.content_types,
            "expiration": self.expiration,
            "policy": self.policy,
        }


def form(
    *,
    url: str,
    bucket: str,
    key_prefix: str,
    max_bytes: int,
    types: list[str],
    expiration: datetime,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None = None,
    exact_key: bool = False,
) -> Form:
    """The signed form. The `key` field is `key_prefix${filename}` (OSS puts the
    file's name in its place) unless `exact_key`; the browser adds
    `Content-Type` (one of `types`) and then `file`, last."""
    doc = document(
        bucket=bucket,
        key_prefix=key_prefix,
        max_bytes=max_bytes,
        types=types,
        expiration=expiration,
        exact_key=exact_key,
    )
    policy_b64 = encode(doc)
    fields = {
        "key": key_prefix if exact_key else key_prefix + "${filename}",
        "OSSAccessKeyId": access_key_id,
        "policy": policy_b64,
        "Signature": sign(access_key_secret, policy_b64),
        "success_action_status": "200",
    }
    if security_token:
        fields["x-oss-security-token"] = security_token
    return Form(
        url=url,
        fields=fields,
        key_prefix=key_prefix,
        max_bytes=max_bytes,
        content_types=list(types),
        expiration=doc["expiration"],
        policy=doc,
    )


def bucket_url(bucket: str, endpoint: str) -> str:
    """The form's action: virtual-hosted `https://<bucket>.<endpoint host>`, or,
    for an IP endpoint (a local stand-in), path-style `http://<ip:port>/<bucket>`."""
    scheme, _, host = endpoint.partition("://")
    if not host:
        scheme, host = "https", endpoint
    host = host.rstrip("/")
    name = host.split(":")[0]
    if name.replace(".", "").isdigit() or name == "localhost":
        return f"{scheme}://{host}/{bucket}"
    return f"{scheme}://{bucket}.{host}"
