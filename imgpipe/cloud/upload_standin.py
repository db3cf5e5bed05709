"""The demo's OSS, for a browser: PostObject in, signed GETs out, over local buckets.

`LocalOss` serves the demo's buckets (`WORK_DIR/buckets/<bucket>/<key>`,
the folders `imgpipe demo` writes) on 127.0.0.1, path-style, as OSS would
serve a private bucket:

- `POST /<bucket>`: a browser's PostObject. The form is checked as OSS
  checks it (`imgpipe.cloud.oss_post`: signature, expiry, every policy
  condition); a refused upload gets OSS's error XML and nothing is written.
  An accepted one is written with its content type, answered with its
  ETag, and handed to `on_upload` on a worker thread, after the answer, as
  OSS hands its event to EventBridge: the client learns the variants are
  ready by polling, not from this answer;
- `GET`/`HEAD /<bucket>/<key>`: only with a valid, unexpired V1 signature in
  the query string (`OSSAccessKeyId`, `Expires`, `Signature`, and
  `security-token` for STS credentials), the form `imgpipe.cloud.urls` makes;
  403 AccessDenied or SignatureDoesNotMatch otherwise, 404 NoSuchKey for a
  missing object;
- CORS: a request from one of `cors_origins` gets
  `Access-Control-Allow-Origin` and exposes `ETag` and `x-oss-request-id`,
  as the module's `cors_rule` configures the source bucket
  (modules/storage/main.tf); a form POST and a GET are "simple" requests,
  so no preflight is needed.

The V1 URL signature is checked from the document ("Include a V1
signature in a URL": `GET\\n\\n\\n<Expires>\\n/<bucket>/<key>`, the
`security-token` subresource appended), not with oss2, which makes the URLs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import queue
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from fc_handler.storage import LocalStorage, StorageError
from imgpipe.cloud import oss_post
from imgpipe.cloud.standin import Request, Server, oss_error

Answer = tuple[int, dict[str, str], bytes]


def _error(status: int, code: str, message: str = "") -> Answer:
    status_, headers, body = oss_error(status, code)
    if message:
        body = body.replace(
            f"<Message>{code}</Message>".encode(),
            f"<Message>{_xml(message)}</Message>".encode(),
        )
    return status_, headers, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class LocalOss(Server):
    """Local buckets behind OSS's PostObject and signed-URL rules (module docstring)."""

    def __init__(
        self,
        buckets: Path,
        credentials: Mapping[str, oss_post.Credential],
        *,
        on_upload: Callable[[str, str, bytes], None] | None = None,
        cors_origins: tuple[str, ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = LocalStorage(buckets)
        self.credentials = dict(credentials)
        self.on_upload = on_upload
        self.cors_origins = cors_origins
        self.clock = clock
        self.refused: list[tuple[str, str]] = []  # (code, message) of each refusal
        self.delivery_errors: list[str] = []  # on_upload's exceptions, one line each
        self._work: queue.Queue = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._worker = threading.Thread(target=self._deliver, daemon=True)
        self._worker.start()
        super().__init__()
        self.record_bodies = False

    # ------------------------------------------------------------------ HTTP

    def answer(self, req: Request) -> Answer:
        status, headers, body = self._answer(req)
        origin = req.headers.get("origin")
        if origin and origin in self.cors_origins:
            headers = {
                **headers,
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Expose-Headers": "ETag, x-oss-request-id",
                "Vary": "Origin",
            }
        return status, headers, body

    def _answer(self, req: Request) -> Answer:
        bucket, _, key = req.path.lstrip("/").partition("/")
        if not bucket or not (self.storage.root / bucket).is_dir():
            return _error(404, "NoSuchBucket")
        if req.method == "POST" and not key:
            return self._post(bucket, req)
        if req.method in ("GET", "HEAD") and key:
            return self._get(bucket, key, req)
        return _error(405, "MethodNotAllowed")

    def _post(self, bucket: str, req: Request) -> Answer:
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        try:
            form = oss_post.parse(req.headers.get("content-type", ""), req.body)
            upload = oss_post.check(form, bucket=bucket, credentials=self.credentials, now=now)
            self.storage.put(
                bucket,
                upload.key,
                upload.data,
                content_type=upload.content_type,
                metadata=upload.metadata,
            )
        except oss_post.PostRefused as refused:
            with self.lock:
                self.refused.append((refused.code, refused.message))
            return _error(refused.status, refused.code, refused.message)
        except StorageError:  # a key that is no file name (`a/../..`, `x/`)
            return _error(400, "InvalidObjectName")
        etag = hashlib.md5(upload.data).hexdigest().upper()
        if self.on_upload is not None:
            self._idle.clear()
            self._work.put((bucket, upload.key, upload.data))
        headers = {"ETag": f'"{etag}"', "x-oss-request-id": "standin"}
        return upload.success_status, headers, b""

    def _get(self, bucket: str, key: str, req: Request) -> Answer:
        q = req.query
        key_id, expires, signature = q.get("OSSAccessKeyId"), q.get("Expires"), q.get("Signature")
        if not key_id or not expires or not signature or not expires.isdigit():
            return _error(403, "AccessDenied", "the bucket is private: sign the URL")
        credential = self.credentials.get(key_id)
        token = q.get("security-token")
        if credential is None or token != credential.security_token:
            return _error(403, "InvalidAccessKeyId")
        resource = f"/{bucket}/{key}" + (f"?security-token={token}" if token else "")
        text = f"GET\n\n\n{expires}\n{resource}"
        digest = hmac.new(credential.secret.encode(), text.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(signature, base64.b64encode(digest).decode()):
            return _error(403, "SignatureDoesNotMatch")
        if int(expires) < self.clock():
            return _error(403, "AccessDenied", "Request has expired.")
        try:
            data = self.storage.get(bucket, key)
        except StorageError:
            return _error(404, "NoSuchKey")
        try:
            headers = self.storage.metadata(bucket, key)["headers"]
        except (OSError, ValueError, KeyError):
            headers = {}
        out = {k: v for k, v in headers.items() if v}
        out.setdefault("Content-Type", "application/octet-stream")
        out["ETag"] = '"' + hashlib.md5(data).hexdigest().upper() + '"'
        return 200, out, data

    # ------------------------------------------------------------ the event

    def _deliver(self) -> None:
        while True:
            bucket, key, data = self._work.get()
            try:
                assert self.on_upload is not None
                self.on_upload(bucket, key, data)
            except Exception as exc:  # noqa: BLE001 - kept for whoever waits; the loop goes on
                with self.lock:
                    self.delivery_errors.append(f"{key}: {exc!r}")
            finally:
                self._work.task_done()
                if self._work.unfinished_tasks == 0:
                    self._idle.set()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Every accepted upload's `on_upload` has returned (tests, shutdown)."""
        return self._idle.wait(timeout)
