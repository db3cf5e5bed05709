"""The OSS storage over real HTTP: the real oss2 client against local servers.

moto's S3 server answers oss2's path-style PUT, GET and HEAD on 127.0.0.1.
`FakeOss` (below) answers what moto cannot: every error class OSS returns
(403, 404, 409, 429, 5xx, a stalled or cut-off response) with OSS's error
XML, `x-oss-meta-*` headers kept and read back, multipart ETags. How each
class is sorted (fc_handler/storage_oss.py) and what the handler then does:

| OSS answer                              | storage error  | handler                     |
|-----------------------------------------|----------------|-----------------------------|
| 404 NoSuchKey (HEAD or GET)             | NotFound       | `ignored` (missing)         |
| 403 AccessDenied, 409, other 4xx        | StorageError   | `failed`, retryable false,  |
|                                         |                | raised: FC retries, then DLQ|
| 429, 5xx, RequestTimeout, expired STS   | TransientError | `failed`, retryable true,   |
| token, clock skew, timeouts, cut bodies |                | raised: FC retries, then DLQ|
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import oss2
import pytest
from conftest import free_port, image_bytes, moto_s3

from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import NotFound, StorageError, TransientError
from fc_handler.storage_oss import OssStorage, credentials_auth, default_endpoint
from imgpipe.cloud.events import cloudevent

SRC, DST = "oss-src", "oss-dst"


# ------------------------------------------------ a scripted OSS over HTTP
#
# moto answers the happy path, but it keeps no `x-oss-meta-*` headers, knows
# no multipart ETag for a simple PUT, and cannot be told to answer 403, 409
# or to stall. This server speaks just enough of OSS's path-style REST API
# (what oss2 uses for an IP endpoint) for the real oss2 client: objects with
# their headers, OSS error XML for a scripted (method, key), and stalls.


def _error_xml(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
        + code
        + "</Code><Message>"
        + message
        + "</Message><RequestId>65A1B2C3D4E5F60718293A4B</RequestId>"
        "<HostId>oss-src.oss-cn-hangzhou-internal.aliyuncs.com</HostId></Error>"
    ).encode()


class FakeOss:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}
        # (method, key) -> (status, OSS error code; "" for a non-XML body), or
        # seconds to stall, "cut" for a body that ends early, "badcrc" for a PUT
        # answered with a CRC-64 that is not the body's.
        self.script: dict[tuple[str, str], tuple[int, str] | float | str] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.connections: set[tuple[str, int]] = set()  # client (host, port) of each request
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _target(self) -> tuple[str, str]:
                path = urlsplit(self.path).path
                bucket, _, key = path.lstrip("/").partition("/")
                return unquote(bucket), unquote(key)

            def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
                self.send_response(status)
                headers = {"x-oss-request-id": "65A1B2C3D4E5F60718293A4B", **headers}
                headers.setdefault("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                bucket, key = self._target()
                fake.requests.append((self.command, key, dict(self.headers.items())))
                fake.connections.add(self.client_address)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                scripted = fake.script.get((self.command, key))
                if isinstance(scripted, float):  # stall past the client's timeout
                    time.sleep(scripted)
                    return self._send(200, {}, b"")
                if scripted == "cut":  # promise 1000 bytes, send 10, hang up
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"\xff\xd8" + b"\0" * 8)
                    self.close_connection = True
                    return None
                if isinstance(scripted, tuple):
                    status, code = scripted
                    xml = _error_xml(code, "scripted") if code else b"<html>Bad Gateway</html>"
                    return self._send(status, {"Content-Type": "application/xml"}, xml)
                if self.command == "PUT" and scripted == "badcrc":
                    return self._send(200, {"ETag": '"AB"', "x-oss-hash-crc64ecma": "12345"})
                if self.command == "DELETE":  # OSS: 204 whether or not the key existed
                    fake.objects.pop((bucket, key), None)
                    return self._send(204, {})
                if self.command == "PUT":
                    kept = {
                        k.lower(): v
                        for k, v in self.headers.items()
                        if k.lower().startswith("x-oss-meta-")
                        or k.lower() in ("content-type", "cache-control")
                    }
                    kept["etag"] = '"' + hashlib.md5(body).hexdigest().upper() + '"'
                    fake.objects[(bucket, key)] = (body, kept)
                    return self._send(200, {"ETag": kept["etag"]})
                if (bucket, key) not in fake.objects:
                    return self._send(
                        404,
                        {"Content-Type": "application/xml"},
                        _error_xml("NoSuchKey", "The specified key does not exist."),
                    )
                data, kept = fake.objects[(bucket, key)]
                headers = {k.title() if not k.startswith("x-") else k: v for k, v in kept.items()}
                return self._send(200, headers, data)

            do_GET = do_PUT = do_HEAD = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a client that gave up waiting (the stall tests) breaks the pipe: expected
        self.server.handle_error = lambda request, client_address: None
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeOss:
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def storage(self, timeout: float = 5) -> OssStorage:
        return OssStorage(oss2.Auth("test", "test"), self.endpoint, connect_timeout=timeout)


@pytest.fixture
def fake_oss():
    with FakeOss() as fake:
        yield fake


@pytest.fixture(scope="module")
def oss_endpoint():
    with moto_s3((SRC, DST), "test", "test") as (endpoint, s3):
        yield endpoint, s3


@pytest.fixture
def storage(oss_endpoint):
    endpoint, _ = oss_endpoint
    return OssStorage(oss2.Auth("test", "test"), endpoint)


def test_put_head_get_round_trip(storage, oss_endpoint):
    _, s3 = oss_endpoint
    key = "uploads/ünï code/a b%.jpg"
    storage.put(
        SRC,
        key,
        b"\xff\xd8hello",
        content_type="image/jpeg",
        cache_control="public, max-age=60",
        metadata={"source-key": "uploads/ü.jpg"},
    )
    assert storage.get(SRC, key) == b"\xff\xd8hello"
    info = storage.head(SRC, key)
    assert info.size == 7 and len(info.etag) == 32 and info.etag.isupper()
    head = s3.head_object(Bucket=SRC, Key=key)
    assert head["ContentType"] == "image/jpeg"
    assert head["CacheControl"] == "public, max-age=60"


def test_missing_objects_are_not_found(storage):
    with pytest.raises(NotFound):
        storage.head(SRC, "uploads/nope.jpg")
    with pytest.raises(NotFound):
        storage.get(SRC, "uploads/nope.jpg")


def test_handler_end_to_end_over_oss(storage, oss_endpoint):
    _, s3 = oss_endpoint
    data = image_bytes("flower.jpg")
    storage.put(SRC, "uploads/trip/day 1.jpg", data, content_type="image/jpeg")
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})
    log = []
    (outcome,) = handle_event(
        cloudevent(SRC, "uploads/trip/day%201.jpg", data),
        settings=settings,
        storage=storage,
        request_id="r",
        log=log.append,
    )
    assert outcome.outcome == "processed"
    (large_webp,) = [k for k in outcome.outputs if "/large/" in k and k.endswith(".webp")]
    assert large_webp.startswith("resized/large/trip/day 1.")
    head = s3.head_object(Bucket=DST, Key=large_webp)
    assert head["ContentType"] == "image/webp"
    assert head["CacheControl"] == "public, max-age=86400"
    assert log[0]["outputs"] == list(outcome.outputs)


class _Overloaded(http.server.BaseHTTPRequestHandler):
    """Answers every request like OSS under pressure."""

    status = 503
    code = "ServiceUnavailable"

    def _reply(self):
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>'
            + self.code
            + "</Code><Message>Please reduce your request rate.</Message>"
            "<RequestId>5C3D9A2B</RequestId><HostId>local</HostId></Error>"
        ).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-oss-request-id", "5C3D9A2B")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = _reply

    def log_message(self, *args):
        pass


@pytest.fixture(params=[(503, "ServiceUnavailable"), (500, "InternalError"), (429, "Throttling")])
def overloaded_endpoint(request):
    handler = type("H", (_Overloaded,), {"status": request.param[0], "code": request.param[1]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_transient_5xx_and_throttling_raise_from_the_handler(overloaded_endpoint):
    storage = OssStorage(oss2.Auth("test", "test"), overloaded_endpoint)
    with pytest.raises(TransientError):
        storage.get(SRC, "uploads/x.jpg")
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})
    log = []
    with pytest.raises(TransientError):
        handle_event(
            cloudevent(SRC, "uploads/x.jpg", b"12345"),
            settings=settings,
            storage=storage,
            request_id="r",
            log=log.append,
        )
    assert log[0]["outcome"] == "failed" and log[0]["retryable"] is True


def test_network_error_is_transient():
    storage = OssStorage(oss2.Auth("t", "t"), f"http://127.0.0.1:{free_port()}", connect_timeout=1)
    with pytest.raises(TransientError):
        storage.head(SRC, "uploads/x.jpg")


def test_credentials_from_context_then_environment():
    ctx = SimpleNamespace(
        credentials=SimpleNamespace(
            access_key_id="STS.id", access_key_secret="secret", security_token="token"
        )
    )
    auth = credentials_auth(ctx, {})
    assert isinstance(auth, oss2.StsAuth)
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "token",
    }
    assert isinstance(credentials_auth(SimpleNamespace(), env), oss2.StsAuth)
    env.pop("ALIBABA_CLOUD_SECURITY_TOKEN")
    assert isinstance(credentials_auth(SimpleNamespace(credentials=None), env), oss2.Auth)
    with pytest.raises(StorageError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        credentials_auth(SimpleNamespace(), {})


def _key_id(auth) -> str:
    return auth.credentials_provider.get_credentials().get_access_key_id()


def test_credentials_edge_cases():
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s"}
    # an empty credentials object (no key id): the environment is used
    for empty in (SimpleNamespace(access_key_id=""), SimpleNamespace()):
        auth = credentials_auth(SimpleNamespace(credentials=empty), env)
        assert isinstance(auth, oss2.Auth) and _key_id(auth) == "env-id"
    # credentials without a token attribute: plain keys, not STS
    no_token = SimpleNamespace(
        credentials=SimpleNamespace(access_key_id="ctx-id", access_key_secret="s")
    )
    auth = credentials_auth(no_token, {})
    assert not isinstance(auth, oss2.StsAuth) and _key_id(auth) == "ctx-id"
    sts = credentials_auth(
        SimpleNamespace(
            credentials=SimpleNamespace(
                access_key_id="STS.id", access_key_secret="s", security_token="tok"
            )
        ),
        {},
    )
    creds = sts._StsAuth__auth.credentials_provider.get_credentials()
    assert (creds.get_access_key_id(), creds.get_security_token()) == ("STS.id", "tok")
    # a key id without its secret is no credential
    with pytest.raises(
        StorageError,
        match=r"^no credentials: neither context.credentials nor ALIBABA_CLOUD_ACCESS_KEY_ID/"
        r"ALIBABA_CLOUD_ACCESS_KEY_SECRET are set \(is the function's role attached\?\)$",
    ):
        credentials_auth(SimpleNamespace(), {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id"})


def test_internal_endpoint_of_the_region():
    assert default_endpoint("cn-hangzhou") == "https://oss-cn-hangzhou-internal.aliyuncs.com"


# ------------------------------------------------ metadata and headers


def test_metadata_and_headers_are_sent_and_read_back(fake_oss):
    storage = fake_oss.storage()
    storage.put(
        DST,
        "resized/large/ü.webp",
        b"RIFF....WEBP",
        content_type="image/webp",
        cache_control="public, max-age=60",
        metadata={"source-key": "uploads/ünï code/a b%.jpg", "source-etag": "ABC"},
    )
    # what went over the wire: latin-1-safe headers
    (method, key, sent), *_ = fake_oss.requests
    assert (method, key) == ("PUT", "resized/large/ü.webp")
    assert sent["x-oss-meta-source-key"] == "uploads/%C3%BCn%C3%AF code/a b%25.jpg"
    assert sent["x-oss-meta-source-etag"] == "ABC"
    # read back by another client, as a user of the variants would
    head = oss2.Bucket(oss2.Auth("t", "t"), fake_oss.endpoint, DST).head_object(key)
    assert unquote(head.headers["x-oss-meta-source-key"]) == "uploads/ünï code/a b%.jpg"
    assert head.headers["Content-Type"] == "image/webp"
    assert head.headers["Cache-Control"] == "public, max-age=60"
    info = storage.head(DST, key)
    assert info.size == 12 and info.etag == hashlib.md5(b"RIFF....WEBP").hexdigest().upper()


def test_every_variant_carries_its_source_in_x_oss_meta(fake_oss):
    storage = fake_oss.storage()
    data = image_bytes("flower.jpg")
    storage.put(SRC, "uploads/trip/day 1.jpg", data, content_type="image/jpeg")
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})
    (outcome,) = handle_event(
        cloudevent(SRC, "uploads/trip/day%201.jpg", data),
        settings=settings,
        storage=storage,
        request_id="r",
        log=lambda _: None,
    )
    assert outcome.outcome == "processed" and len(outcome.outputs) == 6
    etag = hashlib.md5(data).hexdigest().upper()
    for out_key in outcome.outputs:
        body, headers = fake_oss.objects[(DST, out_key)]
        assert headers["x-oss-meta-source-bucket"] == SRC
        assert unquote(headers["x-oss-meta-source-key"]) == "uploads/trip/day 1.jpg"
        assert headers["x-oss-meta-source-etag"] == etag
        ext = out_key.rsplit(".", 1)[1]
        assert headers["content-type"] == {"jpg": "image/jpeg", "webp": "image/webp"}[ext]
        assert headers["cache-control"] == "public, max-age=86400"
        assert body[:4] in (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"RIFF")


# ------------------------------------------------ every error class


def _must_be(exc: BaseException, kind: type) -> None:
    """`kind` exactly as far as the handler can tell: NotFound, TransientError or neither."""
    assert isinstance(exc, StorageError)
    assert isinstance(exc, NotFound) == (kind is NotFound), exc
    assert isinstance(exc, TransientError) == (kind is TransientError), exc


ERROR_CLASSES = [
    (403, "AccessDenied", StorageError),
    (403, "SignatureDoesNotMatch", StorageError),
    (403, "SecurityTokenExpired", TransientError),  # a retry gets fresh STS credentials
    (403, "RequestTimeTooSkewed", TransientError),
    (400, "InvalidArgument", StorageError),
    (400, "RequestTimeout", TransientError),
    (404, "NoSuchKey", NotFound),
    (404, "NoSuchBucket", NotFound),
    (404, "SymlinkTargetNotExist", NotFound),  # a code oss2 has no class for
    (409, "FileImmutable", StorageError),
    (429, "Throttling", TransientError),
    (500, "InternalError", TransientError),
    (502, "", TransientError),  # a gateway's HTML, not OSS's XML
    (503, "ServiceUnavailable", TransientError),
    (504, "", TransientError),
]


@pytest.mark.parametrize(("status", "code", "kind"), ERROR_CLASSES)
@pytest.mark.parametrize("method", ["HEAD", "GET", "PUT", "DELETE"])
def test_every_oss_error_class_is_sorted(fake_oss, method, status, code, kind):
    storage = fake_oss.storage()
    fake_oss.objects[(SRC, "uploads/x.jpg")] = (b"\xff\xd8", {"etag": '"AB"'})
    fake_oss.script[(method, "uploads/x.jpg")] = (status, code)
    call = {
        "HEAD": lambda: storage.head(SRC, "uploads/x.jpg"),
        "GET": lambda: storage.get(SRC, "uploads/x.jpg"),
        "PUT": lambda: storage.put(SRC, "uploads/x.jpg", b"x", content_type="image/jpeg"),
        "DELETE": lambda: storage.delete(SRC, "uploads/x.jpg"),
    }[method]
    if method == "HEAD" and kind is TransientError and status < 429:
        # A HEAD answer has no body, so no code: only the status can be sorted
        # (oss2 2.16 does not read the x-oss-err header newer OSS adds).
        kind = StorageError
    with pytest.raises(StorageError) as info:
        call()
    _must_be(info.value, kind)
    assert "oss://oss-src/uploads/x.jpg" in str(info.value)
    if kind is not NotFound:  # the log line says what OSS said
        assert f"HTTP {status}" in str(info.value)
        if method != "HEAD" and code:  # OSS's code and message, as the log line shows them
            assert f"{code} scripted" in str(info.value)


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_a_stalled_answer_is_a_transient_timeout(fake_oss, method):
    fake_oss.objects[(SRC, "uploads/x.jpg")] = (b"\xff\xd8", {"etag": '"AB"'})
    fake_oss.script[(method, "uploads/x.jpg")] = 5.0
    storage = fake_oss.storage(timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(TransientError, match="network error"):
        storage.head(SRC, "uploads/x.jpg") if method == "HEAD" else storage.get(
            SRC, "uploads/x.jpg"
        )
    # the 0.3 s timeout, not the server's 5 s stall, ended it (wide margin: loaded CI)
    assert time.perf_counter() - started < 4.0


def test_a_body_cut_short_is_transient(fake_oss):
    fake_oss.objects[(SRC, "uploads/x.jpg")] = (b"\xff\xd8", {"etag": '"AB"'})
    fake_oss.script[("GET", "uploads/x.jpg")] = "cut"
    with pytest.raises(TransientError, match=r"oss://oss-src/uploads/x\.jpg: network error"):
        fake_oss.storage().get(SRC, "uploads/x.jpg")


def test_an_upload_failing_its_crc64_is_transient(fake_oss):
    # OSS answers a PUT with the CRC-64 it computed; oss2 compares it with its own
    fake_oss.script[("PUT", "resized/large/x.jpg")] = "badcrc"
    with pytest.raises(TransientError, match=r"oss://oss-dst/resized/large/x\.jpg: body failed"):
        fake_oss.storage().put(DST, "resized/large/x.jpg", b"\xff\xd8", content_type="image/jpeg")


def test_errors_that_are_not_storage_errors_propagate():
    """A bug inside a storage call is not swallowed or disguised as an OSS answer."""
    from fc_handler.storage_oss import _mapped

    with pytest.raises(ZeroDivisionError), _mapped(SRC, "k"):
        _ = 1 / 0


def test_content_type_is_the_callers_not_guessed_from_the_key(fake_oss):
    # oss2 guesses a type from the key's extension when none is sent
    fake_oss.storage().put(DST, "resized/large/x.jpg", b"....", content_type="image/avif")
    assert fake_oss.objects[(DST, "resized/large/x.jpg")][1]["content-type"] == "image/avif"


def _run_handler(storage, data=b"\xff\xd8\xff", key="uploads/x.jpg", **event):
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})
    log: list[dict] = []
    ev = cloudevent(SRC, key, data)
    ev["data"]["oss"]["object"].update(event)
    try:
        handle_event(ev, settings=settings, storage=storage, request_id="r", log=log.append)
    except StorageError as exc:
        return log[0], exc
    return log[0], None


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_403_fails_the_invocation_it_is_not_a_missing_object(fake_oss, method):
    """Permission errors must reach FC's retries and the dead-letter queue.

    A 403 is almost always the deployment (the role lost oss:GetObject, a
    KMS key denies decryption): retrying in seconds will not fix it, so it
    is logged `retryable: false`, but the handler raises, so FC retries
    (`async_retries`) and then dead-letters the event, which can be replayed
    once the policy is fixed. Were it `ignored`, the upload would be lost.
    """
    fake_oss.objects[(SRC, "uploads/x.jpg")] = (b"\xff\xd8\xff", {"etag": '"AB"'})
    fake_oss.script[(method, "uploads/x.jpg")] = (403, "AccessDenied")
    # An event with size and ETag spares the source HEAD; one without ETag still HEADs.
    no_etag = {"eTag": None} if method == "HEAD" else {}
    record, raised = _run_handler(fake_oss.storage(), **no_etag)
    assert raised is not None and not isinstance(raised, (NotFound, TransientError))
    assert record["outcome"] == "failed" and record["retryable"] is False
    assert "HTTP 403" in record["detail"]
    assert method == "HEAD" or "AccessDenied" in record["detail"]


def test_object_deleted_between_head_and_get_is_ignored(fake_oss):
    fake_oss.objects[(SRC, "uploads/x.jpg")] = (b"\xff\xd8\xff", {"etag": '"AB"'})
    fake_oss.script[("GET", "uploads/x.jpg")] = (404, "NoSuchKey")
    record, raised = _run_handler(fake_oss.storage())
    assert raised is None
    assert record["outcome"] == "ignored"
    assert record["reason"] == "missing (deleted since the event)"
    methods = [m for m, *_ in fake_oss.requests]
    assert "GET" in methods and not {"PUT", "DELETE"} & set(methods)  # nothing written


def test_multipart_etag_picks_the_key_the_event_names(fake_oss):
    """A multipart upload's ETag is `<md5 of the part md5s>-<parts>`, not an MD5.

    Two objects match the event's key (`a+b.jpg` literally, and `a b.jpg`
    once `+` is read as a space); only the second has the event's ETag.
    """
    data = image_bytes("flower.jpg")
    multipart = "3858F62230AC3C915F300C664312C11F-9"
    fake_oss.objects[(SRC, "uploads/a+b.jpg")] = (b"other", {"etag": '"0CC175B9C0F1B6A8"'})
    fake_oss.objects[(SRC, "uploads/a b.jpg")] = (data, {"etag": f'"{multipart}"'})
    assert fake_oss.storage().head(SRC, "uploads/a b.jpg").etag == multipart
    record, raised = _run_handler(
        fake_oss.storage(), data, key="uploads/a+b.jpg", eTag=multipart.lower(), size=len(data)
    )
    assert raised is None and record["outcome"] == "processed", record
    assert record["key"] == "uploads/a b.jpg"
    (large_webp,) = [k for k in record["outputs"] if "/large/" in k and k.endswith(".webp")]
    assert large_webp.startswith("resized/large/a b.")  # named after the key the ETag chose
    _, headers = fake_oss.objects[(DST, large_webp)]
    assert headers["x-oss-meta-source-etag"] == multipart


# ------------------------------------------------ index.storage_for: the OSS path


@pytest.fixture
def fc_env(monkeypatch):
    for name in ("IMGPIPE_LOCAL_BUCKETS", "OSS_ENDPOINT", "FC_REGION", "IMGPIPE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOURCE_BUCKET", SRC)
    monkeypatch.setenv("TARGET_BUCKET", DST)
    return monkeypatch


def _context(**extra):
    creds = SimpleNamespace(access_key_id="STS.k", access_key_secret="s", security_token="t")
    return SimpleNamespace(credentials=creds, request_id="req-1", **extra)


def test_storage_for_uses_the_regions_internal_endpoint(fc_env):
    import index

    storage = index.storage_for(index.settings_from_env(), _context(region="cn-shanghai"))
    assert isinstance(storage, OssStorage)
    assert storage.endpoint == "https://oss-cn-shanghai-internal.aliyuncs.com"
    assert isinstance(storage.auth, oss2.StsAuth)
    fc_env.setenv("FC_REGION", "ap-southeast-1")  # the python3.12 runtime's variable
    storage = index.storage_for(index.settings_from_env(), _context())
    assert storage.endpoint == "https://oss-ap-southeast-1-internal.aliyuncs.com"


def test_storage_for_without_region_or_endpoint_is_a_settings_error(fc_env):
    import index
    from fc_handler.settings import SettingsError

    with pytest.raises(
        SettingsError, match=r"^OSS_ENDPOINT is required when the FC region is unknown$"
    ):
        index.storage_for(index.settings_from_env(), _context())


def test_storage_for_python312_takes_credentials_from_the_environment(fc_env):
    """python3.12's context has no credentials: FC sets ALIBABA_CLOUD_* instead."""
    import index

    fc_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.env")
    fc_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
    fc_env.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "tok")
    context = SimpleNamespace(request_id="r", region="cn-beijing")
    storage = index.storage_for(index.settings_from_env(), context)
    creds = storage.auth._StsAuth__auth.credentials_provider.get_credentials()
    assert (creds.get_access_key_id(), creds.get_security_token()) == ("STS.env", "tok")


