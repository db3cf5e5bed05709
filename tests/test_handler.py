"""The real handler on real event shapes, against local buckets."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from conftest import DATA, image_bytes
from PIL import Image

import index
from fc_handler.events import EventError, parse_event
from fc_handler.handle import handle_event
from fc_handler.settings import Settings, SettingsError
from fc_handler.storage import LocalStorage, TransientError
from imgpipe.cloud.events import cloudevent, native_event

SAMPLES = json.loads((DATA / "events" / "event-samples.json").read_text())
SRC, DST = "photos-src", "photos-dst"
ENV = {"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST}


@pytest.fixture
def buckets(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path)


def settings(**env) -> Settings:
    return Settings.from_env({**ENV, **env})


def upload(storage: LocalStorage, key: str, data: bytes, bucket: str = SRC) -> None:
    storage.put(bucket, key, data, content_type="application/octet-stream")


def run(event, storage, captured=None, **env):
    log = captured.append if captured is not None else (lambda _r: None)
    return handle_event(
        event, settings=settings(**env), storage=storage, request_id="req-1", log=log
    )


def sample_cloudevent(key: str, data: bytes, bucket: str = SRC) -> dict:
    """The documented sample, with bucket, key, size and ETag filled in."""
    event = copy.deepcopy(SAMPLES["eventbridge_cloudevent_oss_object_created"]["event"])
    made = cloudevent(bucket, key, data)
    event["data"]["oss"] = made["data"]["oss"]
    event["subject"] = made["subject"]
    return event


def test_documented_cloudevent_sample_parses_at_the_right_paths():
    (rec,) = parse_event(json.dumps(SAMPLES["eventbridge_cloudevent_oss_object_created"]["event"]))
    assert rec.bucket == "******" and rec.key == "input/***********.csv"
    assert rec.event_name == "ObjectCreated:PostObject" and rec.is_object_created
    assert rec.size == 59537 and rec.etag == "63***********D32"


def test_documented_native_sample_parses():
    (rec,) = parse_event(json.dumps(SAMPLES["native_oss_trigger_event"]["event"]).encode())
    assert (rec.bucket, rec.key, rec.size) == ("testbucket", "image/a.jpg", 122539)


def test_upload_produces_variants_with_headers_and_metadata(buckets):
    data = image_bytes("flower.jpg")
    upload(buckets, "uploads/a/x.jpg", data)
    log = []
    (outcome,) = run(json.dumps(sample_cloudevent("uploads/a/x.jpg", data)).encode(), buckets, log)
    assert outcome.outcome == "processed"
    assert outcome.outputs[0] == "resized/large/a/x.jpg.jpg"
    assert len(outcome.outputs) == 6
    for key in outcome.outputs:
        body = buckets.get(DST, key)
        meta = buckets.metadata(DST, key)
        fmt = Image.open(io.BytesIO(body)).format
        assert meta["headers"]["Content-Type"] == f"image/{fmt.lower()}"
        assert meta["headers"]["Cache-Control"] == "public, max-age=86400"
        assert meta["metadata"]["source-key"] == "uploads/a/x.jpg"
        assert meta["metadata"]["source-etag"] == buckets.head(SRC, "uploads/a/x.jpg").etag
    (line,) = log
    assert {"request_id", "bucket", "key", "outcome", "reason", "outputs", "bytes", "ms"} <= set(
        line
    )
    assert line["request_id"] == "req-1" and line["bytes"] == len(data)
    assert line["decoder"] == "pillow"  # a JPEG


def test_log_line_says_libvips_decoded_a_png(buckets):
    """The one place a package whose libvips failed to load would show."""
    data = image_bytes("gbr.png")  # 8-bit RGBA: pngdecode takes it
    upload(buckets, "uploads/g.png", data)
    log = []
    (outcome,) = run(json.dumps(sample_cloudevent("uploads/g.png", data)).encode(), buckets, log)
    assert outcome.outcome == "processed"
    assert log[0]["decoder"] == "libvips"


def test_same_name_in_two_folders_does_not_collide(buckets):
    a, b = image_bytes("hopper.jpg"), image_bytes("flower.jpg")
    upload(buckets, "uploads/a/x.jpg", a)
    upload(buckets, "uploads/b/x.jpg", b)
    run(cloudevent(SRC, "uploads/a/x.jpg", a), buckets)
    run(cloudevent(SRC, "uploads/b/x.jpg", b), buckets)
    sizes = {
        Image.open(io.BytesIO(buckets.get(DST, f"resized/large/{d}/x.jpg.jpg"))).size for d in "ab"
    }
    assert sizes == {(128, 128), (480, 360)}


@pytest.mark.parametrize("encode", [lambda k: k, quote, quote_plus], ids=["raw", "quote", "plus"])
@pytest.mark.parametrize(
    "key",
    ["uploads/my photo.jpg", "uploads/фото/日本 ü.jpg", "uploads/100% real.jpg", "uploads/a+b.jpg"],
)
def test_keys_raw_or_url_encoded(buckets, key, encode):
    data = image_bytes("hopper.jpg")
    upload(buckets, key, data)
    (outcome,) = run(cloudevent(SRC, encode(key), data), buckets)
    assert outcome.outcome == "processed", outcome
    assert outcome.key == key
    rel = key.removeprefix("uploads/")
    assert buckets.get(DST, f"resized/small/{rel}.webp")


def test_literal_percent_sequence_is_never_decoded_twice(buckets):
    """`a%2541.jpg` exists literally; decoding once gives `a%41.jpg`, twice `aA.jpg`."""
    data = image_bytes("hopper.jpg")
    upload(buckets, "uploads/a%2541.jpg", data)
    upload(buckets, "uploads/aA.jpg", image_bytes("flower.jpg"))
    (outcome,) = run(cloudevent(SRC, "uploads/a%2541.jpg", data), buckets)
    assert outcome.key == "uploads/a%2541.jpg"
    # and the URL-encoded form of the same literal name resolves to it too
    (outcome,) = run(cloudevent(SRC, quote("uploads/a%2541.jpg"), data), buckets)
    assert outcome.key == "uploads/a%2541.jpg"


def test_etag_picks_between_raw_and_decoded_forms(buckets):
    raw, decoded = image_bytes("hopper.jpg"), image_bytes("flower.jpg")
    upload(buckets, "uploads/a%20b.jpg", raw)
    upload(buckets, "uploads/a b.jpg", decoded)
    (outcome,) = run(cloudevent(SRC, "uploads/a%20b.jpg", decoded), buckets)
    assert outcome.key == "uploads/a b.jpg"
    (outcome,) = run(cloudevent(SRC, "uploads/a%20b.jpg", raw), buckets)
    assert outcome.key == "uploads/a%20b.jpg"


def test_native_event_with_several_records_and_a_rejection(buckets):
    files = {
        "uploads/1.jpg": image_bytes("hopper.jpg"),
        "uploads/2.png": image_bytes("broken.png"),
        "uploads/3.jpg": b"just some text",
        "uploads/4.webp": image_bytes("hopper.webp"),
        "uploads/5.txt": b"just some text",
    }
    for key, data in files.items():
        upload(buckets, key, data)
    outcomes = run(native_event([(SRC, k, d) for k, d in files.items()]), buckets)
    # 5.txt is no image key (IMAGE_SUFFIXES): ignored unread, no rejection record
    assert [o.outcome for o in outcomes] == [
        "processed", "rejected", "rejected", "processed", "ignored"
    ]  # fmt: skip
    assert [o.reason for o in outcomes] == [
        None, "corrupt", "unsupported", None, "not-an-image-suffix"
    ]  # fmt: skip
    assert not (buckets.root / DST / "rejected" / "5.txt.json").exists()
    record = json.loads(buckets.get(DST, "rejected/2.png.json"))
    assert record["key"] == "uploads/2.png" and record["reason"] == "corrupt"
    assert record["retryable"] is False and record["request_id"] == "req-1"
    assert buckets.metadata(DST, "rejected/2.png.json")["headers"]["Content-Type"] == (
        "application/json"
    )
    # a rejected object writes no variant at all
    assert not (buckets.root / DST / "resized" / "large" / "2.jpg").exists()


@pytest.mark.parametrize(
    ("api", "key", "size_override", "reason"),
    [
        ("ObjectRemoved:AbortMultipartUpload", "uploads/x.jpg", None, "not-object-created"),
        ("ObjectCreated:InitiateMultipartUpload", "uploads/x.jpg", None, "not-object-created"),
        ("ObjectCreated:UploadPart", "uploads/x.jpg", None, "not-object-created"),
        ("PutObject", "elsewhere/x.jpg", None, "outside-source-prefix"),
        ("PutObject", "uploads/folder/", None, "folder-marker"),
    ],
)
def test_ignored_events_say_why(buckets, api, key, size_override, reason):
    data = image_bytes("hopper.jpg")
    event = cloudevent(SRC, key, data, api=api)
    if size_override is not None:
        event["data"]["oss"]["object"]["size"] = size_override
    log = []
    (outcome,) = run(event, buckets, log)
    assert outcome.outcome == "ignored"
    assert outcome.reason.startswith(reason)
    assert log[0]["outcome"] == "ignored" and log[0]["reason"].startswith(reason)
    assert not (buckets.root / DST).exists()


def test_other_bucket_is_ignored(buckets):
    (outcome,) = run(cloudevent("someone-else", "uploads/x.jpg", b"x"), buckets)
    assert (outcome.outcome, outcome.reason) == ("ignored", "other-bucket")


def test_oversized_object_is_rejected_with_a_record_without_download(buckets, monkeypatch):
    data = image_bytes("flower.jpg")
    upload(buckets, "uploads/x.jpg", data)
    gets = []
    monkeypatch.setattr(buckets, "get", lambda *a, **kw: gets.append(a))
    (outcome,) = run(cloudevent(SRC, "uploads/x.jpg", data), buckets, MAX_OBJECT_BYTES="1000")
    assert (outcome.outcome, outcome.reason) == ("rejected", "too-large")
    assert outcome.detail == (
        f"{len(data)} bytes, over MAX_OBJECT_BYTES=1000 "
        f"({1000 / 2**20:g} MiB, variable max_object_mb): not downloaded"
    )
    assert gets == []  # never downloaded
    record = json.loads((buckets.root / DST / "rejected" / "x.jpg.json").read_text())
    assert (record["reason"], record["size"]) == ("too-large", len(data))


@pytest.mark.parametrize("size_in_event", [True, False])
def test_an_empty_object_is_rejected_with_a_record(buckets, size_in_event):
    """One behaviour for an empty upload (issue 26): `rejected`, reason `empty`,
    a record, as `imgpipe process` and docs/operating.md say; and current the
    second time, so a backfill does not redo it."""
    upload(buckets, "uploads/empty.jpg", b"")
    event = cloudevent(SRC, "uploads/empty.jpg", b"")
    if not size_in_event:
        del event["data"]["oss"]["object"]["size"]
    (outcome,) = run(event, buckets)
    assert (outcome.outcome, outcome.reason) == ("rejected", "empty")
    assert outcome.outputs == ("rejected/empty.jpg.json",)
    record = json.loads((buckets.root / DST / "rejected" / "empty.jpg.json").read_text())
    assert record["reason"] == "empty"
    assert not (buckets.root / DST / "resized").exists()
    (again,) = run(event, buckets)
    assert again.outcome == "current"


def test_missing_object_is_logged_not_retried(buckets):
    (outcome,) = run(cloudevent(SRC, "uploads/gone.jpg", image_bytes("hopper.jpg")), buckets)
    assert outcome.outcome == "ignored" and outcome.reason.startswith("missing")


def test_same_bucket_recursion_guard(buckets):
    same = {"TARGET_BUCKET": SRC, "SOURCE_PREFIX": ""}
    data = image_bytes("hopper.jpg")
    upload(buckets, "x.jpg", data)
    (first,) = run(cloudevent(SRC, "x.jpg", data), buckets, **same)
    assert first.outcome == "processed"
    for key in first.outputs:  # each output's own creation event comes back
        out = buckets.get(SRC, key)
        (again,) = run(cloudevent(SRC, key, out), buckets, **same)
        assert (again.outcome, again.reason) == ("ignored", "own-output")
    upload(buckets, "bad.png", image_bytes("broken.png"))
    (rej,) = run(cloudevent(SRC, "bad.png", image_bytes("broken.png")), buckets, **same)
    (again,) = run(cloudevent(SRC, rej.outputs[0], b"{}"), buckets, **same)
    assert (again.outcome, again.reason) == ("ignored", "own-output")


def test_duplicate_events_give_identical_outputs(buckets):
    data = image_bytes("flower.jpg")
    upload(buckets, "uploads/x.jpg", data)
    event = cloudevent(SRC, "uploads/x.jpg", data)
    (first,) = run(event, buckets)
    snapshot = {k: buckets.get(DST, k) for k in first.outputs}
    (second,) = run(event, buckets)
    assert second.outputs == first.outputs
    assert {k: buckets.get(DST, k) for k in second.outputs} == snapshot


@pytest.mark.parametrize(
    "event",
    [b"{not json", b"\xff\xfe", "[]", '{"hello": "world"}', '{"events": []}', '{"data": {}}'],
)
def test_unparseable_events_raise(buckets, event):
    with pytest.raises(EventError):
        run(event, buckets)


def test_event_as_bytes_str_or_dict(buckets):
    data = image_bytes("hopper.jpg")
    upload(buckets, "uploads/x.jpg", data)
    event = cloudevent(SRC, "uploads/x.jpg", data)
    for i, form in enumerate((event, json.dumps(event), json.dumps(event).encode())):
        (outcome,) = run(form, buckets)
        # the first does the work; the same object again is current (same outputs)
        assert outcome.outcome == ("processed" if i == 0 else "current")
        assert len(outcome.outputs) == 6


class FlakyStorage(LocalStorage):
    """Local buckets whose writes fail like an OSS 503, for chosen keys."""

    def __init__(self, root, fail_substring):
        super().__init__(root)
        self.fail_substring = fail_substring

    def put(self, bucket, key, data, **kw):
        if self.fail_substring in key:
            raise TransientError(f"oss://{bucket}/{key}: HTTP 503 ServiceUnavailable")
        super().put(bucket, key, data, **kw)


def test_transient_failure_raises_after_other_records_are_done(tmp_path):
    storage = FlakyStorage(tmp_path, "never")
    a, b = image_bytes("hopper.jpg"), image_bytes("flower.jpg")
    upload(storage, "uploads/a.jpg", a)
    upload(storage, "uploads/b.jpg", b)
    storage.fail_substring = "/a."
    log = []
    with pytest.raises(TransientError):
        run(native_event([(SRC, "uploads/a.jpg", a), (SRC, "uploads/b.jpg", b)]), storage, log)
    assert [r["outcome"] for r in log] == ["failed", "processed"]
    assert log[0]["retryable"] is True and log[0]["reason"] == "TransientError"
    assert storage.get(DST, "resized/large/b.jpg.jpg")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SOURCE_BUCKET": ""}, "SOURCE_BUCKET"),
        ({"TARGET_BUCKET": "Bad_Name"}, "TARGET_BUCKET"),
        ({"SOURCE_PREFIX": "/uploads"}, "SOURCE_PREFIX"),
        ({"SOURCE_PREFIX": "uploads"}, "SOURCE_PREFIX"),
        ({"IMGPIPE_CONFIG": '{"quality": {"webp": 0}}'}, "IMGPIPE_CONFIG"),
        ({"IMGPIPE_CONFIG": "{oops"}, "IMGPIPE_CONFIG"),
        ({"MAX_OBJECT_BYTES": "-5"}, "MAX_OBJECT_BYTES"),
        ({"REJECTED_PREFIX": ""}, "REJECTED_PREFIX"),
        ({"TARGET_BUCKET": SRC, "SOURCE_PREFIX": "resized/large/in/"}, "SOURCE_PREFIX"),
    ],
)
def test_settings_errors_name_the_variable(env, variable):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**ENV, **env})
    assert str(info.value).startswith(variable)


def test_index_handler_uses_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_BUCKET", SRC)
    monkeypatch.setenv("TARGET_BUCKET", DST)
    monkeypatch.setenv("IMGPIPE_LOCAL_BUCKETS", str(tmp_path))
    monkeypatch.setenv("IMGPIPE_CONFIG", json.dumps({"variants": [{"name": "t", "width": 32}]}))
    storage = LocalStorage(tmp_path)
    data = image_bytes("hopper.jpg")
    upload(storage, "uploads/x.jpg", data)

    class Ctx:
        request_id = "abc"
        region = "cn-shanghai"

    result = index.handler(json.dumps(cloudevent(SRC, "uploads/x.jpg", data)).encode(), Ctx())
    (record,) = result["records"]
    assert record["outputs"] == ["resized/t/x.jpg.jpg", "resized/t/x.jpg.webp"]
    monkeypatch.setenv("TARGET_BUCKET", "")
    with pytest.raises(SettingsError, match="TARGET_BUCKET"):
        index.handler(b"{}", Ctx())


def _invoke_cli(event_path: Path, buckets: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "imgpipe", "invoke", str(event_path), "--buckets", str(buckets)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_imgpipe_invoke_runs_the_handler_on_an_event_file(tmp_path):
    storage = LocalStorage(tmp_path / "b")
    data = image_bytes("hopper_orientation_6.jpg")
    upload(storage, "uploads/phone/IMG 1.jpg", data)
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(cloudevent(SRC, quote("uploads/phone/IMG 1.jpg"), data)))
    done = _invoke_cli(event_file, tmp_path / "b", ENV)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert lines[0]["outcome"] == "processed"  # the handler's own log line
    assert lines[-1]["invoke"]["status"] == "ok"
    assert storage.get(DST, "resized/medium/phone/IMG 1.jpg.webp")

    event_file.write_text("{truncated")
    done = _invoke_cli(event_file, tmp_path / "b", ENV)
    assert done.returncode == 1
    summary = json.loads(done.stdout.splitlines()[-1])["invoke"]
    assert summary["status"] == "raised" and summary["error_type"] == "EventError"

    done = _invoke_cli(tmp_path / "event.json", tmp_path / "b", {})
    assert done.returncode == 1 and "SOURCE_BUCKET" in done.stderr
