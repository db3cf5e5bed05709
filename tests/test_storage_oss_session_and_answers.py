"""OssStorage's instance-wide session, the ETag it reads, and the log line of an
answer without an error code: against the scripted OSS of test_storage_oss.py.
"""

from __future__ import annotations

import hashlib
import threading

import oss2
import pytest
from test_storage_oss import SRC, FakeOss

from fc_handler import storage_oss
from fc_handler.storage import StorageError


@pytest.fixture
def fake_oss():
    with FakeOss() as fake:
        yield fake


def test_a_cold_instance_makes_one_session_however_many_threads_ask(monkeypatch):
    """The first invocation of an instance creates the pool; its parallel uploads
    all get that one, and so does every later invocation."""
    monkeypatch.setattr(storage_oss, "_session", None)  # a cold instance
    start = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(storage_oss.shared_session())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and isinstance(got[0], oss2.Session)
    assert all(session is got[0] for session in got)
    assert storage_oss.shared_session() is got[0]


def test_the_etag_read_is_the_md5_oss_gives_without_its_quotes(fake_oss):
    """OSS sends `ETag: "5EB6..."` (quoted, upper-case MD5 for a simple PUT); the
    handler compares it with the ETag it recorded in the variants' metadata."""
    storage = fake_oss.storage()
    data = b"\xff\xd8 a photo"
    storage.put(SRC, "uploads/e.jpg", data, content_type="image/jpeg")
    assert storage.head(SRC, "uploads/e.jpg").etag == hashlib.md5(data).hexdigest().upper()


@pytest.mark.parametrize(
    ("method", "answer", "line"),
    [
        # A HEAD answer has no body: no code, no message, only the status.
        ("HEAD", (403, "AccessDenied"), "oss://oss-src/uploads/x.jpg: HTTP 403"),
        # A gateway's HTML instead of OSS's XML: no code either.
        ("GET", (502, ""), "oss://oss-src/uploads/x.jpg: HTTP 502"),
        (
            "GET",
            (403, "AccessDenied"),
            "oss://oss-src/uploads/x.jpg: HTTP 403 AccessDenied scripted",
        ),
    ],
)
def test_the_log_line_says_what_oss_said_and_nothing_else(fake_oss, method, answer, line):
    storage = fake_oss.storage()
    fake_oss.objects[(SRC, "uploads/x.jpg")] = (b"\xff\xd8", {"etag": '"AB"'})
    fake_oss.script[(method, "uploads/x.jpg")] = answer
    with pytest.raises(StorageError) as caught:
        (storage.head if method == "HEAD" else storage.get)(SRC, "uploads/x.jpg")
    assert str(caught.value) == line
