"""The handler's requests to OSS: how many, in what order, and what a failure leaves.

Per new upload: no source HEAD when the event gives size and ETag and the
key decodes one way; the current check's HEADs; one GET; the PUTs in
parallel. A PUT that fails still fails the invocation, after every other
PUT has ended, and what was written is never taken for finished work.
"""

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import BENCH, image_bytes

from fc_handler import handle as handle_module
from fc_handler.current import current_outputs, outputs_for
from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage, TransientError
from imgpipe.cloud.events import cloudevent
from imgpipe.commands import bench

SRC, DST = "photos-src", "photos-dst"
SETTINGS = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})


class TimedStorage(LocalStorage):
    """Local buckets that record each call's start and end, and can fail PUTs."""

    def __init__(self, root, put_seconds: float = 0.0):
        super().__init__(root)
        self.put_seconds = put_seconds
        self.calls: list[tuple[str, str, str, float, float]] = []
        self.fail_put: set[str] = set()
        self.lock = threading.Lock()

    def _record(self, op, bucket, key, start):
        with self.lock:
            self.calls.append((op, bucket, key, start, time.perf_counter()))

    def head(self, bucket, key):
        start = time.perf_counter()
        try:
            return super().head(bucket, key)
        finally:
            self._record("head", bucket, key, start)

    def get(self, bucket, key):
        start = time.perf_counter()
        try:
            return super().get(bucket, key)
        finally:
            self._record("get", bucket, key, start)

    def put(self, bucket, key, data, **kw):
        start = time.perf_counter()
        try:
            time.sleep(self.put_seconds)
            if key in self.fail_put:
                raise TransientError(f"oss://{bucket}/{key}: HTTP 503 ServiceUnavailable")
            super().put(bucket, key, data, **kw)
        finally:
            self._record("put", bucket, key, start)

    def ops(self, op, bucket=None):
        return [c for c in self.calls if c[0] == op and (bucket is None or c[1] == bucket)]


def run(storage, event):
    log: list[dict] = []
    try:
        handle_event(event, settings=SETTINGS, storage=storage, request_id="r", log=log.append)
    except TransientError as exc:
        return log[0], exc
    return log[0], None


def upload(storage, key="uploads/a/x.jpg", name="flower.jpg"):
    data = image_bytes(name)
    storage.put(SRC, key, data, content_type="image/jpeg")
    storage.calls.clear()
    return cloudevent(SRC, key, data)


def test_an_event_with_size_and_etag_needs_no_source_head(tmp_path):
    storage = TimedStorage(tmp_path)
    record, raised = run(storage, upload(storage))
    assert raised is None and record["outcome"] == "processed"
    assert storage.ops("head", SRC) == []
    # six variants and the "ready" manifest (fc_handler/manifest.py)
    assert len(storage.ops("get")) == 1 and len(storage.ops("put")) == 7
    # the current check's two HEADs, in the target bucket, made at once
    heads = storage.ops("head", DST)
    assert sorted(c[2] for c in heads) == ["rejected/a/x.jpg.json", "resized/large/a/x.jpg.jpg"]


@pytest.mark.parametrize(
    ("object_fields", "why"),
    [({"eTag": None}, "no ETag"), ({"size": None}, "no size")],
)
def test_an_event_missing_size_or_etag_heads_the_source(tmp_path, object_fields, why):
    storage = TimedStorage(tmp_path)
    event = upload(storage)
    event["data"]["oss"]["object"].update(object_fields)
    record, _ = run(storage, event)
    assert record["outcome"] == "processed", why
    assert [c[2] for c in storage.ops("head", SRC)] == ["uploads/a/x.jpg"]


def test_a_key_that_decodes_two_ways_heads_the_source(tmp_path):
    storage = TimedStorage(tmp_path)
    record, _ = run(storage, upload(storage, key="uploads/a+b.jpg"))
    assert record["outcome"] == "processed"
    assert storage.ops("head", SRC)  # `a+b.jpg` or `a b.jpg`: the HEADs' ETags decide


def test_puts_run_in_parallel(tmp_path):
    storage = TimedStorage(tmp_path, put_seconds=0.2)
    record, _ = run(storage, upload(storage))
    assert record["outcome"] == "processed"
    puts, manifest_put = storage.ops("put")[:6], storage.ops("put")[6:]
    assert len(puts) == 6
    # the manifest starts only once every variant's PUT has ended
    assert [m[2] for m in manifest_put] == ["resized/_ready/a/x.jpg.json"]
    assert manifest_put[0][3] >= max(p[4] for p in puts)
    # in flight at once: at each PUT's start, the PUTs started and not yet ended
    in_flight = max(sum(1 for p in puts if p[3] <= q[3] < p[4]) for q in puts)
    assert in_flight == handle_module.PUT_WORKERS
    # the PUT phase alone (not the processing, which a loaded machine slows):
    # in series it would take 6 x 0.2 s
    assert max(p[4] for p in puts) - min(p[3] for p in puts) < 6 * 0.2


