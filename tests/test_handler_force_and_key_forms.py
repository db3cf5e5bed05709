"""Two assumptions of the handler, at their edges.

`force` (backfill --force): nothing is known about what exists, so the
handler assumes everything stale may exist and removes it: a forced image
deletes an old rejection record, a forced non-image the old variants
(DELETE_VARIANTS_WITH_SOURCE), and only the exact attribute value forces.

A deletion names a key that may be URL-encoded (`fc_handler.keys`): the
outputs of every form of it that is gone from the source are removed, and
those of a form that still exists are kept.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage
from imgpipe.cloud.events import cloudevent

SRC, DST = "photos-src", "photos-dst"
FORMS = [(v, e) for v in ("large", "medium", "small") for e in ("jpg", "webp")]
JUNK = b"%PDF-1.4 not an image"


def variants(relative: str) -> list[str]:
    return [f"resized/{v}/{relative}.{e}" for v, e in FORMS]


@pytest.fixture(scope="module")
def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path)


def run(storage, event, **env):
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST, **env})
    (outcome,) = handle_event(
        event, settings=settings, storage=storage, request_id="r", log=lambda _r: None
    )
    return outcome


def upload(storage, key: str, data: bytes, **env):
    storage.put(SRC, key, data, content_type="image/jpeg")
    return run(storage, cloudevent(SRC, key, data), **env)


def forced(key: str, data: bytes, value="true") -> dict:
    event = cloudevent(SRC, key, data)
    event["imgpipeforce"] = value
    return event


def exists(storage, key: str) -> bool:
    return (storage.root / DST / key).exists()


# --------------------------------------------------------------------- force


def test_a_forced_image_removes_the_rejection_record_of_what_was_there(storage, photo):
    """The source was a non-image (rejected), then replaced by an image whose own
    event was lost: the forced run processes it and the stale record goes."""
    assert upload(storage, "uploads/a.jpg", JUNK).outcome == "rejected"
    storage.put(SRC, "uploads/a.jpg", photo, content_type="image/jpeg")
    outcome = run(storage, forced("uploads/a.jpg", photo))
    assert outcome.outcome == "processed"
    assert all(exists(storage, k) for k in variants("a.jpg"))
    assert not exists(storage, "rejected/a.jpg.json")


def test_a_forced_non_image_removes_the_variants_of_what_was_there(storage, photo):
    assert upload(storage, "uploads/a.jpg", photo).outcome == "processed"
    storage.put(SRC, "uploads/a.jpg", JUNK, content_type="image/jpeg")
    outcome = run(storage, forced("uploads/a.jpg", JUNK))
    assert outcome.outcome == "rejected"
    assert exists(storage, "rejected/a.jpg.json")
    assert not any(exists(storage, k) for k in variants("a.jpg"))


def test_forced_with_deletions_switched_off_removes_nothing(storage, photo):
    off = {"DELETE_VARIANTS_WITH_SOURCE": "false"}
    upload(storage, "uploads/a.jpg", photo, **off)
    storage.put(SRC, "uploads/a.jpg", JUNK, content_type="image/jpeg")
    assert run(storage, forced("uploads/a.jpg", JUNK), **off).outcome == "rejected"
    assert all(exists(storage, k) for k in variants("a.jpg"))


def test_forcing_redoes_current_work_and_nothing_else_forces(storage, photo):
    assert upload(storage, "uploads/a.jpg", photo).outcome == "processed"
    for value in ("false", "1", "yes", "TRUE ", None, False):
        assert run(storage, forced("uploads/a.jpg", photo, value)).outcome == "current", value
    for value in ("true", True):
        assert run(storage, forced("uploads/a.jpg", photo, value)).outcome == "processed"


# ----------------------------------------------------------------- key forms


def deletion(raw_key: str) -> dict:
    return cloudevent(SRC, raw_key, b"", api="ObjectRemoved:DeleteObject")


def test_an_encoded_deletion_removes_the_outputs_of_the_decoded_key(storage, photo):
    upload(storage, "uploads/a b.jpg", photo)
    storage.delete(SRC, "uploads/a b.jpg")
    outcome = run(storage, deletion("uploads/a%20b.jpg"))
    assert outcome.outcome == "deleted"
    assert not any(exists(storage, k) for k in variants("a b.jpg"))
    assert {*variants("a b.jpg"), "rejected/a b.jpg.json"} <= set(outcome.outputs)


@pytest.mark.parametrize(
    ("raw", "gone", "kept"),
    [
        ("uploads/a%20b.jpg", "uploads/a b.jpg", "uploads/a%20b.jpg"),
        ("uploads/a%20b.jpg", "uploads/a%20b.jpg", "uploads/a b.jpg"),
        ("uploads/a+b.jpg", "uploads/a+b.jpg", "uploads/a b.jpg"),
        ("uploads/a+b.jpg", "uploads/a b.jpg", "uploads/a+b.jpg"),
    ],
)
def test_a_deletion_keeps_the_outputs_of_a_form_that_still_exists(storage, photo, raw, gone, kept):
    """Two objects whose keys are forms of one event key; one is deleted: only its
    outputs go, the other's stay."""
    upload(storage, gone, photo)
    upload(storage, kept, photo)
    storage.delete(SRC, gone)
    outcome = run(storage, deletion(raw))
    assert outcome.outcome == "deleted" and outcome.key == gone
    gone_rel, kept_rel = gone.removeprefix("uploads/"), kept.removeprefix("uploads/")
    assert not any(exists(storage, k) for k in variants(gone_rel))
    assert all(exists(storage, k) for k in variants(kept_rel))
    assert set(outcome.outputs) == {
        *variants(gone_rel),
        f"rejected/{gone_rel}.json",
        f"resized/_ready/{gone_rel}.json",
    }
    assert exists(storage, f"resized/_ready/{kept_rel}.json")


def test_a_percent_25_is_decoded_once_only(storage, photo):
    """`%2525` is a literal `%25` encoded once: its deletion never reaches `%`."""
    upload(storage, "uploads/100%.jpg", photo)
    storage.put(SRC, "uploads/100%25.jpg", photo, content_type="image/jpeg")
    storage.delete(SRC, "uploads/100%.jpg")  # gone, but not the one deleted now
    storage.delete(SRC, "uploads/100%25.jpg")
    outcome = run(storage, deletion("uploads/100%2525.jpg"))
    assert outcome.outcome == "deleted"
    assert all(exists(storage, k) for k in variants("100%.jpg"))
    assert not any("100%.jpg" in k for k in outcome.outputs)
