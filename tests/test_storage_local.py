"""The local buckets `make demo`, `imgpipe invoke` and backfill use: what lands on disk."""

from __future__ import annotations

import pytest

from fc_handler.storage import LocalStorage, NotFound


def test_objects_and_their_metadata_sidecars_have_plain_names(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.put(
        "out",
        "rejected/a/x.jpg.json",
        b"{}",
        content_type="application/json",
        metadata={"source-key": "a/x.jpg"},
    )
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [".imgpipe-meta/out/rejected/a/x.jpg.json.meta", "out/rejected/a/x.jpg.json"]
    assert storage.head("out", "rejected/a/x.jpg.json").metadata == {"source-key": "a/x.jpg"}


def test_delete_removes_the_object_and_its_sidecar(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.put("out", "k.webp", b"x", content_type="image/webp")
    storage.delete("out", "k.webp")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    with pytest.raises(NotFound):
        storage.head("out", "k.webp")
