"""A local OSS stand-in: an HTTP server on 127.0.0.1 that oss2 talks to.

`imgpipe bench --e2e` runs the real handler and the real OSS client against
it, with `latency_ms` of waiting per request (what an instance pays for while
it waits on OSS), and counts the sequential round trips from its `timings`.
The tests' stand-ins (`tests/standins.py`: OSS listings, Function Compute,
MNS) are built on the same `Server`.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, quote, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class Server:
    """A threading HTTP server that hands each request to `self.answer`.

    Every request is kept in `requests` (bodies only if `record_bodies`) and
    its (method, start, end) in `timings`, written before the answer is sent
    (the client may be done at once). Each request first waits `latency_ms`
    in its own server thread, as a network round trip would: parallel
    requests overlap, serial ones add up.
    """

    record_bodies = True

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency = latency_ms / 1000
        self.requests: list[Request] = []
        self.timings: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                start = time.perf_counter()
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                req = Request(
                    self.command,
                    unquote(url.path),
                    query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with outer.lock:
                    outer.requests.append(req if outer.record_bodies else replace(req, body=b""))
                if outer.latency:
                    time.sleep(outer.latency)
                status, headers, data = outer.answer(req)
                with outer.lock:
                    outer.timings.append((self.command, start, time.perf_counter()))
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


def oss_error(status: int, code: str) -> tuple[int, dict[str, str], bytes]:
    """An OSS error answer, the XML body oss2 parses into its exceptions."""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{code}</Message><RequestId>standin</RequestId></Error>"
    ).encode()
    return status, {"Content-Type": "application/xml", "x-oss-request-id": "standin"}, body


def _byte_range(header: str | None, size: int) -> tuple[int, int]:
    """`Range: bytes=first-last` (or `first-`) within `size`; the whole object
    for anything else, as OSS answers a range it cannot serve."""
    whole = (0, size - 1)
    if not header or not header.startswith("bytes=") or "," in header:
        return whole
    first_s, _, last_s = header[len("bytes=") :].partition("-")
    if not first_s.isdigit() or (last_s and not last_s.isdigit()):
        return whole
    first, last = int(first_s), int(last_s) if last_s else size - 1
    if first >= size or last < first:
        return whole
    return first, min(last, size - 1)


class OssStandIn(Server):
    """Path-style OSS (oss2 uses it for an IP endpoint): HEAD, GET (with a
    `Range`), PUT (with `x-oss-meta-*`), DELETE. A bucket is a dict of
    key -> (body, meta headers)."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.objects: dict[str, dict[str, tuple[bytes, dict[str, str]]]] = {}
        super().__init__(latency_ms)
        self.record_bodies = False

    def put(self, bucket: str, key: str, data: bytes, meta: dict[str, str] | None = None) -> None:
        headers = {f"x-oss-meta-{k}": quote(v) for k, v in (meta or {}).items()}
        with self.lock:
            self.objects.setdefault(bucket, {})[key] = (data, headers)

    def keys(self, bucket: str) -> list[str]:
        with self.lock:
            return sorted(self.objects.get(bucket, {}))

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        bucket, _, key = req.path.lstrip("/").partition("/")
        with self.lock:
            if req.method == "PUT":
                meta = {k: v for k, v in req.headers.items() if k.startswith("x-oss-meta-")}
                self.objects.setdefault(bucket, {})[key] = (req.body, meta)
                etag = hashlib.md5(req.body).hexdigest().upper()
                return 200, {"ETag": f'"{etag}"'}, b""
            if req.method == "DELETE":
                self.objects.get(bucket, {}).pop(key, None)
                return 204, {}, b""
            found = self.object(bucket, key)
        if found is None:
            return oss_error(404, "NoSuchKey")
        data, meta = found
        etag = hashlib.md5(data).hexdigest().upper()
        headers = {"ETag": f'"{etag}"', "Content-Type": "application/octet-stream", **meta}
        headers["Last-Modified"] = "Fri, 27 Nov 2026 10:00:00 GMT"
        first, last = _byte_range(req.headers.get("range"), len(data))
        if req.method == "GET" and (first, last) != (0, len(data) - 1):
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            return 206, headers, data[first : last + 1]
        return 200, headers, data

    def object(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]] | None:
        """The stored object (called with the lock held); subclasses add more."""
        return self.objects.get(bucket, {}).get(key)
