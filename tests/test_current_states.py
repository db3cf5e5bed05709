"""`fc_handler.current.check_outputs` for every state the target bucket can be in.

The handler decides from it whether to skip the object (current) and what
to delete after the work (the old variants when an image became a
non-image, the old rejection record the other way round); backfill decides
whether to invoke at all. Each variant, in every position, is checked: any
one of them missing, stale or from another configuration makes the object
stale.
"""

from __future__ import annotations

import pytest

from fc_handler.current import (
    ETAG,
    FINGERPRINT,
    Check,
    check_outputs,
    current_outputs,
    outputs_for,
    rejection_key,
    stamp,
)
from fc_handler.storage import LocalStorage
from imgproc import load_config
from imgproc.config import fingerprint

SRC, DST, KEY, ETAG_OF_SOURCE = "photos-src", "photos-dst", "uploads/a/x.jpg", "ABC123"
CONFIG = load_config("{}")
VARIANTS = list(outputs_for(CONFIG, "uploads/", "rejected/", KEY).variant_keys)
RECORD = rejection_key("rejected/", "a/x.jpg")


def put(storage, key: str, state: str) -> None:
    """Write `key` into the target as `current`, `stale` (another ETag),
    `other-config` (another fingerprint) or `unstamped` (no metadata)."""
    meta = {
        "current": stamp(SRC, KEY, ETAG_OF_SOURCE, CONFIG),
        "stale": stamp(SRC, KEY, "OLD", CONFIG),
        "other-config": {**stamp(SRC, KEY, ETAG_OF_SOURCE, CONFIG), FINGERPRINT: "0" * 16},
        "unstamped": {},
    }[state]
    storage.put(DST, key, b"v", content_type="image/jpeg", metadata=meta)


def check(storage) -> Check:
    return check_outputs(
        storage,
        target_bucket=DST,
        outputs=outputs_for(CONFIG, "uploads/", "rejected/", KEY),
        config=CONFIG,
        etag=ETAG_OF_SOURCE.lower(),  # ETags compare without case
    )


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path)


def test_every_variant_current_is_current(storage):
    for key in VARIANTS:
        put(storage, key, "current")
    assert check(storage) == Check(tuple(VARIANTS), variants_exist=True, rejection_exists=False)
    assert current_outputs(
        storage,
        target_bucket=DST,
        outputs=outputs_for(CONFIG, "uploads/", "rejected/", KEY),
        config=CONFIG,
        etag=ETAG_OF_SOURCE,
    ) == tuple(VARIANTS)


@pytest.mark.parametrize("position", range(len(VARIANTS)))
@pytest.mark.parametrize("state", ["missing", "stale", "other-config", "unstamped"])
def test_any_one_variant_not_current_makes_it_stale(storage, position, state):
    for i, key in enumerate(VARIANTS):
        if i != position:
            put(storage, key, "current")
        elif state != "missing":
            put(storage, key, state)
    found = check(storage)
    assert found.outputs is None
    assert found.variants_exist is (position != 0 or state != "missing")
    assert found.rejection_exists is False


@pytest.mark.parametrize(
    ("first", "record", "want"),
    [
        (None, None, Check(None, variants_exist=False, rejection_exists=False)),
        (None, "current", Check((RECORD,), variants_exist=False, rejection_exists=True)),
        ("stale", "current", Check((RECORD,), variants_exist=True, rejection_exists=True)),
        ("stale", "stale", Check(None, variants_exist=True, rejection_exists=True)),
        (None, "stale", Check(None, variants_exist=False, rejection_exists=True)),
        ("unstamped", None, Check(None, variants_exist=True, rejection_exists=False)),
    ],
)
def test_what_exists_besides_the_current_outputs(storage, first, record, want):
    if first:
        put(storage, VARIANTS[0], first)
    if record:
        put(storage, RECORD, record)
    assert check(storage) == want


def test_what_every_output_is_stamped_with():
    assert stamp(SRC, KEY, ETAG_OF_SOURCE, CONFIG) == {
        "source-bucket": SRC,
        "source-key": KEY,
        ETAG: ETAG_OF_SOURCE,
        FINGERPRINT: fingerprint(CONFIG),
    }
