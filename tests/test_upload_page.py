"""The browser's upload, end to end, in real headless Chromium (issue 25).

`imgpipe upload-page`'s two servers run in this process; Chromium loads the
page from the app server, a real photo is chosen in its file input and the
page's own script does the rest: it asks the app for a PostObject policy,
POSTs the form straight to the bucket stand-in (another origin, CORS as the
module configures it), polls the "ready" manifest through its signed URL
and shows every variant through a signed URL from the app. The stand-in
ran the upload through the demo's path (pattern, real handler), so the
photo is in `report.html` too.

Offline: Chromium talks to 127.0.0.1 only (tests/chromium.py's flags turn
its background networking off); nothing else is fetched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import chromium
import pytest
import urllib3
from chromium_upload import upload
from PIL import Image

from imgpipe.commands.demo import upload_page

PHOTO = Path(__file__).parent / "data" / "bench" / "photo-12mp.jpg"
NOT_A_PHOTO = Path(__file__).parent / "data" / "samples" / "not-a-photo.jpg"
# The keys the page's stand-in accepts and `imgpipe url` signs with (both read the environment).
KEYS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-test",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "test-secret",
}


@pytest.fixture
def binary() -> str:
    found = chromium.find()
    if found is None:
        pytest.skip("chromium not installed: apt-get install -y chromium (~100 MB) to run this")
    return found


@pytest.fixture
def app(tmp_path, monkeypatch):
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    app = upload_page.start(tmp_path / "work")
    yield app
    app.close()


def _polling_404(error: str) -> bool:
    """The manifest's and rejection record's GETs answer 404 until written:
    Chromium logs each as a failed resource. Nothing else may fail."""
    return "status of 404" in error


def test_a_photo_uploaded_from_chromium_comes_back_as_its_variants(app, binary):
    result = upload(app.endpoint + "/", PHOTO, binary)
    assert result.state == "ready", (result.status, result.log, result.errors)
    assert [e for e in result.errors if not _polling_404(e)] == []

    settings = app.pipeline.settings
    (row,) = app.pipeline.rows
    assert row.outcome == "processed" and row.key.startswith(settings.source_prefix + "web/")
    # the upload went to the bucket stand-in, another origin, as a form POST
    posts = [r for r in result.requests if r["method"] == "POST"]
    assert [urlsplit(p["url"]).netloc for p in posts] == [urlsplit(app.oss.endpoint).netloc]
    assert [p["status"] for p in posts] == [200]
    # every variant shown, decoded by Chromium, at the size the handler wrote
    target = app.pipeline.buckets / settings.target_bucket
    shown = {
        img["src"].split("?")[0].split(settings.target_bucket + "/", 1)[1]: img
        for img in result.images
    }
    assert sorted(shown) == sorted(row.outputs) and len(shown) == 6
    for key, img in shown.items():
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0
        with Image.open(target / key) as written:
            assert (img["naturalWidth"], img["naturalHeight"]) == written.size
    # ... each through a signed URL of the stand-in
    assert all("Signature=" in img["src"] and "Expires=" in img["src"] for img in result.images)
    # ... and `imgpipe url`, as a user runs it, prints URLs that read the same bytes
    for key in row.outputs:
        url = subprocess.run(
            [
                sys.executable,
                "-m",
                "imgpipe",
                "url",
                key,
                "--outputs",
                str(app.pipeline.work_dir / "outputs.json"),
                "--oss-endpoint",
                app.oss.endpoint,
            ],
            env={**os.environ, **KEYS},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert answer.read() == (target / key).read_bytes()
    # the stored source is the photo's bytes, under the key the policy named
    source = app.pipeline.buckets / settings.source_bucket / row.key
    assert source.read_bytes() == PHOTO.read_bytes()
    assert app.pipeline.buckets.joinpath(".imgpipe-meta", settings.source_bucket, row.key + ".meta")
    # and the demo's report shows it beside its variants
    report = (app.pipeline.work_dir / "report.html").read_text()
    assert row.key in report and all(key in report for key in row.outputs)
    page = chromium.load(app.pipeline.work_dir / "report.html", binary)
    decoded = [i for i in page.images if i["complete"] and i["naturalWidth"] > 0]
    assert len(decoded) == len(page.images) == 1 + 6  # the source beside its six variants


def test_a_file_that_is_no_photo_is_refused_before_any_upload(app, binary, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    result = upload(app.endpoint + "/", notes, binary, timeout=30)
    assert result.state == "failed" and "not a photo the pipeline processes" in result.status
    assert not [r for r in result.requests if r["method"] == "POST"]
    assert list((app.pipeline.buckets / app.pipeline.settings.source_bucket).rglob("*")) == []


def test_bytes_that_are_no_image_end_as_a_rejection_the_page_reports(app, binary):
    """An image ending and type, but not an image: the policy lets it in (OSS
    cannot look at the bytes), the function rejects it, and the page learns
    that from the rejection record, not by waiting forever."""
    result = upload(app.endpoint + "/", NOT_A_PHOTO, binary)
    assert result.state == "rejected", (result.status, result.log)
    (row,) = app.pipeline.rows
    assert row.outcome == "rejected"
    record = app.pipeline.buckets / app.pipeline.settings.target_bucket / row.outputs[0]
    assert json.loads(record.read_text())["reason"] in result.status


def test_the_command_prints_where_to_go_and_stops_cleanly(tmp_path, capsys):
    assert upload_page.main(tmp_path / "w", 600, seconds=0.2) == 0
    out = capsys.readouterr().out
    assert "Upload page: http://127.0.0.1:" in out and "Local OSS:   http://127.0.0.1:" in out
    assert "0 uploads processed" in out


def test_a_work_dir_holding_other_files_is_refused(tmp_path, capsys):
    work = tmp_path / "mine"
    work.mkdir()
    (work / "thesis.tex").write_text("keep me")
    assert upload_page.main(work, 600, seconds=0.2) == 2
    assert "holds files the demo did not write" in capsys.readouterr().err
    assert (work / "thesis.tex").read_text() == "keep me"


def test_the_app_signs_outputs_only_and_photos_only(app):
    http = urllib3.PoolManager(retries=False)
    r = http.request("GET", app.endpoint + "/url?key=uploads/someone-elses.jpg")
    assert r.status == 403 and "not an output" in json.loads(r.data)["error"]
    r = http.request("GET", app.endpoint + "/policy?name=report.pdf")
    assert r.status == 400 and "not a photo" in json.loads(r.data)["error"]
    policy = json.loads(http.request("GET", app.endpoint + "/policy?name=../../x%20y.JPG").data)
    assert policy["key"].endswith("/x_y.JPG") and ".." not in policy["key"]


def test_a_photo_over_the_limit_is_refused_by_the_bucket_and_the_page_says_so(
    app, binary, tmp_path
):
    """The policy's content-length-range is max_object_mb: one byte more and
    the bucket answers EntityTooLarge; the page shows it; nothing is stored."""
    big = tmp_path / "huge.jpg"
    with big.open("wb") as fh:
        fh.truncate(app.pipeline.settings.max_object_bytes + 1)
    result = upload(app.endpoint + "/", big, binary, timeout=60)
    assert result.state == "failed"
    assert "the bucket refused the upload: EntityTooLarge" in result.status
    assert [r["status"] for r in result.requests if r["method"] == "POST"] == [400]
    assert list((app.pipeline.buckets / app.pipeline.settings.source_bucket).rglob("*")) == []
    assert app.pipeline.rows == []
