"""The OSS storage over real HTTP: the real oss2 client against local servers.

moto's S3 server answers oss2's path-style PUT, GET and HEAD on 127.0.0.1;
a second tiny server answers like an overloaded OSS (503 with an OSS error
body) to show that transient failures raise out of the handler.
"""

from __future__ import annotations

import http.server
import socket
import threading
from types import SimpleNamespace

import boto3
import oss2
import pytest
from conftest import image_bytes
from moto.server import ThreadedMotoServer

from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import NotFound, StorageError, TransientError
from fc_handler.storage_oss import OssStorage, credentials_auth, default_endpoint
from imgpipe.events import cloudevent

SRC, DST = "oss-src", "oss-dst"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def oss_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    for bucket in (SRC, DST):
        s3.create_bucket(Bucket=bucket)
    yield endpoint, s3
    server.stop()


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
    head = s3.head_object(Bucket=DST, Key="resized/large/trip/day 1.webp")
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
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
    storage = OssStorage(oss2.Auth("t", "t"), f"http://127.0.0.1:{_free_port()}", connect_timeout=1)
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


def test_internal_endpoint_of_the_region():
    assert default_endpoint("cn-hangzhou") == "https://oss-cn-hangzhou-internal.aliyuncs.com"
