"""The "ready" manifest (fc_handler/manifest.py): written last, true, healed, deleted.

A client polls `resized/_ready/<relative>.json` to learn that its upload's
variants are all there (docs/uploading.md). These tests run the real
handler on real photos against local buckets and read what it wrote.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import image_bytes

from fc_handler.current import manifest_key
from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage
from imgpipe.cloud.events import cloudevent

SRC, DST = "photos-src", "photos-dst"
KEY, MANIFEST = "uploads/a/x.jpg", "resized/_ready/a/x.jpg.json"


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path)


def settings(**env) -> Settings:
    return Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST, **env})


def run(storage, event, **env):
    (outcome,) = handle_event(
        event, settings=settings(**env), storage=storage, request_id="r", log=lambda _r: None
    )
    return outcome


def upload(storage, data, key=KEY):
    storage.put(SRC, key, data, content_type="image/jpeg")
    return cloudevent(SRC, key, data)


def read_manifest(storage) -> dict:
    return json.loads(storage.get(DST, MANIFEST))


def test_the_manifest_lists_every_variant_as_written(storage):
    data = image_bytes("flower.jpg")
    outcome = run(storage, upload(storage, data))
    assert outcome.outcome == "processed"
    doc = read_manifest(storage)
    assert doc["source"] == {
        "bucket": SRC,
        "key": KEY,
        "etag": hashlib.md5(data).hexdigest().upper(),
        "bytes": len(data),
    }
    assert [v["key"] for v in doc["variants"]] == list(outcome.outputs)
    for v in doc["variants"]:
        written = storage.get(DST, v["key"])
        assert v["bytes"] == len(written) > 0
        assert v["etag"] == storage.head(DST, v["key"]).etag
        assert v["content_type"] == {"jpeg": "image/jpeg", "webp": "image/webp"}[v["format"]]
    assert {v["variant"] for v in doc["variants"]} == {"large", "medium", "small"}
    meta = storage.metadata(DST, MANIFEST)
    assert meta["headers"] == {"Content-Type": "application/json", "Cache-Control": "no-cache"}
    # stamped like a variant: this source's ETag and the configuration's fingerprint
    assert meta["metadata"]["source-etag"] == doc["source"]["etag"]
    assert meta["metadata"]["config-fingerprint"] == doc["config_fingerprint"]


def test_the_key_follows_the_key_template(storage):
    env = {"IMGPIPE_CONFIG": '{"key_template": "out/{variant}-{stem}.{ext}"}'}
    data = image_bytes("flower.jpg")
    assert run(storage, upload(storage, data, "uploads/d/p.jpg"), **env).outcome == "processed"
    assert manifest_key(settings(**env).processor, "d/p.jpg") == "out/_ready/d/p.jpg.json"
    doc = json.loads(storage.get(DST, "out/_ready/d/p.jpg.json"))
    assert all(v["key"].startswith("out/") for v in doc["variants"])


def test_a_rejected_upload_has_no_manifest_and_loses_an_old_one(storage):
    assert run(storage, upload(storage, image_bytes("flower.jpg"))).outcome == "processed"
    assert storage.get(DST, MANIFEST)
    page = b"<html>not a photo</html>"
    outcome = run(storage, upload(storage, page))
    assert outcome.outcome == "rejected"
    assert not (storage.root / DST / MANIFEST).exists()
    record = json.loads(storage.get(DST, "rejected/a/x.jpg.json"))
    assert record["etag"] == hashlib.md5(page).hexdigest().upper()


def test_a_lost_manifest_is_rewritten_by_the_next_delivery(storage):
    """A crash (or a failed PUT) between the last variant and the manifest:
    FC's retry finds the variants current and writes the manifest only."""
    event = upload(storage, image_bytes("flower.jpg"))
    run(storage, event)
    first = read_manifest(storage)
    storage.delete(DST, MANIFEST)
    before = {k: storage.head(DST, k) for k in (v["key"] for v in first["variants"])}
    again = run(storage, event)
    assert again.outcome == "current"
    healed = read_manifest(storage)
    assert healed["variants"] == first["variants"] and healed["source"] == first["source"]
    # the variants themselves were not rewritten
    assert {k: storage.head(DST, k) for k in before} == before


def test_a_stale_manifest_is_rewritten_and_a_current_one_left_alone(storage):
    event = upload(storage, image_bytes("flower.jpg"))
    run(storage, event)
    sidecar = storage._sidecar(DST, MANIFEST)
    meta = json.loads(sidecar.read_text())
    meta["metadata"]["source-etag"] = "0" * 32  # an older upload's manifest
    sidecar.write_text(json.dumps(meta))
    assert run(storage, event).outcome == "current"
    assert storage.metadata(DST, MANIFEST)["metadata"]["source-etag"] != "0" * 32
    mtime = (storage.root / DST / MANIFEST).stat().st_mtime_ns
    assert run(storage, event).outcome == "current"
    assert (storage.root / DST / MANIFEST).stat().st_mtime_ns == mtime


def test_a_manifest_is_never_taken_for_an_upload_in_a_shared_bucket(storage):
    """Same bucket for sources and outputs, empty source prefix: the
    manifest's own event is ignored, never processed."""
    env = {"TARGET_BUCKET": SRC, "SOURCE_PREFIX": ""}
    data = image_bytes("flower.jpg")
    storage.put(SRC, "x.jpg", data, content_type="image/jpeg")
    (outcome,) = handle_event(
        cloudevent(SRC, "x.jpg", data),
        settings=Settings.from_env({"SOURCE_BUCKET": SRC, **env}),
        storage=storage,
        request_id="r",
        log=lambda _r: None,
    )
    assert outcome.outcome == "processed"
    key = "resized/_ready/x.jpg.json"
    body = storage.get(SRC, key)
    (again,) = handle_event(
        cloudevent(SRC, key, body),
        settings=Settings.from_env({"SOURCE_BUCKET": SRC, **env}),
        storage=storage,
        request_id="r",
        log=lambda _r: None,
    )
    assert again.outcome == "ignored" and again.reason == "not-an-image-suffix"