def test_index_handler_without_a_request_id(fc_env, tmp_path):
    """`imgpipe invoke` and some runtimes give a context without request_id."""
    import index

    (tmp_path / SRC / "uploads").mkdir(parents=True)
    fc_env.setenv("IMGPIPE_LOCAL_BUCKETS", str(tmp_path))
    result = index.handler(cloudevent(SRC, "uploads/gone.jpg", b"x"), SimpleNamespace())
    assert result["records"][0]["outcome"] == "ignored"
    assert result["records"][0].get("request_id") is None


def test_index_handler_over_oss_with_an_explicit_endpoint(fc_env, fake_oss, capsys):
    import json

    import index

    data = image_bytes("flower.jpg")
    fake_oss.storage().put(SRC, "uploads/f.jpg", data, content_type="image/jpeg")
    fc_env.setenv("OSS_ENDPOINT", fake_oss.endpoint)
    before = len(fake_oss.requests)
    result = index.handler(cloudevent(SRC, "uploads/f.jpg", data), _context(region="cn-x"))
    (record,) = result["records"]
    assert record["outcome"] == "processed" and record["request_id"] == "req-1"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["outcome"], r["request_id"]) for r in logged] == [("processed", "req-1")]
    assert len(record["outputs"]) == 6
    assert all((DST, key) in fake_oss.objects for key in record["outputs"])
    # the STS token went with every request
    handler_requests = fake_oss.requests[before:]
    # six variants and the "ready" manifest (fc_handler/manifest.py)
    assert [m for m, *_ in handler_requests].count("PUT") == 7
    assert (DST, "resized/_ready/f.jpg.json") in fake_oss.objects
    assert all(h.get("x-oss-security-token") == "t" for *_, h in handler_requests)


