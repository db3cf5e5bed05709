"""Local stand-ins for OSS, Function Compute and MNS, for the day-two tools.

Each is an HTTP server on 127.0.0.1 that the real SDKs talk to (oss2, the
FC 3.0 SDK `alibabacloud-fc20230330`, the MNS REST client in
`imgpipe.cloud.mns`), answering with the shapes the services document, and
recording every request so a test can check what the SDK really sent: the
listing's `marker`, the invoke's `x-fc-invocation-type: Async`, the receipt
handle of a delete. They are deliberately small: only what the tools use.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote
from xml.sax.saxutils import escape

from imgpipe.cloud import standin
from imgpipe.cloud.mns import mns_signature
from imgpipe.cloud.standin import Request, Server, oss_error

# ------------------------------------------------------------------- OSS


class GeneratedKeys(Sequence[str]):
    """`n` sorted keys computed on demand: a 100,000-object bucket in no memory."""

    def __init__(self, n: int, template: str = "uploads/{:07d}.jpg") -> None:
        self.n, self.template = n, template

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return self.template.format(i % self.n)


class OssStandIn(standin.OssStandIn):
    """`imgpipe.cloud.standin.OssStandIn` plus ListObjects (V1, with `marker`,
    `max-keys` and `encoding-type=url`). For listing only, a bucket may be a
    sorted sequence of keys whose bodies are `b"<key>"` (`generated`)."""

    def __init__(self) -> None:
        self.generated: dict[str, Sequence[str]] = {}
        # listing_status(n) -> an error status for the n-th listing (0-based), or None
        self.listing_status: Callable[[int], int | None] = lambda _n: None
        super().__init__()

    def listings(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == "GET" and "/" not in r.path.strip("/")]

    def _sorted(self, bucket: str) -> Sequence[str]:
        if bucket in self.generated:
            return self.generated[bucket]
        return sorted(self.objects.get(bucket, {}))

    def object(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]] | None:
        found = super().object(bucket, key)
        if found is None and bucket in self.generated:
            keys = self.generated[bucket]
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                return key.encode(), {}
        return found

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        bucket, _, key = req.path.lstrip("/").partition("/")
        if key or req.method != "GET":
            return super().answer(req)
        with self.lock:
            n = (
                sum(
                    1
                    for r in self.requests
                    if r.method == "GET" and not r.path.strip("/").partition("/")[2]
                )
                - 1
            )
            status = self.listing_status(n)
            if status:
                return oss_error(status, "ServiceUnavailable" if status >= 500 else "Error")
            return self._list(bucket, req.query)

    def _list(self, bucket: str, q: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        keys = self._sorted(bucket)
        prefix, marker = q.get("prefix", ""), q.get("marker", "")
        max_keys = int(q.get("max-keys", "100"))
        start = bisect.bisect_right(keys, marker) if marker else bisect.bisect_left(keys, prefix)
        page: list[str] = []
        i = start
        while i < len(keys) and len(page) < max_keys:
            k = keys[i]
            if not k.startswith(prefix):
                if k > prefix:
                    break
            else:
                page.append(k)
            i += 1
        truncated = i < len(keys) and keys[i].startswith(prefix)
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>',
            f"<Name>{bucket}</Name><Prefix>{quote(prefix)}</Prefix>",
            f"<Marker>{quote(marker)}</Marker><MaxKeys>{max_keys}</MaxKeys>",
            "<Delimiter></Delimiter><EncodingType>url</EncodingType>",
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
        ]
        if truncated:
            parts.append(f"<NextMarker>{quote(page[-1])}</NextMarker>")
        for k in page:
            found = self.object(bucket, k)
            data = found[0] if found else b""
            etag = hashlib.md5(data).hexdigest().upper()
            parts.append(
                f"<Contents><Key>{quote(k)}</Key>"
                "<LastModified>2026-11-27T10:00:00.000Z</LastModified>"
                f'<ETag>"{etag}"</ETag><Type>Normal</Type><Size>{len(data)}</Size>'
                "<StorageClass>Standard</StorageClass></Contents>"
            )
        parts.append("</ListBucketResult>")
        return 200, {"Content-Type": "application/xml"}, "".join(parts).encode()


# -------------------------------------------------------------------- FC


class FcStandIn(Server):
    """FC 3.0 InvokeFunction: `POST /2023-03-30/functions/<name>/invocations`.

    An asynchronous invocation (`x-fc-invocation-type: Async`) is accepted
    with 202 and an empty body, as FC does. `script(request_number)` may
    answer otherwise: a status (429 throttled, 503...) or a number of seconds
    to stall first (a float), for the n-th request (0-based).
    """

    def __init__(self, script: Callable[[int], int | float | None] | None = None) -> None:
        self.script = script or (lambda _n: None)
        self.accepted: list[bytes] = []
        super().__init__()

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            n = len(self.requests) - 1
        action = self.script(n)
        if isinstance(action, float):
            time.sleep(action)
            action = None
        rid = f"standin-{n}"
        if isinstance(action, int):
            code = {429: "TooManyRequests", 503: "ServiceUnavailable", 500: "InternalError"}
            body = {"Code": code.get(action, "Error"), "Message": f"stand-in said {action}"}
            headers = {"Content-Type": "application/json", "x-fc-request-id": rid}
            return action, headers, json.dumps(body).encode()
        if not req.path.startswith("/2023-03-30/functions/") or req.method != "POST":
            return 404, {"Content-Type": "application/json"}, b'{"Code":"NotFound"}'
        with self.lock:
            self.accepted.append(req.body if self.record_bodies else b"")
        return 202, {"x-fc-request-id": rid}, b""


# ------------------------------------------------------------------- MNS


MNS_NS = "http://mns.aliyuncs.com/doc/v1/"


@dataclass
class QueuedMessage:
    id: str
    body: str
    enqueued_ms: int
    handle: str | None = None
    visible_at: float = 0.0
    dequeues: int = 0
    stale_handles: set[str] = field(default_factory=set)


class MnsStandIn(Server):
    """An MNS queue: batch ReceiveMessage (`numOfMessages`, `waitseconds`),
    batch PeekMessage (`peekonly=true`, no receipt handle, no change),
    DeleteMessage by receipt handle, ChangeMessageVisibility.

    A handle stops working when the message is received again (MNS issues a
    new one each time); `expire(id)` makes it so as if the visibility
    timeout had passed: deleting with the old handle then answers 400
    ReceiptHandleError and the message stays.
    """

    def __init__(self, queue: str, visibility: float = 30.0, secret: str | None = None) -> None:
        self.queue = queue
        self.visibility = visibility
        self.secret = secret  # given: every request's signature is checked with it
        self.messages: list[QueuedMessage] = []
        super().__init__()

    def send(self, body: str, age_seconds: float = 0) -> str:
        mid = uuid.uuid4().hex.upper()
        enqueued = int((time.time() - age_seconds) * 1000)
        with self.lock:
            self.messages.append(QueuedMessage(mid, body, enqueued))
        return mid

    def bodies(self) -> list[str]:
        with self.lock:
            return [m.body for m in self.messages]

    def expire(self, message_id: str) -> None:
        with self.lock:
            for m in self.messages:
                if m.id == message_id and m.handle:
                    m.stale_handles.add(m.handle)
                    m.handle, m.visible_at = None, 0.0

    def _error(self, status: int, code: str) -> tuple[int, dict[str, str], bytes]:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error xmlns="{MNS_NS}">'
            f"<Code>{code}</Code><Message>{code}</Message></Error>"
        )
        return status, {"Content-Type": "text/xml"}, body.encode()

    def _xml(self, m: QueuedMessage, *, handle: bool) -> str:
        rh = f"<ReceiptHandle>{m.handle}</ReceiptHandle>" if handle else ""
        return (
            f"<Message><MessageId>{m.id}</MessageId>{rh}"
            f"<MessageBodyMD5>{hashlib.md5(m.body.encode()).hexdigest().upper()}"
            f"</MessageBodyMD5><MessageBody>{escape(m.body)}</MessageBody>"
            f"<EnqueueTime>{m.enqueued_ms}</EnqueueTime>"
            f"<FirstDequeueTime>{m.enqueued_ms}</FirstDequeueTime>"
            f"<DequeueCount>{m.dequeues}</DequeueCount><Priority>8</Priority></Message>"
        )

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        if req.path != f"/queues/{self.queue}/messages":
            return self._error(404, "QueueNotExist")
        if not req.headers.get("authorization", "").startswith("MNS "):
            return self._error(403, "AccessDenied")
        # MNS "Common parameters" (alibabacloud.com/help/en/mns/common-parameters):
        # Date is required, in GMT; x-mns-version is required, 2015-06-06. The
        # codes are MNS "Error codes"' for the Date; for the version that page
        # names none, so the stand-in answers the generic InvalidArgument.
        date = req.headers.get("date", "")
        if not date:
            return self._error(400, "MissingDateHeader")
        if not date.endswith(" GMT"):
            return self._error(400, "InvalidDateHeader")
        if req.headers.get("x-mns-version") != "2015-06-06":
            return self._error(400, "InvalidArgument")
        if self.secret is not None:
            # the query as the client signed it: in order, values as sent
            query = "&".join(f"{k}={v}" for k, v in req.query.items())
            resource = req.path + ("?" + query if query else "")
            signature = mns_signature(self.secret, req.method, req.headers, resource)
            if not req.headers["authorization"].endswith(":" + signature):
                return self._error(403, "SignatureDoesNotMatch")
        q = req.query
        with self.lock:
            now = time.monotonic()
            if req.method == "GET":
                n = int(q.get("numOfMessages", "1"))
                visible = [m for m in self.messages if m.visible_at <= now][:n]
                if not visible:
                    return self._error(404, "MessageNotExist")
                peek = q.get("peekonly") == "true"
                for m in visible if not peek else ():
                    if m.handle:
                        m.stale_handles.add(m.handle)
                    m.handle = f"1-{uuid.uuid4().hex}=="
                    m.visible_at = now + self.visibility
                    m.dequeues += 1
                body = "".join(self._xml(m, handle=not peek) for m in visible)
                if "numOfMessages" in q:
                    body = f'<Messages xmlns="{MNS_NS}">{body}</Messages>'
                else:  # a single message is answered without the <Messages> wrapper
                    body = body.replace("<Message>", f'<Message xmlns="{MNS_NS}">', 1)
                xml = '<?xml version="1.0" encoding="UTF-8"?>' + body
                return 200, {"Content-Type": "text/xml"}, xml.encode()
            if req.method == "DELETE":
                handle = q.get("ReceiptHandle", "")
                for m in self.messages:
                    if m.handle == handle:
                        self.messages.remove(m)
                        return 204, {}, b""
                    if handle in m.stale_handles:
                        return self._error(400, "ReceiptHandleError")
                return self._error(404, "MessageNotExist")
            if req.method == "PUT":
                handle = q.get("receiptHandle", "")
                for m in self.messages:
                    if m.handle == handle:
                        m.visible_at = now + float(q.get("visibilityTimeout", "0"))
                        return 200, {"Content-Type": "text/xml"}, b"<ChangeVisibility/>"
                return self._error(400, "ReceiptHandleError")
        return self._error(405, "MethodNotAllowed")
