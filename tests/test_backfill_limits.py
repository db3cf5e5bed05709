"""`imgpipe backfill` at each of its limits, on both sides, and each retry loop
against each class of error it must and must not retry.

The listing (oss2 against the OSS stand-in) and the invoke (the FC 3.0 SDK
against the FC stand-in) are the real clients; `max_object_bytes` is tried
at one byte under, at and over; the periodic checkpoint is watched while an
object is held in flight; `--dry-run`'s price is checked against the CU
model for each of the flags that size it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time

import oss2
import pytest
from standins import FcStandIn, OssStandIn

from fc_handler.events import parse_event
from fc_handler.storage import NotFound
from imgpipe.cli import main
from imgpipe.cloud.credentials import Credentials
from imgpipe.cloud.errors import InvokeError, ListingError
from imgpipe.cloud.fc import FcInvoker
from imgpipe.cloud.objects import Listed, list_oss
from imgpipe.cloud.stack import Stack
from imgpipe.cloud.terraform import evaluate
from imgpipe.jobs.backfill import Backfill, Checkpoint
from imgpipe.pricing import cu_estimate
from imgproc import load_config

CREDS = Credentials("test-key", "test-secret")


@pytest.fixture(scope="module")
def pattern():
    dev = evaluate({"env": "dev"})
    return {**dev.filter_pattern, "data": {"oss": {"bucket": {"name": ["src-bucket"]}}}}


@pytest.fixture
def oss():
    with OssStandIn() as server:
        yield server


def stack(pattern, **kw) -> Stack:
    fields = {
        "source_bucket": "src-bucket",
        "target_bucket": "out-bucket",
        "source_prefix": "uploads/",
        "rejected_prefix": "rejected/",
        "config": load_config("{}"),
        "pattern": pattern,
        "memory_mb": 1024,
        "region": "cn-hangzhou",
        "account": "1234567890123456",
        "function_name": "imgpipe-dev-images",
        **kw,
    }
    return Stack(**fields)


class NothingCurrent:
    """A target bucket with no variants: every object is stale."""

    def head(self, bucket, key):
        raise NotFound(key)


# ------------------------------------------------------------ listing retries


def bucket_of(oss) -> oss2.Bucket:
    return oss2.Bucket(oss2.Auth("k", "s"), oss.endpoint, "src-bucket")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_listing_page_throttled_or_failing_server_side_is_asked_again(oss, status):
    for i in range(3):
        oss.put("src-bucket", f"uploads/{i}.jpg", b"x")
    oss.listing_status = {0: status}.get
    slept: list[float] = []
    keys = [x.key for x in list_oss(bucket_of(oss), "uploads/", sleep=slept.append)]
    assert keys == ["uploads/0.jpg", "uploads/1.jpg", "uploads/2.jpg"]
    assert slept == [0.5] and len(oss.listings()) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 428, 430, 499])
def test_a_listing_refused_client_side_stops_at_once(oss, status):
    oss.put("src-bucket", "uploads/0.jpg", b"x")
    oss.listing_status = {0: status}.get
    slept: list[float] = []
    with pytest.raises(ListingError, match=rf"after '' failed: HTTP {status}"):
        list(list_oss(bucket_of(oss), "uploads/", sleep=slept.append))
    assert slept == [] and len(oss.listings()) == 1


@pytest.mark.parametrize(("failures", "listed"), [(2, True), (3, False)])
def test_a_listing_gets_exactly_its_retries(oss, failures, listed):
    """`retries=2`: two failures in a row are survived, a third is not."""
    oss.put("src-bucket", "uploads/0.jpg", b"x")
    oss.listing_status = lambda n: 503 if n < failures else None
    slept: list[float] = []
    pages = list_oss(bucket_of(oss), "uploads/", retries=2, sleep=slept.append)
    if listed:
        assert [x.key for x in pages] == ["uploads/0.jpg"]
    else:
        with pytest.raises(ListingError, match="HTTP 503"):
            list(pages)
    assert slept == [0.5, 1.0]


def test_a_listing_that_gets_no_answer_is_asked_again_then_stops():
    """No server at all (a RequestError, not an HTTP status): retried, then stopped."""
    from conftest import free_port

    bucket = oss2.Bucket(oss2.Auth("k", "s"), f"http://127.0.0.1:{free_port()}", "src-bucket")
    bucket.timeout = 2
    slept: list[float] = []
    with pytest.raises(ListingError) as stopped:
        list(list_oss(bucket, "uploads/", "uploads/9.jpg", retries=3, sleep=slept.append))
    assert slept == [0.5, 1.0, 2.0]
    assert str(stopped.value) == (
        "listing oss://src-bucket/uploads/ after 'uploads/9.jpg' failed: no answer (RequestError)"
    )


# ------------------------------------------------------------- invoke retries


def invoker(fc) -> FcInvoker:
    return FcInvoker("f", region="cn-hangzhou", credentials=CREDS, endpoint=fc.endpoint)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(s, True) for s in (429, 500, 502, 503, 504)],
        *[(s, False) for s in (400, 403, 404, 428, 430, 499)],
    ],
)
def test_fc_answers_are_classified_retryable_or_not(status, retryable):
    with FcStandIn({0: status}.get) as fc:
        with pytest.raises(InvokeError, match=f"HTTP {status}") as caught:
            invoker(fc)(b"{}")
        assert invoker(fc)(b"{}") == "standin-1"  # the next one is accepted
    assert caught.value.retryable is retryable


def test_an_answer_other_than_202_is_not_an_accepted_async_invocation(monkeypatch):
    """FC accepts an asynchronous invocation with 202; a 200 means it ran it
    synchronously (the header lost on the way): not counted as accepted."""
    with FcStandIn() as fc:
        original = fc.answer

        def synchronous(req):
            status, headers, body = original(req)
            return (200 if status == 202 else status), headers, body

        fc.answer = synchronous
        with pytest.raises(InvokeError, match="HTTP 200") as caught:
            invoker(fc)(b"{}")
    assert caught.value.retryable is False


def job(pattern, tmp_path, items, invoke, **kw) -> Backfill:
    options = {"workers": 2, "sleep": lambda _s: None, **kw}
    return Backfill(
        stack=stack(pattern),
        lister=lambda after: (x for x in items if x.key > after),
        target=NothingCurrent(),
        invoker=invoke,
        checkpoint=Checkpoint(tmp_path / "cp.json", {"t": 1}),
        failures=tmp_path / "cp.failed.jsonl",
        **options,
    )


@pytest.mark.parametrize(("fails", "verdict"), [(4, "invoked"), (5, "failed")])
def test_an_invoke_gets_exactly_its_retries_with_capped_backoff(pattern, tmp_path, fails, verdict):
    """`--retries 4`: five attempts; the backoff doubles up to its cap."""
    calls: list[bytes] = []

    def throttled(payload):
        calls.append(payload)
        if len(calls) <= fails:
            raise InvokeError("HTTP 429 TooManyRequests", retryable=True)
        return "ok"

    slept: list[float] = []
    counts = job(
        pattern,
        tmp_path,
        [Listed("uploads/a.jpg", 5, "E")],
        throttled,
        retries=4,
        backoff_s=1.0,
        max_backoff_s=3.0,
        sleep=slept.append,
    ).run()
    assert getattr(counts, verdict) == 1
    assert len(calls) == 5 and slept == [1.0, 2.0, 3.0, 3.0]


def test_a_refused_invoke_is_not_retried_and_is_reported(pattern, tmp_path):
    calls: list[bytes] = []

    def refused(payload):
        calls.append(payload)
        raise InvokeError("HTTP 403 AccessDenied", retryable=False)

    counts = job(pattern, tmp_path, [Listed("uploads/a.jpg", 5, "E")], refused).run()
    assert (counts.failed, counts.invoked, len(calls)) == (1, 0, 1)
    (line,) = (tmp_path / "cp.failed.jsonl").read_text().splitlines()
    assert json.loads(line)["key"] == "uploads/a.jpg" and "HTTP 403" in line


# ---------------------------------------------------------- max_object_bytes


@pytest.mark.parametrize("size", [0, 1, 10_000, 10_001])
def test_backfill_ignores_no_object_by_size(pattern, size):
    """The handler ignores nothing by size: an empty object is rejected as `empty`,
    one over `max_object_bytes` as `too-large` (never downloaded), each with a
    record, so backfill invokes them all and they are current the next time."""
    item = Listed("uploads/x.jpg", size, "E")
    assert stack(pattern, max_object_bytes=10_000).ignore_reason(item) is None


def test_objects_at_and_over_the_limit_end_to_end(pattern, oss, tmp_path):
    """Through the real listing and invoke: 1,048,576 bytes (max_object_mb = 1) and
    1,048,577 are both invoked (the handler rejects the second with a record)."""
    mib = 1024 * 1024
    oss.put("src-bucket", "uploads/at.jpg", b"a" * mib)
    oss.put("src-bucket", "uploads/over.jpg", b"o" * (mib + 1))
    bucket = bucket_of(oss)
    with FcStandIn() as fc:
        fc.record_bodies = True
        backfill = Backfill(
            stack=stack(pattern, max_object_bytes=mib),
            lister=lambda after: list_oss(bucket, "uploads/", after),
            target=NothingCurrent(),
            invoker=invoker(fc),
            checkpoint=Checkpoint(tmp_path / "cp.json", {"t": 1}),
            failures=tmp_path / "cp.failed.jsonl",
        )
        counts = backfill.run()
        bodies = list(fc.accepted)
    # both invoked: the handler rejects the larger one with a too-large record
    assert (counts.invoked, counts.ignored) == (2, 0)
    keys = sorted(json.loads(b)["data"]["oss"]["object"]["key"] for b in bodies)
    assert keys == ["uploads/at.jpg", "uploads/over.jpg"]


# ------------------------------------------------------------------- --force


@pytest.mark.parametrize("force", [False, True])
def test_the_event_fc_gets_tells_the_function_to_force_exactly_when_asked(
    pattern, oss, tmp_path, force
):
    oss.put("src-bucket", "uploads/a.jpg", b"a")
    bucket = bucket_of(oss)
    with FcStandIn() as fc:
        fc.record_bodies = True
        Backfill(
            stack=stack(pattern),
            lister=lambda after: list_oss(bucket, "uploads/", after),
            target=NothingCurrent(),
            invoker=invoker(fc),
            checkpoint=Checkpoint(tmp_path / "cp.json", {"t": 1}),
            failures=tmp_path / "cp.failed.jsonl",
            force=force,
        ).run()
        (body,) = fc.accepted
    (record,) = parse_event(body)  # what the function makes of it
    assert record.force is force


# ------------------------------------------------------- periodic checkpoint


def test_a_periodic_checkpoint_never_passes_an_object_in_flight(pattern, tmp_path):
    """One object is held in flight while later ones are accepted and the
    checkpoint is saved (a fake clock makes every step a second): no saved
    checkpoint may pass it, or a crash then would skip it for good."""
    keys = [f"uploads/{i:02d}.jpg" for i in range(40)]
    held = "uploads/05.jpg"
    release = threading.Event()
    accepted: set[str] = set()
    lock = threading.Lock()

    def invoke(payload):
        key = json.loads(payload)["data"]["oss"]["object"]["key"]
        if key == held:
            assert release.wait(10)
        with lock:
            accepted.add(key)
        return "ok"

    def listing(after):
        for key in keys:
            if key > after:
                if key == "uploads/30.jpg":
                    release.set()
                yield Listed(key, 5, "E")

    now = [0.0]

    def clock():
        now[0] += 2.0
        return now[0]

    backfill = job(pattern, tmp_path, [], invoke, workers=4, clock=clock)
    backfill.lister = listing
    saved: list[tuple[str, set[str], int]] = []
    save = backfill.checkpoint.save

    def watched(after, counts):
        with lock:
            saved.append((after, set(accepted), counts.invoked))
        save(after, counts)

    backfill.checkpoint.save = watched
    counts = backfill.run()
    assert counts.invoked == 40 and backfill.complete
    assert len(saved) >= 10
    for after, done, invoked in saved:
        settled = [k for k in keys if k <= after]
        assert set(settled) <= done, (after, sorted(set(settled) - done))
        assert invoked == len(settled)  # the counts saved are those of the keys before it
    assert any(after < held for after, _, _ in saved)  # saved while it was held
    assert any(after >= "uploads/20.jpg" for after, _, _ in saved)  # and moving on after


# --------------------------------------------------------- --dry-run pricing


@pytest.fixture
def deployed(pattern, tmp_path, monkeypatch):
    """`terraform output -json` of a stack, and its credentials in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
    return deployed_outputs(tmp_path, pattern)