def test_warm_invocations_reuse_the_instances_connections(fc_env, fake_oss):
    """One HTTP session per instance (`storage_oss.shared_session`): the
    second invocation sends its requests on the first one's connections (a
    session per invocation reuses none). How many more it opens depends on
    how its parallel requests overlap, run to run."""
    import index

    data = image_bytes("flower.jpg")
    fc_env.setenv("OSS_ENDPOINT", fake_oss.endpoint)
    opened = []
    for n in range(2):
        key = f"uploads/warm{n}.jpg"
        fake_oss.storage().put(SRC, key, data, content_type="image/jpeg")
        fake_oss.connections.clear()
        (record,) = index.handler(cloudevent(SRC, key, data), _context(region="cn-x"))["records"]
        assert record["outcome"] == "processed", record
        opened.append(set(fake_oss.connections))
    assert opened[0], "the first invocation talked to OSS"
    assert opened[1] & opened[0], opened  # reused: a session per invocation reuses none


def test_ranged_get_reads_the_bytes_asked_for(storage):
    data = bytes(range(256)) * 40
    storage.put(SRC, "uploads/r.bin", data, content_type="application/octet-stream")
    assert storage.get(SRC, "uploads/r.bin", last=99) == data[:100]
    assert storage.get(SRC, "uploads/r.bin", first=100) == data[100:]
    assert storage.get(SRC, "uploads/r.bin", first=5, last=9) == data[5:10]
    assert storage.get(SRC, "uploads/r.bin") == data