def test_a_failed_put_fails_the_invocation_and_nothing_claims_success(tmp_path):
    storage = TimedStorage(tmp_path, put_seconds=0.05)
    event = upload(storage)
    storage.fail_put = {"resized/medium/a/x.jpg.webp"}
    record, raised = run(storage, event)
    assert isinstance(raised, TransientError) and "medium" in str(raised)
    assert record["outcome"] == "failed" and record["retryable"] is True
    # every PUT had ended before the invocation reported its failure; no
    # "ready" manifest claims the half-written set is ready
    assert len(storage.ops("put")) == 6
    assert not (tmp_path / DST / "resized/_ready/a/x.jpg.json").exists()
    # the five variants written carry this ETag, but the set is not current
    written = [c[2] for c in storage.ops("put") if c[2] not in storage.fail_put]
    assert all((tmp_path / DST / k).is_file() for k in written)
    assert not (tmp_path / DST / "resized/medium/a/x.jpg.webp").exists()
    info = storage.head(SRC, "uploads/a/x.jpg")
    found = current_outputs(
        storage,
        target_bucket=DST,
        outputs=outputs_for(SETTINGS.processor, "uploads/", "rejected/", "uploads/a/x.jpg"),
        config=SETTINGS.processor,
        etag=info.etag,
    )
    assert found is None
    # FC's retry redoes the work rather than calling it current
    storage.fail_put = set()
    storage.calls.clear()
    record, raised = run(storage, event)
    assert raised is None and record["outcome"] == "processed"
    assert len(storage.ops("put")) == 7
    assert (tmp_path / DST / "resized/_ready/a/x.jpg.json").is_file()


def test_a_source_deleted_since_the_event_is_ignored_by_the_get(tmp_path):
    storage = TimedStorage(tmp_path)
    event = upload(storage)
    storage.delete(SRC, "uploads/a/x.jpg")
    record, raised = run(storage, event)
    assert raised is None and record["outcome"] == "ignored"
    assert record["reason"] == "missing (deleted since the event)"
    assert storage.ops("put") == []


def test_round_trips_merge_overlapping_requests():
    log = [("HEAD", 0, 1), ("HEAD", 1, 2), ("GET", 2, 3), ("PUT", 3, 4), ("PUT", 3.1, 4.2)]
    assert bench.round_trips(log) == 4
    assert bench.round_trips([]) == 0


def test_a_duplicate_costs_one_head_more_and_downloads_nothing(tmp_path):
    storage = TimedStorage(tmp_path)
    event = upload(storage)
    run(storage, event)
    storage.calls.clear()
    record, raised = run(storage, event)
    assert raised is None and record["outcome"] == "current"
    assert storage.ops("get") == [] and storage.ops("put") == []
    # six variant HEADs, plus the rejection record's started early, plus the
    # "ready" manifest's (fc_handler/manifest.ensure)
    assert len(storage.ops("head", DST)) == 8


def test_the_early_head_s_error_reaches_the_check(tmp_path):
    storage = TimedStorage(tmp_path)
    event = upload(storage)
    real_head = storage.head

    def head(bucket, key):
        if key.startswith("rejected/"):
            raise TransientError(f"oss://{bucket}/{key}: HTTP 503")
        return real_head(bucket, key)

    storage.head = head
    record, raised = run(storage, event)
    assert isinstance(raised, TransientError) and record["outcome"] == "failed"
    assert storage.ops("get") == [] and storage.ops("put") == []


def test_e2e_bench_counts_requests_over_http():
    image = Path(BENCH) / "photo-24mp.jpg"
    row = bench.e2e_measure(image, latency_ms=20, repeat=1)
    assert row["by_method"] == {"GET": 2, "HEAD": 2, "PUT": 7}
    assert row["requests"] == 11
    # the two HEADs of the current check with the header's GET, the rest's GET,
    # then the six PUTs at once, then the "ready" manifest's PUT
    assert row["round_trips"] == 4
    assert row["io_ms"] >= 4 * 20 and row["total_ms"] > row["process_ms"] > 0


def test_cold_bench_reports_import_first_and_warm_invocation(capsys):
    assert bench.run_cold(None, 1, True) == 0
    out = json.loads(capsys.readouterr().out)
    median = out["median"]
    assert set(median) == {"import_index_ms", "import_oss_ms", "first_ms", "warm_ms"}
    assert all(v > 0 for v in median.values())
    packages = dict(out["imports_ms"])
    assert {"PIL", "oss2", "imgproc", "fc_handler"} <= set(packages)
