"""Current means current: the handler does the work for an object once.

A variant is current when it carries the source's ETag and the
configuration's fingerprint; the handler then logs `current` and neither
downloads the source nor writes anything. Every way of going stale (a
variant deleted, the configuration changed, the source replaced, the
metadata tampered with) makes it do the work again.
"""

from __future__ import annotations

import json

import pytest
from conftest import image_bytes

from fc_handler.current import FINGERPRINT, current_outputs, outputs_for
from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage, StorageError, TransientError
from imgpipe.cloud.events import cloudevent
from imgproc import load_config
from imgproc.config import fingerprint

SRC, DST = "photos-src", "photos-dst"
KEY = "uploads/a/x.jpg"


class CountingStorage(LocalStorage):
    """Local buckets that count every call, so "writes nothing" is checked."""

    def __init__(self, root):
        super().__init__(root)
        self.calls: list[tuple[str, str, str]] = []
        self.head_error: Exception | None = None

    def head(self, bucket, key):
        self.calls.append(("head", bucket, key))
        if self.head_error is not None and bucket == DST:
            raise self.head_error
        return super().head(bucket, key)

    def get(self, bucket, key):
        self.calls.append(("get", bucket, key))
        return super().get(bucket, key)

    def put(self, bucket, key, data, **kw):
        self.calls.append(("put", bucket, key))
        super().put(bucket, key, data, **kw)

    def delete(self, bucket, key):
        self.calls.append(("delete", bucket, key))
        super().delete(bucket, key)

    def writes(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[0] in ("put", "delete")]


@pytest.fixture
def storage(tmp_path) -> CountingStorage:
    return CountingStorage(tmp_path)


def settings(**env) -> Settings:
    return Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST, **env})


def run(storage, event, **env):
    storage.calls.clear()
    log: list[dict] = []
    (outcome,) = handle_event(
        event, settings=settings(**env), storage=storage, request_id="r", log=log.append
    )
    assert log[0]["outcome"] == outcome.outcome
    return outcome


def upload(storage, data: bytes, key: str = KEY) -> dict:
    storage.put(SRC, key, data, content_type="image/jpeg")
    return cloudevent(SRC, key, data)


def test_fingerprint_is_stable_and_covers_every_setting():
    base = load_config("{}")
    assert fingerprint(base) == fingerprint(load_config('{"quality": {}}'))  # defaults spelt out
    assert len(fingerprint(base)) == 16
    changed = [
        '{"quality": {"jpeg": 84}}',
        '{"background": "#000000"}',
        '{"watermark": {"text": "other"}}',
        '{"watermark": false}',
        '{"encoder": {"webp_method": 3}}',
        '{"max_megapixels": 50}',
        '{"key_template": "out/{variant}/{path}.{ext}"}',
        '{"variants": [{"name": "large", "width": 1201}]}',
    ]
    prints = {fingerprint(load_config(c)) for c in changed}
    assert len(prints) == len(changed) and fingerprint(base) not in prints
    # the key order of the JSON does not matter
    a = '{"quality": {"jpeg": 70, "webp": 70}, "background": "#101010"}'
    b = '{"background": "#101010", "quality": {"webp": 70, "jpeg": 70}}'
    assert fingerprint(load_config(a)) == fingerprint(load_config(b))


def test_duplicate_event_does_the_work_once(storage):
    event = upload(storage, image_bytes("flower.jpg"))
    first = run(storage, event)
    assert first.outcome == "processed" and len(first.outputs) == 6
    puts = [c[2] for c in storage.calls if c[0] == "put"]
    # the six variants, then the "ready" manifest (fc_handler/manifest.py), last
    assert puts[:6] == list(first.outputs) or sorted(puts[:6]) == sorted(first.outputs)
    assert puts[6:] == ["resized/_ready/a/x.jpg.json"]
    # a first upload deletes nothing: no old variants, no old rejection record
    assert [c for c in storage.calls if c[0] == "delete"] == []
    snapshot = {k: storage.get(DST, k) for k in first.outputs}

    second = run(storage, json.dumps(event).encode())
    assert second.outcome == "current"
    assert second.outputs == first.outputs
    assert storage.writes() == []
    # the source was looked at (HEAD) but never downloaded
    assert ("get", SRC, KEY) not in storage.calls
    assert {k: storage.get(DST, k) for k in first.outputs} == snapshot