def deployed_outputs(tmp_path, pattern):
    outputs = {
        "source_bucket": {"value": "src-bucket"},
        "target_bucket": {"value": "out-bucket"},
        "function_name": {"value": "fn"},
        "function_arn": {"value": "acs:fc:cn-hangzhou:1234567890123456:functions/fn"},
        "event_filter_pattern": {"value": json.dumps(pattern)},
        "pipeline_config": {"value": json.dumps({"source_prefix": "uploads/", "processor": {}})},
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return path


@pytest.mark.parametrize(
    "case",
    [
        ([], 1.0, 1024, 300.0),
        (["--memory-mb", "2048"], 1.0, 2048, 300.0),
        (["--vcpu", "2"], 2.0, 1024, 300.0),
        (["--ms-per-object", "1200"], 1.0, 1024, 1200.0),
        (["--vcpu", "0.5", "--memory-mb", "512", "--ms-per-object", "80"], 0.5, 512, 80.0),
    ],
)
def test_dry_run_prices_with_every_sizing_flag(oss, deployed, capsys, case):
    flags, vcpu, memory, ms = case
    for i in range(3):
        oss.put("src-bucket", f"uploads/{i}.jpg", b"p%d" % i)
    argv = ["backfill", "--outputs", str(deployed), "--oss-endpoint", oss.endpoint, "--dry-run"]
    assert main([*argv, *flags]) == 0
    out = capsys.readouterr().out
    est = cu_estimate(3, vcpu, memory, ms)
    assert f"at {vcpu:g} vCPU, {memory} MB x {ms:g} ms: {est.total_cny:.2f} CNY" in out
    assert f"({est.total_cu:,.0f} CU: {est.invocations_cu:,.0f} invocations" in out
    assert f"+ {est.vcpu_cu:,.0f} vCPU + {est.memory_cu + est.disk_cu:,.0f} memory" in out


def test_once_stopped_only_objects_before_one_already_started_start(pattern, tmp_path):
    """Workers take objects in order but may check `stop` out of order: object 7
    already invoked when 6 sees the stop. 6 must still run, or it would stay
    unsettled behind 7 and 7 be invoked again on resume; 8 must not."""
    invoked: list[str] = []
    backfill = job(pattern, tmp_path, [], lambda p: invoked.append(p.decode()) or "ok")
    limiter = backfill_limiter()
    assert backfill._one(Listed("uploads/7.jpg", 5, "E"), b"7", limiter, 7) == ("invoked", None)
    backfill.stop.set()
    assert backfill._one(Listed("uploads/6.jpg", 5, "E"), b"6", limiter, 6) == ("invoked", None)
    assert backfill._one(Listed("uploads/8.jpg", 5, "E"), b"8", limiter, 8) == (None, None)
    assert invoked == ["7", "6"]


def backfill_limiter():
    from imgpipe.jobs.backfill import RateLimiter

    return RateLimiter(None)


def test_a_stop_at_once_keeps_the_last_consistent_checkpoint(pattern, tmp_path, monkeypatch):
    """A KeyboardInterrupt (a second Ctrl-C) between two steps of the bookkeeping,
    here after an object was counted as listed and before it was queued: the state
    then is torn, so it is not saved; the periodic checkpoint before it stands, and
    the resume ends with the counts of an uninterrupted run."""
    from imgpipe.jobs import backfill as module

    items = [Listed(f"uploads/{i:02d}.jpg", 5, "E") for i in range(12)]
    real, made = module.object_event, []

    def interrupted(stack, item, force=False):
        made.append(item.key)
        if len(made) == 8:
            raise KeyboardInterrupt
        return real(stack, item, force=force)

    monkeypatch.setattr(module, "object_event", interrupted)
    first = job(pattern, tmp_path, items, lambda _p: "ok", workers=1, checkpoint_every_s=0.0)
    with pytest.raises(KeyboardInterrupt):
        first.run()
    saved = json.loads(first.checkpoint.path.read_text())
    counts = saved["counts"]
    settled = sum(v for k, v in counts.items() if k != "listed")
    assert counts["listed"] == settled == len([x for x in items if x.key <= saved["after"]])
    monkeypatch.setattr(module, "object_event", real)
    again = job(pattern, tmp_path, items, lambda _p: "ok", workers=1).run()
    assert (again.listed, again.invoked) == (12, 12)


def test_the_checkpoint_file_says_when_it_was_written_one_field_a_line(tmp_path, monkeypatch):
    """An operator deciding whether to resume opens the checkpoint: each field
    on its own line, and `saved` the UTC time of the write (docs/day-two.md),
    also on a machine whose clock shows another zone."""
    import calendar

    from imgpipe.jobs.backfill import Counts

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    checkpoint = Checkpoint(tmp_path / "cp.json", {"prefix": "uploads/"})
    before = int(time.time())
    checkpoint.save("uploads/07.jpg", Counts(listed=8, invoked=7, current=1))
    text = checkpoint.path.read_text()
    data = json.loads(text)
    assert sorted(data) == ["after", "counts", "identity", "saved", "version"]
    assert text.startswith('{\n "version": ') and '\n "saved": "' in text
    saved = calendar.timegm(time.strptime(data["saved"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before <= saved <= time.time() + 1
    assert checkpoint.load() == ("uploads/07.jpg", Counts(listed=8, invoked=7, current=1))
    monkeypatch.undo()
    time.tzset()


# ------------------------------------------------------ pacing and bounds


def test_rate_paces_every_invoke_of_a_run_on_its_clock(pattern, tmp_path):
    """`--rate 4`: the run's invokes start a quarter second apart on the run's
    own clock, the waits taken through the run's own sleep."""
    now = [0.0]
    lock = threading.Lock()
    started: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            now[0] += seconds

    def invoke(_payload: bytes) -> str:
        started.append(now[0])
        return "ok"

    items = [Listed(f"uploads/{i:02d}.jpg", 5, "E") for i in range(9)]
    backfill = job(
        pattern, tmp_path, items, invoke, workers=1, rate=4.0, clock=lambda: now[0], sleep=sleep
    )
    assert backfill.run().invoked == 9
    assert started == [i * 0.25 for i in range(9)]


def test_a_stop_before_the_first_object_starts_invokes_nothing(pattern, tmp_path):
    """A Ctrl-C that lands while the first page is listed: nothing has started,
    so nothing starts; the resume lists everything again."""
    invoked: list[bytes] = []
    items = [Listed(f"uploads/{i:02d}.jpg", 5, "E") for i in range(4)]
    backfill = job(pattern, tmp_path, [], invoked.append, workers=1)

    def lister(after: str):
        backfill.stop.set()
        yield from (x for x in items if x.key > after)

    backfill.lister = lister
    counts = backfill.run()
    assert invoked == [] and counts.invoked == 0


def listed_while_invokes_block(pattern, tmp_path, keys, workers, expected):
    """Run a backfill over `keys` whose every invoke waits until released; once
    `expected` keys are listed, give the listing time to go further, were it
    allowed to, then release. (Keys listed by then, keys listed in all.)"""
    release = threading.Event()
    listed = [0]

    def invoke(_payload: bytes) -> str:
        release.wait(10)
        return "ok"

    def lister(after: str):
        for key in keys:
            listed[0] += 1
            yield Listed(key, 5, "E")

    backfill = job(pattern, tmp_path, [], invoke, workers=workers)
    backfill.lister = lister
    done = threading.Thread(target=backfill.run)
    done.start()
    deadline = time.monotonic() + 10
    while listed[0] < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # time to list further, were it allowed to
    ahead = listed[0]
    release.set()
    done.join(10)
    return ahead, listed[0]


@pytest.mark.parametrize("workers", [2, 8])
def test_objects_listed_ahead_are_bounded_by_four_per_worker_at_least_sixteen(
    pattern, tmp_path, workers
):
    """docs/day-two.md: memory stays flat because at most 4 x workers objects
    (at least 16) are in flight; the listing waits for the rest."""
    bound = max(4 * workers, 16)
    keys = [f"uploads/{i:03d}.jpg" for i in range(100)]
    ahead, listed = listed_while_invokes_block(pattern, tmp_path, keys, workers, bound + 1)
    assert ahead == bound + 1  # the next one waits for a slot
    assert listed == 100


def test_with_one_bucket_the_functions_own_outputs_are_counted_ignored_not_invoked(
    pattern, tmp_path
):
    """Sources and outputs in one bucket, every key routed (source prefix ""):
    the variants and rejection records the function wrote are listed too, and
    invoking them would be waste on every rerun (they never get variants). A
    rejection record is filtered already by its ending (`.json`)."""
    everything = {
        **pattern,
        "data": {"oss": {**pattern["data"]["oss"], "object": {"key": [{"prefix": ""}]}}},
    }
    invoked: list[str] = []
    items = [
        Listed("photos/a.jpg", 5, "E"),
        Listed("rejected/photos/b.jpg.json", 5, "E"),
        Listed("resized/large/photos/a.jpg.jpg", 5, "E"),
        Listed("resized/small/photos/a.jpg.webp", 5, "E"),
    ]
    backfill = job(
        everything, tmp_path, items, lambda p: invoked.append(json.loads(p)) or "ok", workers=1
    )
    backfill.stack = stack(everything, source_prefix="", target_bucket="src-bucket")
    counts = backfill.run()
    assert (counts.listed, counts.filtered, counts.ignored, counts.invoked) == (4, 1, 2, 1)
    assert [e["data"]["oss"]["object"]["key"] for e in invoked] == ["photos/a.jpg"]


class InlinePool:
    """ThreadPoolExecutor's part `Backfill.run` uses, each object run at its
    submit: the order of settling, counting and checking is then the same on
    every run, so a count's exact boundary can be tested."""

    def __init__(self, _workers, thread_name_prefix=""):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future: Future = Future()
        future.set_result(fn(*args))
        return future


def refused(_payload: bytes) -> str:
    raise InvokeError("HTTP 400 InvalidArgument", retryable=False)


def test_a_run_whose_first_fifty_objects_all_fail_stops_at_the_fiftieth(
    pattern, tmp_path, monkeypatch
):
    """Something is wrong with the setup, not the photos (a wrong function, no
    permission): the run stops at exactly 50 failures, naming the failure file,
    rather than failing a million objects one by one."""
    from imgpipe.jobs import backfill as module
    from imgpipe.jobs.backfill import BackfillError

    monkeypatch.setattr(module, "ThreadPoolExecutor", InlinePool)
    items = [Listed(f"uploads/{i:03d}.jpg", 5, "E") for i in range(80)]
    backfill = job(pattern, tmp_path, items, refused)
    with pytest.raises(BackfillError) as stopped:
        backfill.run()
    assert str(stopped.value) == f"the first 50 objects all failed; see {backfill.failures}"
    assert len(backfill.failures.read_text().splitlines()) == 50


def test_fifty_failures_after_one_success_do_not_stop_the_run(pattern, tmp_path, monkeypatch):
    from imgpipe.jobs import backfill as module

    monkeypatch.setattr(module, "ThreadPoolExecutor", InlinePool)
    items = [Listed(f"uploads/{i:03d}.jpg", 5, "E") for i in range(60)]
    first = items[0].key
    backfill = job(
        pattern,
        tmp_path,
        items,
        lambda p: "ok" if first in p.decode() else refused(p),
    )
    counts = backfill.run()
    assert (counts.invoked, counts.failed) == (1, 59)


def test_the_checkpoint_is_rewritten_each_time_a_second_has_passed(pattern, tmp_path, monkeypatch):
    """docs/day-two.md: "rewritten atomically every second": at 1.0 s, 2.0 s...
    of the run's own clock, whatever that clock read when the run began."""
    from imgpipe.jobs import backfill as module
    from imgpipe.jobs.backfill import Checkpoint

    monkeypatch.setattr(module, "ThreadPoolExecutor", InlinePool)
    now = [5_000.0]

    def invoke(_payload: bytes) -> str:
        now[0] += 0.25
        return "ok"

    items = [Listed(f"uploads/{i:02d}.jpg", 5, "E") for i in range(10)]
    backfill = job(pattern, tmp_path, items, invoke, clock=lambda: now[0])
    saved: list[str] = []
    real_save = Checkpoint.save
    monkeypatch.setattr(
        Checkpoint,
        "save",
        lambda self, after, counts: saved.append(after) or real_save(self, after, counts),
    )
    assert backfill.run().invoked == 10
    assert saved == ["uploads/03.jpg", "uploads/07.jpg"]


def test_objects_waiting_behind_a_slow_invoke_are_bounded_too(pattern, tmp_path):
    """Objects that need no invoke (here: not images) still wait to settle
    behind the oldest in-flight one, so the checkpoint never passes it; at
    most twice the in-flight bound of them are held, then the listing waits."""
    keys = ["uploads/000.jpg", *(f"uploads/{i:03d}.txt" for i in range(1, 100))]
    ahead, listed = listed_while_invokes_block(pattern, tmp_path, keys, 2, 33)
    assert ahead == 2 * 16 + 1
    assert listed == 100


def test_a_listing_that_keeps_failing_backs_off_to_its_cap_and_names_the_marker(oss):
    """The default five retries wait 0.5, 1, 2, 4 and 8 s; more retries stay at
    8 s each; the error names the bucket, prefix, marker, status and code."""
    oss.put("src-bucket", "uploads/0.jpg", b"x")
    oss.listing_status = lambda _n: 503
    slept: list[float] = []
    with pytest.raises(ListingError) as stopped:
        list(list_oss(bucket_of(oss), "uploads/", "uploads/00.jpg", sleep=slept.append))
    assert slept == [0.5, 1.0, 2.0, 4.0, 8.0] and len(oss.listings()) == 6
    assert str(stopped.value) == (
        "listing oss://src-bucket/uploads/ after 'uploads/00.jpg' failed: "
        "HTTP 503 ServiceUnavailable"
    )
    slept.clear()
    with pytest.raises(ListingError):
        list(list_oss(bucket_of(oss), "uploads/", retries=7, sleep=slept.append))
    assert slept == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_listing_walks_every_page_of_a_thousand_keys_from_the_marker(oss):
    """Pages of 1,000 keys (OSS's most), each asked from the last key of the one
    before; folder markers (`dir/`) are not objects; ETags without quotes,
    upper-case, as the handler compares them."""
    keys = [f"uploads/{i:05d}.jpg" for i in range(2_345)]
    oss.generated["src-bucket"] = [*keys[:10], "uploads/00009.jpg/", *keys[10:]]
    listed = list(list_oss(bucket_of(oss), "uploads/", "uploads/00004.jpg"))
    assert [x.key for x in listed] == keys[5:]
    first = listed[0]
    assert first == Listed(
        "uploads/00005.jpg", 17, hashlib.md5(b"uploads/00005.jpg").hexdigest().upper()
    )
    queries = [r.query for r in oss.listings()]
    assert [q["max-keys"] for q in queries] == ["1000"] * 3
    assert [q["marker"] for q in queries] == [
        "uploads/00004.jpg",
        "uploads/01003.jpg",
        "uploads/02003.jpg",
    ]


def test_an_invoke_with_sts_credentials_carries_the_token_and_says_what_fc_answered():
    """CI and a RAM role give STS credentials: the token goes with each request
    (FC refuses a temporary key without it). An endpoint written with a
    trailing slash works; FC's refusal reads `HTTP <status> <code>`; a port
    with nothing listening is "no answer", retryable."""
    from conftest import free_port

    sts = Credentials("STS.key", "secret", "the-token")
    with FcStandIn({1: 503}.get) as fc:
        call = FcInvoker("f", region="cn-hangzhou", credentials=sts, endpoint=fc.endpoint + "/")
        assert call(b"{}") == "standin-0"
        with pytest.raises(InvokeError) as refused:
            call(b"{}")
        (first, _) = fc.requests
    assert first.headers["x-acs-security-token"] == "the-token"
    assert first.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=STS.key")
    assert str(refused.value) == "HTTP 503 ServiceUnavailable" and refused.value.retryable
    nobody = FcInvoker(
        "f",
        region="cn-hangzhou",
        credentials=sts,
        endpoint=f"http://127.0.0.1:{free_port()}",
        timeout_s=2,
    )
    with pytest.raises(InvokeError) as silent:
        nobody(b"{}")
    assert str(silent.value).startswith("no answer: ") and silent.value.retryable
    assert FcInvoker("f", region="cn-hangzhou", credentials=sts).timeout_ms == 10_000


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"version": 99, "after": "", "counts": {}}', "version 99"),
        ("{not json", "Expecting property name enclosed in double quotes"),
        ('{"version": 1, "after": "a"}', "'counts'"),
    ],
)
def test_an_unreadable_checkpoint_says_why_and_how_to_start_over(tmp_path, text, why):
    from imgpipe.jobs.backfill import BackfillError

    path = tmp_path / "cp.json"
    path.write_text(text)
    with pytest.raises(BackfillError) as refused:
        Checkpoint(path, {}).load()
    message = str(refused.value)
    assert message.startswith(f"checkpoint {path} is unreadable ({why}")
    assert message.endswith("); delete it to start over")


def test_a_head_that_fails_is_a_failure_on_record_with_its_utc_time(pattern, tmp_path, monkeypatch):
    """The target bucket refusing the HEADs of the current check (a 403 when
    the role lacks oss:GetObject on it): the object is failed, never invoked
    blind, and `<checkpoint>.failed.jsonl` says why, timed in UTC."""
    import calendar

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()

    class Refusing:
        def head(self, bucket, key):
            raise oss2.exceptions.AccessDenied(403, {}, b"", {"code": "AccessDenied"})

    invoked: list[bytes] = []
    backfill = job(pattern, tmp_path, [Listed("uploads/a.jpg", 5, "E")], invoked.append)
    backfill.target = Refusing()
    before = int(time.time())
    counts = backfill.run()
    monkeypatch.undo()
    time.tzset()
    assert (counts.failed, counts.invoked, invoked) == (1, 0, [])
    (line,) = [json.loads(x) for x in backfill.failures.read_text().splitlines()]
    assert line["key"] == "uploads/a.jpg"
    assert line["error"].startswith("checking the variants: AccessDenied: ")
    stamp = calendar.timegm(time.strptime(line["time"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before <= stamp <= time.time() + 1


def test_a_stopped_run_returns_what_it_settled(pattern, tmp_path):
    """The first Ctrl-C: what is in flight finishes, the run returns its counts
    (the command prints them) and leaves the checkpoint at the last settled key."""
    items = [Listed(f"uploads/{i:02d}.jpg", 5, "E") for i in range(10)]
    calls: list[bytes] = []
    stopped = threading.Event()

    def invoke(payload: bytes) -> str:
        calls.append(payload)
        if len(calls) == 3:
            backfill.stop.set()  # as the first SIGINT does
            stopped.set()
        return "ok"

    def lister(after: str):
        for i, item in enumerate(items):
            if i == 4:  # the listing goes on while the signal arrives
                stopped.wait(10)
            yield item

    backfill = job(pattern, tmp_path, [], invoke, workers=1)
    backfill.lister = lister
    counts = backfill.run()
    assert counts is not None and counts.invoked == len(calls) >= 3
    saved = json.loads(backfill.checkpoint.path.read_text())
    assert saved["counts"]["invoked"] == counts.invoked
    assert saved["after"] == f"uploads/{counts.invoked - 1:02d}.jpg"


def test_a_checkpoint_of_another_run_names_every_difference_word_for_word(tmp_path):
    """Each field that differs, sorted, with both values; a field one side
    lacks (a checkpoint from an older imgpipe) counts as differing too."""
    from imgpipe.jobs.backfill import BackfillError, Counts

    path = tmp_path / "cp.json"
    Checkpoint(path, {"mode": "dry-run", "source": "b/uploads/", "old": 1}).save(
        "uploads/7.jpg", Counts()
    )
    here = {"mode": "stale", "source": "b/uploads/", "function": "f"}
    with pytest.raises(BackfillError) as refused:
        Checkpoint(path, here).load()
    assert str(refused.value) == (
        f"checkpoint {path} belongs to another run (function None there, 'f' here, "
        "mode 'dry-run' there, 'stale' here, old 1 there, None here): resuming would take "
        "the objects up to 'uploads/7.jpg' as done this way, and skip them. Run the same "
        "command as before to resume it, or delete it (or give --checkpoint another "
        "file) to start over"
    )
    body = json.loads(path.read_text())
    path.write_text(json.dumps({**body, "identity": "not a mapping"}))
    with pytest.raises(BackfillError, match=r"\(function None there, 'f' here, mode None"):
        Checkpoint(path, here).load()


def test_the_dry_runs_cost_line_by_hand_and_the_checkpoints_identity_by_name(pattern):
    """By hand from docs/cost.md's CU rates: 1,000,000 x 75/10k = 7,500 CU of
    invocations; 1 vCPU x 0.3 s x 10^6 = 300,000; 1 GB x 0.3 s x 10^6 x 0.15 +
    0.5 GB disk x 0.3 s x 10^6 x 0.05 = 52,500; 360,000 CU x 0.00011 = 39.60 CNY.
    The identity's field names are the checkpoint file's (docs/day-two.md):
    renaming one would refuse every checkpoint written before."""
    import argparse

    from imgpipe.commands.backfill import _identity, cost_line
    from imgproc.config import fingerprint

    s = stack(pattern)
    assert cost_line(s, 1_000_000, 300) == (
        "estimated cost of 1,000,000 invocations at 1 vCPU, 1024 MB x 300 ms: 39.60 CNY "
        "(360,000 CU: 7,500 invocations + 300,000 vCPU + 52,500 memory and disk; "
        "`imgpipe cost` CU rates, no trial quota)"
    )
    args = argparse.Namespace(prefix="uploads/2026/", dry_run=False, force=True)
    assert _identity(s, args) == {
        "source": "src-bucket/uploads/2026/",
        "mode": "force",
        "function": "imgpipe-dev-images",
        "config": fingerprint(s.config),
    }


def test_fc_is_reached_over_https_at_the_regions_endpoint_unless_one_is_given():
    """No `--fc-endpoint`: the FC 3.0 SDK's own endpoint for the stack's region,
    over HTTPS; a given `http://host:port/` is used as written (the stand-in's).
    One client per thread, kept: the SDK's connection state is not shared."""
    import threading as th

    deployed = FcInvoker("f", region="cn-shanghai", credentials=CREDS)
    client = deployed._client()
    assert (client._endpoint, client._protocol, client._region_id) == (
        "fcv3.cn-shanghai.aliyuncs.com",
        "https",
        "cn-shanghai",
    )
    assert deployed._client() is client
    other: list = []
    thread = th.Thread(target=lambda: other.append(deployed._client()))
    thread.start()
    thread.join()
    assert other[0] is not client
    local = FcInvoker("f", region="cn-shanghai", credentials=CREDS, endpoint="http://127.0.0.1:9/")
    assert (local._client()._endpoint, local._client()._protocol) == ("127.0.0.1:9", "http")


def test_an_fc_that_never_answers_is_asked_once_per_attempt_and_named_in_the_error():
    """The SDK's own retries are off (backfill and redrive count their
    attempts themselves): one connection per call, given up after the read
    timeout, the error naming what the SDK said."""
    from conftest import silent_port

    with silent_port() as (port, accepted):
        call = FcInvoker(
            "f",
            region="cn-hangzhou",
            credentials=CREDS,
            endpoint=f"http://127.0.0.1:{port}",
            timeout_s=0.5,
        )
        with pytest.raises(InvokeError) as silent_fc:
            call(b"{}")
        time.sleep(0.2)
    assert len(accepted) == 1
    assert silent_fc.value.retryable
    assert str(silent_fc.value).startswith("no answer: UnretryableException: ")
    assert "Read timed out. (read timeout=0.5)" in str(silent_fc.value)


def test_the_event_for_a_listed_object_names_its_stacks_region_and_account(pattern):
    """What the trigger would send for this object, in the stack's region and
    account (the function logs them; a re-invoked event must match an upload's)."""
    from imgpipe.cloud.fc import object_event

    s = stack(pattern, region="cn-shanghai", account="5555555555555555")
    event = object_event(s, Listed("uploads/a.jpg", 7, "ABC"))
    assert event["aliyunaccountid"] == "5555555555555555"
    assert event["subject"] == "acs:oss:cn-shanghai:5555555555555555:src-bucket/uploads/a.jpg"
    assert event["data"]["region"] == "cn-shanghai"
    assert event["data"]["oss"]["object"] == {
        **event["data"]["oss"]["object"],
        "size": 7,
        "deltaSize": 7,
        "eTag": "ABC",
    }


def test_a_local_handler_that_raises_is_a_retryable_refusal_naming_the_error(tmp_path):
    """Locally the handler runs in this process: one that raises (here: no
    SOURCE_BUCKET set) is what FC retries, so it is retryable, and named."""
    from imgpipe.cloud.events import cloudevent
    from imgpipe.cloud.fc import LocalInvoker

    call = LocalInvoker(tmp_path / "buckets", {}, tmp_path / "function.log")
    with pytest.raises(InvokeError) as raised:
        call(json.dumps(cloudevent("src", "uploads/a.jpg", b"x")).encode())
    assert raised.value.retryable is True
    assert str(raised.value) == (
        "handler raised SettingsError: SOURCE_BUCKET is required (bucket users upload to)"
    )
