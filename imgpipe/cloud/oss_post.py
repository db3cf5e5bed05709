"""OSS's side of a PostObject: read the form, check the signature and every
policy condition, or refuse with the error OSS answers.

The local stand-in (`imgpipe.cloud.upload_standin`) calls `check` on each browser
upload, so the demo's upload page is held to the same rules a deployed
bucket holds it to, and the tests can show that a request outside the
policy is refused and nothing is written. Written from OSS's documents
(the pages `imgpipe.cloud.upload_policy` cites), not from `upload_policy`'s
code: the two meet only in the form's bytes.

Errors (status, code, message):
- a body that is not multipart/form-data, or without a `file` field last:
  400 MalformedPOSTRequest ("The body of your POST request is not
  well-formed multipart/form-data");
- an unknown `OSSAccessKeyId`, or an STS key without its token: 403
  InvalidAccessKeyId;
- a `Signature` that is not base64(hmac-sha1(secret, policy)): 403
  SignatureDoesNotMatch;
- a policy that is not base64 JSON with `expiration` and `conditions`, or
  with an operator OSS does not have: 400 InvalidPolicyDocument;
- an expired policy: 403 AccessDenied "Invalid according to Policy: Policy
  expired.";
- a condition that fails: 403 AccessDenied "Invalid according to Policy:
  Policy Condition failed: <the condition>";
- a file outside `content-length-range`, or over PostObject's 5 GB: 400
  EntityTooLarge (OSS EC 0006-00000003) or EntityTooSmall (EC
  0006-00000004). OSS's pages give these ECs but not the code's name: the
  names are the ones S3 answers for the same condition.

Decisions where OSS's pages are silent, each the stricter reading:
- `$content-type` is checked against the type the object would be stored
  with: `x-oss-content-type`, else the `Content-Type` field, else the file
  part's own (the priority the PostObject page gives);
- `$key` is checked after `${filename}` is replaced by the file's name;
- a missing field fails `eq`, `starts-with` and `in`, and passes `not-in`;
- field names are matched without regard to case.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP

MAX_POST_BYTES = 5 * 1024**3  # PostObject: "cannot exceed 5 GB"
OPERATORS = ("eq", "starts-with", "in", "not-in", "content-length-range")


class PostRefused(Exception):
    """OSS refuses the upload: `status`, `code` and `message` as OSS answers them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Upload:
    """An accepted upload: what to store."""

    key: str
    data: bytes
    content_type: str
    success_status: int
    metadata: dict[str, str]  # x-oss-meta-* without the prefix


@dataclass(frozen=True)
class Credential:
    secret: str
    security_token: str | None = None  # STS credentials come with one


def _malformed() -> PostRefused:
    return PostRefused(
        400,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data",
    )


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]  # lower-case names; the first value of each
    filename: str
    file_type: str | None
    data: bytes