def test_variants_carry_the_etag_and_the_fingerprint(storage):
    data = image_bytes("flower.jpg")
    outcome = run(storage, upload(storage, data))
    for key in outcome.outputs:
        meta = storage.metadata(DST, key)["metadata"]
        assert meta["source-etag"] == storage.head(SRC, KEY).etag
        assert meta[FINGERPRINT] == fingerprint(load_config("{}"))


def test_a_deleted_variant_makes_the_object_stale(storage):
    event = upload(storage, image_bytes("flower.jpg"))
    first = run(storage, event)
    storage.delete(DST, first.outputs[3])
    again = run(storage, event)
    assert again.outcome == "processed"
    assert storage.get(DST, first.outputs[3])


def test_a_changed_configuration_makes_every_variant_stale(storage):
    event = upload(storage, image_bytes("flower.jpg"))
    run(storage, event)
    config = json.dumps({"quality": {"jpeg": 60}})
    again = run(storage, event, IMGPIPE_CONFIG=config)
    assert again.outcome == "processed"
    new_print = fingerprint(load_config(config))
    assert {storage.metadata(DST, k)["metadata"][FINGERPRINT] for k in again.outputs} == {new_print}
    assert run(storage, event, IMGPIPE_CONFIG=config).outcome == "current"
    # and the old configuration now finds them stale in turn
    assert run(storage, event).outcome == "processed"


def test_a_replaced_source_makes_the_object_stale(storage):
    run(storage, upload(storage, image_bytes("flower.jpg")))
    replaced = upload(storage, image_bytes("hopper.jpg"))
    assert run(storage, replaced).outcome == "processed"
    etag = storage.head(SRC, KEY).etag
    assert storage.metadata(DST, "resized/small/a/x.jpg.jpg")["metadata"]["source-etag"] == etag


def test_a_tampered_fingerprint_is_stale(storage):
    event = upload(storage, image_bytes("flower.jpg"))
    first = run(storage, event)
    key = first.outputs[-1]
    meta = storage.metadata(DST, key)
    storage.put(
        DST,
        key,
        storage.get(DST, key),
        content_type=meta["headers"]["Content-Type"],
        metadata={**meta["metadata"], FINGERPRINT: "0" * 16},
    )
    assert run(storage, event).outcome == "processed"


def test_a_rejection_is_current_too(storage):
    event = upload(storage, b"<html>not a photo</html>", "uploads/page.jpg")
    first = run(storage, event)
    assert first.outcome == "rejected"
    second = run(storage, event)
    assert (second.outcome, second.outputs) == ("current", ("rejected/page.jpg.json",))
    assert storage.writes() == []


def test_force_redoes_current_work(storage):
    event = upload(storage, image_bytes("flower.jpg"))
    run(storage, event)
    event["imgpipeforce"] = "true"
    assert run(storage, event).outcome == "processed"
    # six variants and the manifest, again
    assert len([c for c in storage.calls if c[0] == "put"]) == 7


def test_a_forbidden_head_counts_as_stale_and_a_transient_one_raises(storage):
    event = upload(storage, image_bytes("flower.jpg"))
    run(storage, event)
    storage.head_error = StorageError("oss://photos-dst/...: HTTP 403 AccessDenied")
    assert run(storage, event).outcome == "processed"
    storage.head_error = TransientError("oss://photos-dst/...: HTTP 503")
    with pytest.raises(TransientError):
        run(storage, event)


def test_current_outputs_stops_at_the_first_missing_variant(storage):
    config = load_config("{}")
    found = current_outputs(
        storage,
        target_bucket=DST,
        outputs=outputs_for(config, "uploads/", "rejected/", KEY),
        config=config,
        etag="0" * 32,
    )
    assert found is None
    # one HEAD for the first variant, one for the rejection record (sent at
    # once, so in either order): no more
    assert sorted(c[2] for c in storage.calls) == [
        "rejected/a/x.jpg.json",
        "resized/large/a/x.jpg.jpg",
    ]
