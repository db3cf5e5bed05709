"""`imgpipe process` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import IMAGES
from PIL import Image

FIELDS = {"source", "status", "reason", "outputs", "ms"}
OUTPUT_FIELDS = {"key", "path", "format", "width", "height", "bytes"}


def run(*args, cwd=None):
    args = ("process", *args)
    return subprocess.run(
        [sys.executable, "-m", "imgpipe", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def test_process_writes_variants_and_prints_one_line_per_input(tmp_path):
    inputs = [IMAGES / "hopper_orientation_6.jpg", IMAGES / "broken.png", IMAGES / "flower.jpg"]
    done = run(*map(str, inputs), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [rec["source"] for rec in lines] == [str(p) for p in inputs]
    for rec in lines:
        assert rec.keys() >= FIELDS
    ok, broken, flower = lines
    assert broken["status"] == "rejected" and broken["reason"] == "corrupt"
    assert broken["outputs"] == []
    assert ok["status"] == "ok" and ok["reason"] is None and len(ok["outputs"]) == 6
    for out in ok["outputs"] + flower["outputs"]:
        assert out.keys() >= OUTPUT_FIELDS
        path = tmp_path / "out" / out["key"]
        assert str(path) == out["path"]
        assert path.stat().st_size == out["bytes"]
        with Image.open(path) as im:
            assert im.size == (out["width"], out["height"])
            assert im.format == out["format"].upper()
    assert ok["outputs"][0]["key"] == "resized/large/hopper_orientation_6.jpg.jpg"
    assert {o["key"] for o in flower["outputs"]} >= {"resized/small/flower.jpg.webp"}
    # nothing half-written is left behind
    assert not list((tmp_path / "out").rglob("*.part"))


def test_config_file_changes_variants_and_layout(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps(
            {
                "variants": [{"name": "thumb", "width": 64, "height": 64, "formats": ["avif"]}],
                "key_template": "out/{variant}/{stem}-{variant}.{ext}",
            }
        )
    )
    done = run(str(IMAGES / "flower.jpg"), "--out", str(tmp_path), "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    (rec,) = [json.loads(line) for line in done.stdout.splitlines()]
    (out,) = rec["outputs"]
    assert out["key"] == "out/thumb/flower-thumb.avif"
    assert (out["width"], out["height"]) == (64, 48)


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"quality": {"jpeg": 500}}')
    done = run(str(IMAGES / "flower.jpg"), "--out", str(tmp_path), "--config", str(cfg))
    assert done.returncode == 2
    assert "quality.jpeg" in done.stderr


def test_unreadable_input_is_named_and_the_others_go_on(tmp_path):
    good = tmp_path / "good.jpg"
    shutil.copy(IMAGES / "hopper.jpg", good)
    done = run(str(tmp_path / "missing.jpg"), str(good), "--out", str(tmp_path / "o"))
    assert done.returncode == 1
    missing, ok = (json.loads(line) for line in done.stdout.splitlines())
    assert missing["status"] == "unreadable" and missing["reason"] == "not-found"
    assert missing["detail"] == f"{tmp_path / 'missing.jpg'}: no such file or directory"
    error, summary = done.stderr.splitlines()
    assert error == f"imgpipe process: {missing['detail']}"
    assert summary.startswith("imgpipe process: 2 inputs: 1 ok, 1 unreadable (not-found); 6 ")
    assert ok["status"] == "ok"  # one bad input does not stop the others