def parse(content_type: str, body: bytes) -> Form:
    """The form's fields and its `file`, which must be the last field."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise _malformed()
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise _malformed()
    fields: dict[str, str] = {}
    parts = list(message.iter_parts())
    if not parts:
        raise _malformed()
    for i, part in enumerate(parts):
        disposition = part.get("Content-Disposition", "")
        name = part.get_param("name", header="content-disposition")
        if not disposition.startswith("form-data") or not isinstance(name, str):
            raise _malformed()
        payload = part.get_payload(decode=True) or b""
        if name.lower() == "file":
            if i != len(parts) - 1:
                raise _malformed()  # "The file must be the last field"
            filename = part.get_filename() or ""
            file_type = part.get("Content-Type") if "content-type" in part else None
            return Form(fields, filename, file_type, payload)
        fields.setdefault(name.lower(), payload.decode("utf-8", errors="replace"))
    raise _malformed()


def _decode_policy(policy_b64: str) -> dict:
    try:
        doc = json.loads(base64.b64decode(policy_b64, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: not base64 JSON") from None
    if not isinstance(doc, dict) or "expiration" not in doc or "conditions" not in doc:
        msg = "Invalid Policy: expiration and conditions are required"
        raise PostRefused(400, "InvalidPolicyDocument", msg)
    if not isinstance(doc["conditions"], list):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: conditions is a list")
    return doc


def _expiration(text: object) -> datetime:
    try:
        moment = datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        try:
            moment = datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            msg = f"Invalid Policy: expiration {text!r} is not ISO 8601 GMT"
            raise PostRefused(400, "InvalidPolicyDocument", msg) from None
    return moment.replace(tzinfo=timezone.utc)


def _failed(condition: object) -> PostRefused:
    text = json.dumps(condition, separators=(",", ":"))
    msg = f"Invalid according to Policy: Policy Condition failed: {text}"
    return PostRefused(403, "AccessDenied", msg)


def _check_condition(condition: object, values: Mapping[str, str], size: int) -> None:
    if isinstance(condition, dict):
        if len(condition) != 1:
            msg = "Invalid Policy: Invalid Simple-Condition: exactly one property"
            raise PostRefused(400, "InvalidPolicyDocument", msg)
        ((name, want),) = condition.items()
        if values.get(str(name).lower()) != want:
            raise _failed(condition)
        return
    if not isinstance(condition, list) or not condition or condition[0] not in OPERATORS:
        msg = f"Invalid Policy: unknown condition {condition!r}"
        raise PostRefused(400, "InvalidPolicyDocument", msg)
    op = condition[0]
    if op == "content-length-range":
        if len(condition) != 3 or not all(isinstance(n, int) for n in condition[1:]):
            msg = "Invalid Policy: content-length-range takes two integers"
            raise PostRefused(400, "InvalidPolicyDocument", msg)
        low, high = condition[1], condition[2]
        if size > high:
            msg = f"Your proposed upload exceeds the maximum allowed size ({size} > {high})"
            raise PostRefused(400, "EntityTooLarge", msg)
        if size < low:
            msg = f"Your proposed upload is smaller than the minimum allowed size ({size} < {low})"
            raise PostRefused(400, "EntityTooSmall", msg)
        return
    if len(condition) != 3 or not isinstance(condition[1], str):
        raise PostRefused(400, "InvalidPolicyDocument", f"Invalid Policy: {condition!r}")
    field, want = condition[1].lstrip("$").lower(), condition[2]
    if op in ("in", "not-in") and not isinstance(want, list):
        msg = f"Invalid Policy: {op} takes a list, got {want!r}"
        raise PostRefused(400, "InvalidPolicyDocument", msg)
    have = values.get(field)
    ok = {
        "eq": lambda: have == want,
        "starts-with": lambda: have is not None and have.startswith(str(want)),
        "in": lambda: have in want,
        "not-in": lambda: have is None or have not in want,
    }[op]()
    if not ok:
        raise _failed(condition)


def _signature(secret: str, policy_b64: str) -> str:
    digest = hmac.new(secret.encode(), policy_b64.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def check(
    form: Form,
    *,
    bucket: str,
    credentials: Mapping[str, Credential],
    now: datetime,
) -> Upload:
    """The upload `form` asks for, if OSS would accept it; else `PostRefused`."""
    f = form.fields
    key_id, policy_b64, signature = f.get("ossaccesskeyid"), f.get("policy"), f.get("signature")
    if not policy_b64 or not key_id or not signature:
        # the bucket is private: an unsigned (anonymous) POST is refused
        raise PostRefused(403, "AccessDenied", "You have no right to access this object.")
    credential = credentials.get(key_id)
    if credential is None or (
        credential.security_token is not None
        and f.get("x-oss-security-token") != credential.security_token
    ):
        msg = "The OSS Access Key Id you provided does not exist in our records."
        raise PostRefused(403, "InvalidAccessKeyId", msg)
    if not hmac.compare_digest(signature, _signature(credential.secret, policy_b64)):
        msg = "The request signature we calculated does not match the signature you provided."
        raise PostRefused(403, "SignatureDoesNotMatch", msg)
    doc = _decode_policy(policy_b64)
    if _expiration(doc["expiration"]) <= now:
        raise PostRefused(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    if "key" not in f or not f["key"]:
        raise _malformed()
    key = f["key"].replace("${filename}", form.filename)
    content_type = (
        f.get("x-oss-content-type")
        or f.get("content-type")
        or form.file_type
        or "application/octet-stream"
    )
    values = {**f, "bucket": bucket, "key": key, "content-type": content_type}
    if len(form.data) > MAX_POST_BYTES:
        raise PostRefused(400, "EntityTooLarge", "PostObject takes at most 5 GB")
    for condition in doc["conditions"]:
        _check_condition(condition, values, len(form.data))
    status = (
        int(f["success_action_status"])
        if f.get("success_action_status")
        in (
            "200",
            "201",
            "204",
        )
        else 204
    )
    metadata = {k[len("x-oss-meta-") :]: v for k, v in f.items() if k.startswith("x-oss-meta-")}
    return Upload(key, form.data, content_type, status, metadata)
