"""Deletions follow the source (`delete_variants_with_source`, default true).

The deployed pattern routes `oss:ObjectRemoved:DeleteObject` and
`DeleteObjects` for the source prefix's images; the handler, finding the
source gone, deletes its variants and rejection record; the role may delete
under the output and rejection prefixes only. Overwriting an image with a
non-image removes its variants (and the other way round, its rejection
record). The recursion guard holds for deletions too.
"""

from __future__ import annotations

import json

import oss2
import pytest
from conftest import image_bytes
from standins import OssStandIn

from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage
from fc_handler.storage_oss import OssStorage
from imgpipe.cloud.eventpattern import matches
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.terraform import LOCAL_ACCOUNT, evaluate

SRC, DST = "photos-src", "photos-dst"
VARIANTS = [
    f"resized/{v}/a/x.jpg.{e}" for v in ("large", "medium", "small") for e in ("jpg", "webp")
]


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path)


def run(storage, event, **env):
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST, **env})
    log: list[dict] = []
    (outcome,) = handle_event(
        event, settings=settings, storage=storage, request_id="r", log=log.append
    )
    assert log[0]["outcome"] == outcome.outcome
    return outcome


def exists(storage, bucket, key) -> bool:
    return (storage.root / bucket / key).exists()


def processed(storage, key="uploads/a/x.jpg", data=None, **env):
    data = data or image_bytes("flower.jpg")
    storage.put(SRC, key, data, content_type="image/jpeg")
    return run(storage, cloudevent(SRC, key, data), **env)


@pytest.mark.parametrize("api", ["ObjectRemoved:DeleteObject", "ObjectRemoved:DeleteObjects"])
def test_deleting_a_source_deletes_its_variants(storage, api):
    assert processed(storage).outcome == "processed"
    processed(storage, "uploads/a/other.jpg")
    storage.delete(SRC, "uploads/a/x.jpg")
    outcome = run(storage, cloudevent(SRC, "uploads/a/x.jpg", b"", api=api))
    assert outcome.outcome == "deleted"
    manifest = "resized/_ready/a/x.jpg.json"  # fc_handler/manifest.py: it goes too
    assert set(outcome.outputs) == {*VARIANTS, "rejected/a/x.jpg.json", manifest}
    assert not any(exists(storage, DST, k) for k in [*VARIANTS, manifest])
    assert exists(storage, DST, "resized/_ready/a/other.jpg.json")
    assert not (storage.root / ".imgpipe-meta" / DST / "resized/large/a/x.jpg.jpg.json").exists()
    # the neighbour is untouched
    assert exists(storage, DST, "resized/large/a/other.jpg.jpg")


def test_deleting_a_rejected_source_deletes_its_record(storage):
    data = b"<html>a page</html>"
    storage.put(SRC, "uploads/page.jpg", data, content_type="image/jpeg")
    assert run(storage, cloudevent(SRC, "uploads/page.jpg", data)).outcome == "rejected"
    assert exists(storage, DST, "rejected/page.jpg.json")
    storage.delete(SRC, "uploads/page.jpg")
    event = cloudevent(SRC, "uploads/page.jpg", b"", api="ObjectRemoved:DeleteObject")
    assert run(storage, event).outcome == "deleted"
    assert not exists(storage, DST, "rejected/page.jpg.json")


def test_a_source_uploaded_again_keeps_its_variants(storage):
    processed(storage)
    # the deletion's event arrives after the object was uploaded again
    event = cloudevent(SRC, "uploads/a/x.jpg", b"", api="ObjectRemoved:DeleteObject")
    outcome = run(storage, event)
    assert (outcome.outcome, outcome.reason.split(" ")[0]) == ("ignored", "source-exists")
    assert all(exists(storage, DST, k) for k in VARIANTS)


def test_deletions_not_followed_when_switched_off(storage):
    processed(storage)
    storage.delete(SRC, "uploads/a/x.jpg")
    event = cloudevent(SRC, "uploads/a/x.jpg", b"", api="ObjectRemoved:DeleteObject")
    outcome = run(storage, event, DELETE_VARIANTS_WITH_SOURCE="false")
    assert outcome.outcome == "ignored" and outcome.reason.startswith("deletions-not-followed")
    assert all(exists(storage, DST, k) for k in VARIANTS)


def test_overwriting_an_image_with_a_non_image_and_back(storage):
    processed(storage)
    junk = b"%PDF-1.4 not an image"
    storage.put(SRC, "uploads/a/x.jpg", junk, content_type="image/jpeg")
    rejected = run(storage, cloudevent(SRC, "uploads/a/x.jpg", junk))
    assert rejected.outcome == "rejected"
    assert not any(exists(storage, DST, k) for k in VARIANTS)  # stale variants gone
    assert exists(storage, DST, "rejected/a/x.jpg.json")
    again = processed(storage)
    assert again.outcome == "processed"
    assert not exists(storage, DST, "rejected/a/x.jpg.json")  # stale record gone


