"""Shared fixtures: the corpus copied into tests/data (see PROVENANCE.md)."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from PIL import Image

DATA = Path(__file__).parent / "data"
IMAGES = DATA / "images"
BENCH = DATA / "bench"

# Property tests: `make test` runs the "ci" profile, derandomized and with no
# example database, so two runs draw the same examples and a failure from an
# earlier run is never replayed from .hypothesis/. `make fuzz` runs "fuzz":
# random, FUZZ_EXAMPLES examples per test; what it finds becomes an
# explicit @example. Neither prints a reproduction blob (inputs are drawn as
# short descriptions that print themselves).
_COMMON = {"deadline": None, "print_blob": False, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz", derandomize=False, database=None, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def budget(ci_examples: int) -> int:
    """max_examples for a property test: its own CI count, or FUZZ_EXAMPLES."""
    if PROFILE == "fuzz":
        return int(os.environ.get("FUZZ_EXAMPLES", "10000"))
    return ci_examples


def manifest() -> list[dict[str, str]]:
    with (DATA / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def image_bytes(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.fixture
def corpus_dir() -> Path:
    return IMAGES


@pytest.fixture(autouse=True)
def _pillow_pixel_limit():
    """`process()` sets Pillow's global MAX_IMAGE_PIXELS from its config (as
    the function's one configuration should); a test's small limit must not
    reach the next test's Pillow calls (a 4 MP fuzz config made the memory
    probe's 12 MP image a "decompression bomb" when run after it)."""
    before = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = before


def free_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback port that accepts connections and never answers (a service
    that hangs): (the port, the connections accepted so far)."""
    accepted: list[socket.socket] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)

        def accept() -> None:
            with contextlib.suppress(OSError):
                while True:
                    accepted.append(server.accept()[0])

        threading.Thread(target=accept, daemon=True).start()
        yield server.getsockname()[1], accepted


@dataclasses.dataclass
class MotoOss:
    endpoint: str
    s3: object  # a boto3 S3 client on the same server
    front: object  # ossfront.OssFront: the signatures it checked


@contextlib.contextmanager
def moto_oss(buckets: tuple[str, ...], key_id: str, secret: str) -> Iterator[MotoOss]:
    """moto's S3 server on a loopback port, behind `ossfront.OssFront`, with
    `buckets` made.

    oss2 speaks to it as to OSS (the request shapes the handler uses match);
    the front checks each OSS signature against `key_id`/`secret` and names S3
    to moto, so moto never guesses a service from an OSS signature (issue 27).
    A request our code signed wrong is a 403, and fails the test at the end.
    """
    import threading

    import boto3
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from ossfront import OssFront
    from werkzeug.serving import make_server

    front = OssFront(DomainDispatcherApplication(create_backend_app), key_id, secret)
    server = make_server("127.0.0.1", 0, front, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
        yield MotoOss(endpoint, s3, front)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert front.bad_signatures == 0, f"{front.bad_signatures} OSS requests signed wrong"


@contextlib.contextmanager
def moto_s3(buckets: tuple[str, ...], key_id: str, secret: str) -> Iterator[tuple[str, object]]:
    """`moto_oss` as (endpoint, boto3 client)."""
    with moto_oss(buckets, key_id, secret) as moto:
        yield moto.endpoint, moto.s3


def pytest_generate_tests(metafunc):
    """`REPEAT=200 pytest tests/test_smoke.py -k end_to_end`: each selected
    test that many times, as separate items (fresh function fixtures), for
    showing a flaky test fixed (docs/development.md)."""
    repeat = int(os.environ.get("REPEAT", "1"))
    if repeat > 1:
        metafunc.fixturenames.append("repeat_run")
        metafunc.parametrize("repeat_run", range(repeat))
