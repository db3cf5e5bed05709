"""Local stand-ins for OSS, Function Compute and MNS, for the day-two tools.

Each is an HTTP server on 127.0.0.1 that the real SDKs talk to (oss2, the
FC 3.0 SDK `alibabacloud-fc20230330`, the MNS REST client in
`imgpipe.smoke`), answering with the shapes the services document, and
recording every request so a test can check what the SDK really sent: the
listing's `marker`, the invoke's `x-fc-invocation-type: Async`, the receipt
handle of a delete. They are deliberately small: only what the tools use.
"""

from __future__ import annotations

import bisect
import hashlib
import http.server
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class _Server:
    """A threading HTTP server that hands each request to `self.answer`."""

    record_bodies = True

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                req = Request(
                    self.command,
                    unquote(url.path),
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body if outer.record_bodies else b"",
                )
                with outer.lock:
                    outer.requests.append(req)
                status, headers, data = outer.answer(req)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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


def _oss_error(status: int, code: str) -> tuple[int, dict[str, str], bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{code}</Message><RequestId>standin</RequestId></Error>"
    ).encode()
    return status, {"Content-Type": "application/xml", "x-oss-request-id": "standin"}, body


class OssStandIn(_Server):
    """Path-style OSS (oss2 uses it for an IP endpoint): ListObjects (V1, with
    `marker`, `max-keys` and `encoding-type=url`), HEAD, GET, PUT (with
    `x-oss-meta-*`), DELETE. A bucket is a dict of objects, or, for listing
    only, a sorted sequence of keys whose bodies are `b"<key>"`."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, tuple[bytes, dict[str, str]]]] = {}
        self.generated: dict[str, Sequence[str]] = {}
        # listing_status(n) -> an error status for the n-th listing (0-based), or None
        self.listing_status: Callable[[int], int | None] = lambda _n: None
        super().__init__()
        self.record_bodies = False

    def put(self, bucket: str, key: str, data: bytes, meta: dict[str, str] | None = None) -> None:
        headers = {f"x-oss-meta-{k}": quote(v) for k, v in (meta or {}).items()}
        with self.lock:
            self.objects.setdefault(bucket, {})[key] = (data, headers)

    def keys(self, bucket: str) -> list[str]:
        with self.lock:
            return sorted(self.objects.get(bucket, {}))

    def listings(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == "GET" and "/" not in r.path.strip("/")]

    def _sorted(self, bucket: str) -> Sequence[str]:
        if bucket in self.generated:
            return self.generated[bucket]
        return sorted(self.objects.get(bucket, {}))

    def _body(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]] | None:
        found = self.objects.get(bucket, {}).get(key)
        if found is None and bucket in self.generated:
            keys = self.generated[bucket]
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                return key.encode(), {}
        return found

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        bucket, _, key = req.path.lstrip("/").partition("/")
        with self.lock:
            if not key and req.method == "GET":
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
                    return _oss_error(status, "ServiceUnavailable" if status >= 500 else "Error")
                return self._list(bucket, req.query)
            if req.method == "PUT":
                meta = {k: v for k, v in req.headers.items() if k.startswith("x-oss-meta-")}
                self.objects.setdefault(bucket, {})[key] = (req.body, meta)
                etag = hashlib.md5(req.body).hexdigest().upper()
                return 200, {"ETag": f'"{etag}"'}, b""
            if req.method == "DELETE":
                self.objects.get(bucket, {}).pop(key, None)
                return 204, {}, b""
            found = self._body(bucket, key)
        if found is None:
            return _oss_error(404, "NoSuchKey")
        data, meta = found
        etag = hashlib.md5(data).hexdigest().upper()
        headers = {"ETag": f'"{etag}"', "Content-Type": "application/octet-stream", **meta}
        headers["Last-Modified"] = "Fri, 27 Nov 2026 10:00:00 GMT"
        return 200, headers, data

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
            found = self._body(bucket, k)
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


class FcStandIn(_Server):
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
            self.accepted.append(req.body)
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


class MnsStandIn(_Server):
    """An MNS queue: batch ReceiveMessage (`numOfMessages`, `waitseconds`),
    batch PeekMessage (`peekonly=true`, no receipt handle, no change),
    DeleteMessage by receipt handle, ChangeMessageVisibility.

    A handle stops working when the message is received again (MNS issues a
    new one each time); `expire(id)` makes it so as if the visibility
    timeout had passed: deleting with the old handle then answers 400
    ReceiptHandleError and the message stays.
    """

    def __init__(self, queue: str, visibility: float = 30.0) -> None:
        self.queue = queue
        self.visibility = visibility
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