def test_overwriting_keeps_everything_when_switched_off(storage):
    processed(storage, DELETE_VARIANTS_WITH_SOURCE="false")
    junk = b"%PDF-1.4 not an image"
    storage.put(SRC, "uploads/a/x.jpg", junk, content_type="image/jpeg")
    run(storage, cloudevent(SRC, "uploads/a/x.jpg", junk), DELETE_VARIANTS_WITH_SOURCE="false")
    assert all(exists(storage, DST, k) for k in VARIANTS)


def test_recursion_guard_holds_for_deletions(storage):
    same = {"TARGET_BUCKET": SRC, "SOURCE_PREFIX": ""}
    data = image_bytes("hopper.jpg")
    storage.put(SRC, "x.jpg", data, content_type="image/jpeg")
    first = run(storage, cloudevent(SRC, "x.jpg", data), **same)
    assert first.outcome == "processed"
    # each variant deleted by the function comes back as a deletion event: ignored
    for key in first.outputs:
        event = cloudevent(SRC, key, b"", api="ObjectRemoved:DeleteObject")
        again = run(storage, event, **same)
        assert (again.outcome, again.reason) == ("ignored", "own-output")
    assert all(exists(storage, SRC, k) for k in first.outputs)
    storage.delete(SRC, "x.jpg")
    gone = run(storage, cloudevent(SRC, "x.jpg", b"", api="ObjectRemoved:DeleteObject"), **same)
    assert gone.outcome == "deleted"
    assert not any(exists(storage, SRC, k) for k in first.outputs)


# ---------------------------------------------------------------- Terraform


def test_the_deployed_pattern_routes_deletions_of_images_under_the_prefix():
    ev = evaluate({"env": "dev"})
    env = ev.function_environment
    src = env["SOURCE_BUCKET"]
    assert env["DELETE_VARIANTS_WITH_SOURCE"] == "true"
    assert Settings.from_env(env).delete_variants_with_source is True

    def routed(key, api, bucket=src):
        return matches(
            ev.filter_pattern, cloudevent(bucket, key, b"", api=api, account=LOCAL_ACCOUNT)
        )

    for api in ("ObjectRemoved:DeleteObject", "ObjectRemoved:DeleteObjects"):
        assert routed("uploads/a/x.jpg", api)
        # routed (the pattern filters no endings), then ignored by the handler unread
        assert routed("uploads/notes.txt", api)
        assert not Settings.from_env(env).is_image_key("uploads/notes.txt")
        assert not routed("elsewhere/x.jpg", api)
        assert not routed("resized/large/x.jpg", api, env["TARGET_BUCKET"])
    assert not routed("uploads/a/x.jpg", "ObjectRemoved:AbortMultipartUpload")


def test_switched_off_nothing_routes_deletions_and_the_role_cannot_delete():
    on, off = (
        evaluate({"env": "dev"}),
        evaluate({"env": "dev", "delete_variants_with_source": False}),
    )
    assert "oss:ObjectRemoved:DeleteObject" not in off.filter_pattern["type"]
    assert Settings.from_env(off.function_environment).delete_variants_with_source is False

    def actions(ev):
        policy = json.loads(ev.one("alicloud_ram_policy")["policy_document"])
        return {(a, r) for s in policy["Statement"] for a in s["Action"] for r in s["Resource"]}

    deletes = {r for a, r in actions(on) if a == "oss:DeleteObject"}
    target = on.function_environment["TARGET_BUCKET"]
    assert {r.split(f":{target}/", 1)[1] for r in deletes} == {
        "resized/*",  # key_template's literal prefix: one ARN for every variant
        "rejected/*",
    }
    assert not any(on.function_environment["SOURCE_BUCKET"] in r for r in deletes)
    assert not {a for a, _ in actions(off)} & {"oss:DeleteObject"}


# ---------------------------------------------------------------- OSS


def test_oss_delete_and_metadata_over_http():
    with OssStandIn() as oss:
        storage = OssStorage(oss2.Auth("k", "s"), oss.endpoint)
        storage.put(
            DST,
            "resized/large/é.jpg",
            b"v",
            content_type="image/jpeg",
            metadata={"source-key": "uploads/é.jpg", "config-fingerprint": "abc"},
        )
        info = storage.head(DST, "resized/large/é.jpg")
        assert info.metadata == {"source-key": "uploads/é.jpg", "config-fingerprint": "abc"}
        storage.delete(DST, "resized/large/é.jpg")
        storage.delete(DST, "resized/large/é.jpg")  # already gone: still fine
        deletes = [r for r in oss.requests if r.method == "DELETE"]
        assert [r.path for r in deletes] == [f"/{DST}/resized/large/é.jpg"] * 2
        assert oss.keys(DST) == []
