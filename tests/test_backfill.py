"""`imgpipe backfill`: exactly the stale objects are redone, once, resumably.

Locally against `make demo`'s buckets (the real handler in-process), and in
FC mode against stand-ins the real SDKs talk to (tests/standins.py): oss2
lists with `marker` pages, the FC 3.0 SDK invokes with
`x-fc-invocation-type: Async`, and throttling, 5xx and a stalled answer are
retried while one object that keeps failing never stops the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import oss2
import pytest
from standins import FcStandIn, GeneratedKeys, OssStandIn

from fc_handler.current import FINGERPRINT
from fc_handler.storage import LocalStorage
from fc_handler.storage_oss import OssStorage
from imgpipe.cli import main, parser
from imgpipe.cloud.credentials import Credentials
from imgpipe.cloud.errors import ListingError, SetupError
from imgpipe.cloud.fc import FcInvoker
from imgpipe.cloud.objects import Listed, list_local, list_oss
from imgpipe.cloud.stack import Stack
from imgpipe.cloud.terraform import evaluate
from imgpipe.commands.backfill import build
from imgpipe.commands.demo.pipeline import day_two
from imgpipe.commands.demo.pipeline import run as demo_run
from imgpipe.jobs.backfill import Backfill, Checkpoint, RateLimiter
from imgproc import load_config
from imgproc.config import fingerprint

ROUTED_IMAGES = 8  # the demo's function log lines: every sample is routed (notes.txt is ignored)


@pytest.fixture(scope="module")
def dev():
    return evaluate({"env": "dev"})


# The small shipped files `make demo` used before it drew real-size samples
# (imgpipe/commands/demo/samples.py): these tests count objects and name keys, and small
# files keep them fast.
_DATA = Path(__file__).parent / "data"
SAMPLES = [
    ("phone/IMG_0006.jpg", _DATA / "images" / "hopper_orientation_6.jpg"),
    ("design/logo-alpha.png", _DATA / "images" / "avif_star.png"),
    ("print/brochure-cmyk.jpg", _DATA / "images" / "pil_sample_cmyk.jpg"),
    ("camera/DSC_1200.jpg", _DATA / "bench" / "photo-12mp.jpg"),
    ("phone/IMG_0007-gps.jpg", _DATA / "images" / "exif_gps.jpg"),
    ("broken/truncated.jpg", _DATA / "images" / "truncated_jpeg.jpg"),
    ("broken/not-a-photo.jpg", _DATA / "samples" / "not-a-photo.jpg"),
    ("notes.txt", _DATA / "samples" / "notes.txt"),
]


@pytest.fixture(scope="module")
def demo_once(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo") / ".demo"
    return demo_run(SAMPLES, work, progress=False)


@pytest.fixture
def demo(demo_once, tmp_path):
    """A fresh copy of one `make demo` run's work directory for each test."""
    work = tmp_path / ".demo"
    shutil.copytree(demo_once.work_dir, work)
    return dataclasses.replace(demo_once, work_dir=work)


def local_job(demo, *argv: str) -> Backfill:
    args = parser().parse_args(["backfill", "--buckets", str(demo.work_dir / "buckets"), *argv])
    return build(args)


def invoked_keys(demo) -> list[str]:
    log = demo.work_dir / "function.log"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return [r["key"] for r in lines[ROUTED_IMAGES:] if "key" in r]


# ---------------------------------------------------------------- local runs


def test_after_the_demo_everything_is_current(demo):
    counts = local_job(demo).run()
    assert (counts.listed, counts.current, counts.invoked, counts.filtered) == (8, 7, 0, 1)
    assert invoked_keys(demo) == []


def test_redoes_exactly_what_is_stale_then_nothing(demo, tmp_path):
    target = demo.work_dir / "buckets" / demo.target_bucket
    (target / "resized" / "small" / "phone" / "IMG_0006.jpg.webp").unlink()
    (target / "rejected" / "broken" / "truncated.jpg.json").unlink()
    counts = local_job(demo).run()
    assert (counts.current, counts.invoked, counts.failed) == (5, 2, 0)
    assert sorted(invoked_keys(demo)) == [
        "uploads/broken/truncated.jpg",
        "uploads/phone/IMG_0006.jpg",
    ]
    assert (target / "resized" / "small" / "phone" / "IMG_0006.jpg.webp").exists()
    again = local_job(demo).run()
    assert (again.current, again.invoked) == (7, 0)


def test_a_changed_variant_config_makes_everything_stale(demo, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"variants": [{"name": "thumb", "width": 64}]}))
    counts = local_job(demo, "--config", str(config)).run()
    assert (counts.current, counts.invoked) == (0, 7)
    thumb = demo.work_dir / "buckets" / demo.target_bucket / "resized" / "thumb"
    assert (thumb / "camera" / "DSC_1200.jpg.jpg").exists()
    meta = LocalStorage(demo.work_dir / "buckets").head(
        demo.target_bucket, "resized/thumb/camera/DSC_1200.jpg.jpg"
    )
    assert meta.metadata[FINGERPRINT] == fingerprint(load_config(config.read_text()))
    assert local_job(demo, "--config", str(config)).run().invoked == 0


def test_killed_halfway_resumes_without_repeating_work(demo, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"quality": {"jpeg": 70}}))
    first = local_job(demo, "--config", str(config))

    handler, calls = first.invoker, []

    def stop_after_three(payload):
        calls.append(payload)
        request_id = handler(payload)
        if len(calls) == 3:
            first.stop.set()  # what Ctrl-C or SIGTERM does
        return request_id

    first.invoker = stop_after_three
    partial = first.run()
    assert not first.complete
    assert partial.invoked == 3
    saved = json.loads(first.checkpoint.path.read_text())
    assert saved["counts"]["invoked"] == 3 and saved["after"]

    second = local_job(demo, "--config", str(config))
    total = second.run()
    assert second.complete
    assert total.invoked == 7 and total.current == 0  # counts carried over
    keys = invoked_keys(demo)
    assert len(keys) == len(set(keys)) == 7  # nothing done twice
    assert not second.checkpoint.path.exists()


def test_sigterm_saves_the_checkpoint_and_the_rerun_finishes(demo, tmp_path, monkeypatch, capsys):
    """The CLI as a user runs it, killed (SIGTERM) after the third invocation."""
    import os
    import signal

    from imgpipe.cloud import fc as module

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"quality": {"webp": 60}}))
    argv = ["backfill", "--buckets", str(demo.work_dir / "buckets"), "--config", str(config)]
    real, calls = module.LocalInvoker.__call__, []

    def killed_after_three(self, payload):
        calls.append(json.loads(payload)["data"]["oss"]["object"]["key"])
        result = real(self, payload)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return result

    monkeypatch.setattr(module.LocalInvoker, "__call__", killed_after_three)
    assert main(argv) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    saved = json.loads((demo.work_dir / "backfill.json").read_text())
    assert saved["counts"]["invoked"] == len(calls) >= 3
    assert main(argv) == 0
    assert "invoked:            7" in capsys.readouterr().out  # counts carried over
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 7  # nothing twice
    assert not (demo.work_dir / "backfill.json").exists()


def test_prefix_backfills_a_part_of_the_source_prefix(demo, capsys):
    counts = local_job(demo, "--prefix", "uploads/phone/", "--force").run()
    assert (counts.listed, counts.invoked) == (2, 2)
    assert sorted(invoked_keys(demo)) == [
        "uploads/phone/IMG_0006.jpg",
        "uploads/phone/IMG_0007-gps.jpg",
    ]
    buckets = str(demo.work_dir / "buckets")
    assert main(["backfill", "--buckets", buckets, "--prefix", "elsewhere/"]) == 2
    assert "outside the source prefix 'uploads/'" in capsys.readouterr().err


def test_an_empty_object_is_invoked_once_then_current(demo):
    """An empty upload is rejected with a record (one behaviour, issue 26), so
    the first run invokes it and the next finds it current."""
    storage = LocalStorage(demo.work_dir / "buckets")
    storage.put(demo.source_bucket, "uploads/empty.jpg", b"", content_type="image/jpeg")
    first = local_job(demo).run()
    assert (first.ignored, first.invoked, first.current) == (0, 1, 7)
    again = local_job(demo).run()
    assert (again.ignored, again.invoked, again.current) == (0, 0, 8)


def test_objects_the_handler_would_ignore_are_not_invoked_again_and_again(demo):
    """The function's own outputs never get variants: without the handler's own
    rule each rerun would invoke them again. An oversized object is invoked: the
    handler rejects it with a record (too-large), so it is current after."""
    big = dataclasses.replace(local_job(demo).stack, max_object_bytes=10_000)
    assert big.ignore_reason(Listed("uploads/x.jpg", 10_001, "E")) is None
    same = dataclasses.replace(big, target_bucket=big.source_bucket)
    assert same.ignore_reason(Listed("resized/large/x.jpg", 5, "E")) == "own-output"
    assert same.ignore_reason(Listed("rejected/x.jpg.json", 5, "E")) == "own-output"
    assert big.ignore_reason(Listed("resized/large/x.jpg", 5, "E")) is None


def function_outcomes(demo) -> dict[str, list[str]]:
    """key -> the outcomes the function logged for it since the demo's own run."""
    log = demo.work_dir / "function.log"
    lines = [json.loads(line) for line in log.read_text().splitlines()][ROUTED_IMAGES:]
    outcomes: dict[str, list[str]] = {}
    for r in lines:
        if "key" in r:
            outcomes.setdefault(r["key"], []).append(r["outcome"])
    return outcomes


def test_force_reaches_the_function_which_redoes_the_work(demo):
    """Not only backfill's counter: the function itself is told to force, and
    rewrites every variant and rejection record (a new mtime), none `current`."""
    target = demo.work_dir / "buckets" / demo.target_bucket
    before = {p: p.stat().st_mtime_ns for p in target.rglob("*") if p.is_file()}
    # five images x (six variants and a "ready" manifest), two rejection records
    assert len(before) == 5 * (6 + 1) + 2
    counts = local_job(demo, "--force").run()
    assert (counts.current, counts.invoked) == (0, 7)
    outcomes = function_outcomes(demo)
    assert len(outcomes) == 7 and "current" not in {o for v in outcomes.values() for o in v}
    assert sorted(o for (o,) in outcomes.values()) == ["processed"] * 5 + ["rejected"] * 2
    rewritten = [p for p, t in before.items() if p.stat().st_mtime_ns != t]
    assert sorted(rewritten) == sorted(before)


def test_dry_run_invokes_nothing_and_prices_the_work(demo, capsys):
    target = demo.work_dir / "buckets" / demo.target_bucket
    (target / "resized" / "large" / "camera" / "DSC_1200.jpg.jpg").unlink()
    code = main(["backfill", "--buckets", str(demo.work_dir / "buckets"), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "would invoke:       1" in out and "current (skipped):  6" in out
    assert "estimated cost of 1 invocations at 1 vCPU, 1024 MB x 300 ms" in out
    assert invoked_keys(demo) == []
    assert not (target / "resized" / "large" / "camera" / "DSC_1200.jpg.jpg").exists()
    sized = ["--memory-mb", "2048", "--vcpu", "2", "--ms-per-object", "900"]
    assert main(["backfill", "--buckets", str(demo.work_dir / "buckets"), "--dry-run", *sized]) == 0
    assert "estimated cost of 1 invocations at 2 vCPU, 2048 MB x 900 ms" in capsys.readouterr().out


def test_a_checkpoint_of_another_run_is_refused(demo, capsys):
    job = local_job(demo)
    job.checkpoint.path.write_text(
        json.dumps({"version": 1, "identity": {"source": "x/"}, "after": "", "counts": {}})
    )
    assert main(["backfill", "--buckets", str(demo.work_dir / "buckets")]) == 2
    assert "belongs to another run" in capsys.readouterr().err


def interrupted(demo, *argv: str, after: int = 3) -> Backfill:
    """A run of `argv` stopped (as by Ctrl-C) once `after` routed objects were done."""
    job = local_job(demo, *argv)
    one, done = job._one, []

    def counted(*a):
        verdict = one(*a)
        done.append(verdict)
        if len(done) == after:
            job.stop.set()
        return verdict

    job._one = counted
    job.run()
    assert not job.complete and json.loads(job.checkpoint.path.read_text())["after"]
    return job


@pytest.mark.parametrize(
    "case",
    [
        (["--dry-run"], [], "mode 'dry-run' there, 'stale' here"),
        ([], ["--dry-run"], "mode 'stale' there, 'dry-run' here"),
        ([], ["--force"], "mode 'stale' there, 'force' here"),
        (["--force"], [], "mode 'force' there, 'stale' here"),
        ([], ["--prefix", "uploads/"], None),  # the same prefix, spelled out
        ([], ["--prefix", "uploads/p"], "/uploads/' there, "),
        ([], ["--config", "QUALITY"], "config '"),
    ],
)
def test_a_resume_with_flags_that_change_the_work_is_refused(demo, tmp_path, capsys, case):
    """Resuming a checkpoint under other flags would take the objects before it as
    settled the new way and skip them for good: refused, naming what differs."""
    first, then, differs = case
    config = tmp_path / "q.json"
    config.write_text(json.dumps({"quality": {"jpeg": 71}}))
    then = [str(config) if a == "QUALITY" else a for a in then]
    job = interrupted(demo, *first)
    saved = job.checkpoint.path.read_text()
    code = main(["backfill", "--buckets", str(demo.work_dir / "buckets"), *then])
    err = capsys.readouterr().err
    if differs is None:
        assert code == 0 and not job.checkpoint.path.exists()
        return
    assert code == 2, err
    assert differs in err and "belongs to another run" in err and "skip them" in err
    assert job.checkpoint.path.read_text() == saved  # untouched
    assert main(["backfill", "--buckets", str(demo.work_dir / "buckets"), *first]) == 0


def test_a_real_run_after_an_interrupted_dry_run_skips_nothing(demo, capsys):
    """The interrupted dry run's checkpoint is refused; deleted, the real run redoes
    every stale object, including those the dry run had passed."""
    target = demo.work_dir / "buckets" / demo.target_bucket
    for p in target.glob("resized/large/**/*.jpg"):
        p.unlink()
    dry = interrupted(demo, "--dry-run")
    assert json.loads(dry.checkpoint.path.read_text())["counts"]["would_invoke"] >= 1
    buckets = str(demo.work_dir / "buckets")
    assert main(["backfill", "--buckets", buckets]) == 2
    assert invoked_keys(demo) == []
    dry.checkpoint.clear()
    assert main(["backfill", "--buckets", buckets, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["invoked"], out["current"]) == (5, 2)
    assert len(list(target.glob("resized/large/**/*.jpg"))) == 5


def test_pacing_and_pricing_flags_may_change_on_resume(demo, capsys):
    interrupted(demo, "--force")
    argv = ["backfill", "--buckets", str(demo.work_dir / "buckets"), "--force"]
    pacing = ["--rate", "500", "--retries", "1", "--workers", "3", "--memory-mb", "2048"]
    assert main([*argv, *pacing, "--vcpu", "2", "--ms-per-object", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["invoked"], out["current"]) == (7, 0)
    assert sorted(function_outcomes(demo)) == sorted(set(function_outcomes(demo)))
    assert all(len(v) == 1 for v in function_outcomes(demo).values())  # nothing twice


def test_the_demo_shows_one_of_each(demo):
    target = demo.work_dir / "buckets" / demo.target_bucket
    two = day_two(demo)
    assert (two.duplicate.key, two.duplicate.outcome) == ("uploads/phone/IMG_0006.jpg", "current")
    # the deletion: a copy uploaded for it, so the samples' variants stay for the report
    assert (two.upload.outcome, two.deletion.outcome) == ("processed", "deleted")
    assert not (target / "resized" / "large" / "day-two" / "deleted-later.jpg.jpg").exists()
    assert (two.backfill.invoked, two.backfill.current) == (1, 6)  # no sample deleted
    assert (target / two.backfill_stale).exists()
    assert (two.outage.outcome, two.outage.attempts) == ("dead-lettered", 4)
    assert (two.redriven, two.kept) == (1, 0) and not demo.dead_letter_file.exists()
    assert (target / "resized" / "large" / "later" / "IMG_0008.jpg.jpg").exists()
    text = "\n".join(two.lines())
    assert "1 invoked, 6 current, 1 not routed" in text
    # the duplicate wrote nothing: its log line says current, no second processing
    log = [json.loads(x) for x in (demo.work_dir / "function.log").read_text().splitlines()]
    first = [r.get("outcome") for r in log if r.get("key") == "uploads/phone/IMG_0006.jpg"]
    assert first == ["processed", "current"]


def test_memory_stays_flat_as_the_object_count_grows(dev, tmp_path):
    """Nothing per object is kept: 12x the objects, the same peak (tests/bench_backfill.py
    measures it at 25,000 to 100,000 over HTTP)."""
    import tracemalloc

    from fc_handler.storage import NotFound

    class NothingCurrent:
        def head(self, bucket, key):
            raise NotFound(key)

    def peak(n: int) -> float:
        job = Backfill(
            stack=fc_stack(dev),
            lister=lambda _after: (Listed(f"uploads/{i:07d}.jpg", 10, "0" * 32) for i in range(n)),
            target=NothingCurrent(),
            invoker=lambda _payload: "",
            checkpoint=Checkpoint(tmp_path / f"{n}.json", {"n": n}),
            failures=tmp_path / f"{n}.failed.jsonl",
            workers=4,
        )
        tracemalloc.start()
        counts = job.run()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert counts.invoked == n
        return top / 2**20

    small, large = peak(500), peak(6000)
    assert large < small + 0.25, (small, large)


def test_local_listing_is_in_oss_key_order_and_resumes_after_a_key(tmp_path):
    storage = LocalStorage(tmp_path)
    keys = ["p/a-c.jpg", "p/a/b.jpg", "p/a0.jpg", "p/a/z/y.jpg", "p/é.jpg", "p/Z.jpg", "q/x.jpg"]
    for k in keys:
        storage.put("b", k, k.encode(), content_type="image/jpeg")
    listed = list(list_local(tmp_path, "b", "p/"))
    in_bytes_order = sorted((k for k in keys if k.startswith("p/")), key=lambda k: k.encode())
    assert [x.key for x in listed] == in_bytes_order
    assert listed[0].etag == hashlib.md5(listed[0].key.encode()).hexdigest().upper()
    for i, item in enumerate(listed):
        assert [x.key for x in list_local(tmp_path, "b", "p/", item.key)] == in_bytes_order[i + 1 :]


# ----------------------------------------------------------- FC mode, stand-ins


CREDS = Credentials("test-key", "test-secret")


@pytest.fixture
def oss():
    with OssStandIn() as server:
        yield server


def fc_stack(dev, **kw) -> Stack:
    return Stack(
        source_bucket="src-bucket",
        target_bucket="out-bucket",
        source_prefix="uploads/",
        rejected_prefix="rejected/",
        config=load_config("{}"),
        pattern={**dev.filter_pattern, "data": {"oss": {"bucket": {"name": ["src-bucket"]}}}},
        memory_mb=1024,
        region="cn-hangzhou",
        account="1234567890123456",
        function_name="imgpipe-dev-images",
        **kw,
    )


def fc_job(stack, oss, fc, tmp_path, **kw) -> Backfill:
    auth = oss2.Auth(CREDS.access_key_id, CREDS.access_key_secret)
    source = oss2.Bucket(auth, oss.endpoint, stack.source_bucket)
    invoker = FcInvoker(
        stack.function_name, region=stack.region, credentials=CREDS, endpoint=fc.endpoint
    )
    options = {"workers": 4, "sleep": lambda _s: None, **kw}
    return Backfill(
        stack=stack,
        lister=lambda after: list_oss(source, stack.source_prefix, after, page=50),
        target=OssStorage(auth, oss.endpoint),
        invoker=invoker,
        checkpoint=Checkpoint(tmp_path / "cp.json", {"source": "src-bucket/uploads/"}),
        failures=tmp_path / "cp.failed.jsonl",
        **options,
    )


def test_fc_mode_lists_by_marker_and_invokes_asynchronously(dev, oss, tmp_path):
    stack = fc_stack(dev)
    for i in range(120):
        oss.put("src-bucket", f"uploads/{i:03d}.jpg", b"photo %d" % i)
    oss.put("src-bucket", "uploads/readme.txt", b"text")
    # ten of them are current: every variant carries their ETag and the fingerprint
    meta_print = fingerprint(stack.config)
    for i in range(10):
        etag = hashlib.md5(b"photo %d" % i).hexdigest().upper()
        for v in ("large", "medium", "small"):
            for ext in ("jpg", "webp"):
                key = f"resized/{v}/{i:03d}.jpg.{ext}"
                oss.put("out-bucket", key, b"v", {"source-etag": etag, FINGERPRINT: meta_print})
    with FcStandIn() as fc:
        counts = fc_job(stack, oss, fc, tmp_path).run()
        requests = list(fc.requests)
        accepted = list(fc.accepted)
    assert (counts.listed, counts.current, counts.invoked, counts.filtered) == (121, 10, 110, 1)
    # OSS: pages of 50 from the prefix, each after the previous page's last key
    listings = [r.query for r in oss.listings() if r.path.strip("/") == "src-bucket"]
    assert [q["marker"] for q in listings] == ["", "uploads/049.jpg", "uploads/099.jpg"]
    assert {q["max-keys"] for q in listings} == {"50"} and listings[0]["prefix"] == "uploads/"
    # FC: the documented async invocation, signed, with the event EventBridge would send
    assert len(requests) == 110
    for r in requests:
        assert (r.method, r.path) == (
            "POST",
            "/2023-03-30/functions/imgpipe-dev-images/invocations",
        )
        assert r.headers["x-fc-invocation-type"] == "Async"
        assert r.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-key")
        assert r.query == {"qualifier": "LATEST"}
    events = sorted(
        (json.loads(b) for b in accepted), key=lambda e: e["data"]["oss"]["object"]["key"]
    )
    first = events[0]
    assert first["type"] == "oss:ObjectCreated:PutObject" and first["source"] == "acs.oss"
    obj = first["data"]["oss"]["object"]
    assert obj == {**obj, "key": "uploads/010.jpg", "size": len(b"photo 10")}
    assert obj["eTag"] == hashlib.md5(b"photo 10").hexdigest().upper()
    assert first["subject"].endswith("src-bucket/uploads/010.jpg")
    assert "imgpipeforce" not in first


def test_throttling_and_5xx_are_retried_and_a_stalled_answer_times_out(dev, oss, tmp_path):
    stack = fc_stack(dev)
    for i in range(3):
        oss.put("src-bucket", f"uploads/{i}.jpg", b"x%d" % i)
    script = {0: 429, 1: 503, 2: 1.5, 3: 500}
    with FcStandIn(script.get) as fc:
        job = fc_job(stack, oss, fc, tmp_path, workers=1)
        job.invoker.timeout_ms = 500
        counts = job.run()
        statuses = len(fc.requests)
    assert (counts.invoked, counts.failed) == (3, 0)
    assert statuses == 3 + 4  # four answers were retried
    assert not (tmp_path / "cp.failed.jsonl").exists()


def test_one_object_that_keeps_failing_is_reported_and_the_run_goes_on(dev, oss, tmp_path):
    stack = fc_stack(dev)
    for i in range(6):
        oss.put("src-bucket", f"uploads/{i}.jpg", b"y%d" % i)

    def script(_n):
        return None

    with FcStandIn(script) as fc:
        bad = b'"key": "uploads/3.jpg"'

        def answer(req, original=fc.answer):
            if bad in req.body:
                return 503, {"Content-Type": "application/json"}, b'{"Code":"ServiceUnavailable"}'
            return original(req)

        fc.record_bodies = True
        fc.answer = answer
        sleeps: list[float] = []
        job = fc_job(stack, oss, fc, tmp_path, workers=2, retries=3, sleep=sleeps.append)
        counts = job.run()
    assert (counts.invoked, counts.failed) == (5, 1)
    (failure,) = [json.loads(x) for x in (tmp_path / "cp.failed.jsonl").read_text().splitlines()]
    assert failure["key"] == "uploads/3.jpg" and "HTTP 503" in failure["error"]
    assert "attempt 4" in failure["error"]
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff between the four attempts


def test_a_forbidden_invoke_is_not_retried(dev, oss, tmp_path):
    stack = fc_stack(dev)
    oss.put("src-bucket", "uploads/a.jpg", b"a")
    with FcStandIn(lambda _n: 403) as fc:
        counts = fc_job(stack, oss, fc, tmp_path).run()
        assert len(fc.requests) == 1
    assert counts.failed == 1


def test_a_failing_listing_page_is_retried_then_stops_with_the_checkpoint_saved(dev, oss, tmp_path):
    for i in range(120):
        oss.put("src-bucket", f"uploads/{i:03d}.jpg", b"z%d" % i)
    bucket = oss2.Bucket(oss2.Auth("k", "s"), oss.endpoint, "src-bucket")
    # the second page fails twice (503), then answers
    oss.listing_status = {1: 503, 2: 503}.get
    slept: list[float] = []
    keys = [x.key for x in list_oss(bucket, "uploads/", page=50, sleep=slept.append)]
    assert len(keys) == 120 and slept == [0.5, 1.0]
    # from the second page on, it keeps failing: the run stops, the first page is kept
    oss.requests.clear()
    oss.listing_status = lambda n: 503 if n >= 1 else None
    stack = fc_stack(dev)
    with FcStandIn() as fc:
        job = fc_job(stack, oss, fc, tmp_path)
        job.lister = lambda after: list_oss(bucket, "uploads/", after, page=50, sleep=slept.append)
        with pytest.raises(ListingError, match=r"after 'uploads/049.jpg' failed: HTTP 503"):
            job.run()
        assert len(fc.accepted) == 50
    saved = json.loads(job.checkpoint.path.read_text())
    assert saved["after"] == "uploads/049.jpg" and saved["counts"]["invoked"] == 50
    oss.listing_status = lambda _n: None
    with FcStandIn() as fc:
        resumed = fc_job(stack, oss, fc, tmp_path).run()
        assert len(fc.accepted) == 70  # the rest, nothing twice
    assert resumed.invoked == 120


def test_rate_limiter_spaces_acquisitions():
    now = [0.0]
    slept: list[float] = []

    def sleep(s):
        slept.append(round(s, 6))
        now[0] += s

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert slept == [0.25, 0.25, 0.25, 0.25]


def test_a_bucket_listing_of_100000_keys_in_pages(oss):
    oss.generated["big"] = GeneratedKeys(100_000)
    bucket = oss2.Bucket(oss2.Auth("k", "s"), oss.endpoint, "big")
    count, last = 0, ""
    for item in list_oss(bucket, "uploads/"):
        assert item.key > last
        count, last = count + 1, item.key
    assert (count, last) == (100_000, "uploads/0099999.jpg")
    listings = oss.listings()
    assert len(listings) == 100
    assert listings[1].query["marker"] == "uploads/0000999.jpg"
    # resuming after a key lists only the rest
    assert sum(1 for _ in list_oss(bucket, "uploads/", "uploads/0099000.jpg")) == 999


@pytest.mark.parametrize(
    "variables",
    [{}, {"watermark": {"text": ""}, "quality": {"jpeg": 70}, "source_prefix": "in/"}],
)
def test_the_outputs_give_backfill_the_handlers_fingerprint_and_pattern(variables):
    """Backfill's current check agrees with the function's, or everything looks stale."""
    from fc_handler.settings import Settings

    ev = evaluate({"env": "dev", **variables})
    names = ("source_bucket", "target_bucket", "function_name", "event_filter_pattern")
    outputs = {n: {"value": ev.output(n)} for n in (*names, "pipeline_config")}
    outputs["function_arn"] = {"value": "acs:fc:cn-hangzhou:1234567890123456:functions/f"}
    stack = Stack.from_outputs(outputs, memory_mb=1024)
    handler = Settings.from_env(ev.function_environment)
    assert fingerprint(stack.config) == fingerprint(handler.processor)
    assert (stack.source_prefix, stack.rejected_prefix) == (
        handler.source_prefix,
        handler.rejected_prefix,
    )
    assert stack.pattern == ev.filter_pattern
    assert stack.max_object_bytes == handler.max_object_bytes
    assert (stack.source_bucket, stack.target_bucket) == (
        handler.source_bucket,
        handler.target_bucket,
    )


def test_the_cli_against_a_deployed_stack(dev, oss, tmp_path, monkeypatch, capsys):
    """`imgpipe backfill --outputs`, wired end to end: credentials from the
    environment, the endpoints given, the checkpoint in the working directory."""
    for i in range(5):
        oss.put("src-bucket", f"uploads/{i}.jpg", b"p%d" % i)
    outputs = {
        "source_bucket": {"value": "src-bucket"},
        "target_bucket": {"value": "out-bucket"},
        "function_name": {"value": "imgpipe-dev-images"},
        "function_arn": {"value": "acs:fc:cn-hangzhou:1234567890123456:functions/x"},
        "event_filter_pattern": {"value": json.dumps(fc_stack(dev).pattern)},
        "pipeline_config": {"value": json.dumps({"source_prefix": "uploads/", "processor": {}})},
    }
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
    argv = ["backfill", "--outputs", "outputs.json", "--oss-endpoint", oss.endpoint]
    with FcStandIn() as fc:
        assert main([*argv, "--fc-endpoint", fc.endpoint, "--dry-run"]) == 0
        assert "would invoke:       5" in capsys.readouterr().out and not fc.requests
        assert main([*argv, "--fc-endpoint", fc.endpoint, "--rate", "1000"]) == 0
        assert "invoked:            5" in capsys.readouterr().out
        assert len(fc.accepted) == 5
        assert {r.headers["x-fc-invocation-type"] for r in fc.requests} == {"Async"}
    assert not (tmp_path / ".imgpipe-backfill.json").exists()  # finished: no checkpoint


def test_outputs_are_read_from_terraform_output_json(tmp_path, monkeypatch, capsys):
    outputs = {
        "source_bucket": {"value": "src-bucket"},
        "target_bucket": {"value": "out-bucket"},
        "function_name": {"value": "fn"},
        "function_arn": {"value": "acs:fc:cn-shanghai:123:functions/fn"},
        "event_filter_pattern": {"value": json.dumps({"source": ["acs.oss"]})},
        "pipeline_config": {
            "value": json.dumps({"source_prefix": "in/", "rejected_prefix": "r/", "processor": {}})
        },
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    stack = Stack.from_outputs(outputs, memory_mb=512)
    assert (stack.region, stack.account, stack.source_prefix) == ("cn-shanghai", "123", "in/")
    del outputs["function_arn"]
    path.write_text(json.dumps(outputs))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
    assert main(["backfill", "--outputs", str(path)]) == 2
    assert "lack function_arn" in capsys.readouterr().err


def test_backfill_prices_with_the_cu_model_of_imgpipe_cost():
    """A million 300 ms invokes at 1 vCPU / 1024 MB, by hand from docs/cost.md's rates:
    75 CU per 10k calls = 7,500; 300,000 vCPU-s x 1 CU = 300,000; 300,000 GB-s x 0.15 =
    45,000; 300,000 s x 0.5 GB disk x 0.05 = 7,500; 360,000 CU x 0.00011 CNY = 39.60 CNY."""
    from imgpipe.cloud.stack import Stack
    from imgpipe.commands.backfill import cost_line

    stack = Stack.__new__(Stack)
    object.__setattr__(stack, "memory_mb", 1024)
    line = cost_line(stack, 1_000_000, 300.0)
    assert "39.60 CNY (360,000 CU: 7,500 invocations + 300,000 vCPU + 52,500 memory" in line


# ------------------------------------------------------- reading the stack's outputs


def stack_outputs(**pipeline) -> dict:
    config = {"source_prefix": "uploads/", "processor": {}, **pipeline}
    values = {
        "source_bucket": "src-bucket",
        "target_bucket": "out-bucket",
        "function_name": "imgpipe-prod-images",
        "function_arn": "acs:fc:cn-shanghai:1234567890123456:functions/imgpipe-prod-images",
        "event_filter_pattern": "{}",
        "pipeline_config": json.dumps(config),
    }
    return {k: {"value": v} for k, v in values.items()}


def test_the_stack_takes_what_pipeline_config_says_of_endings_sizes_and_names():
    """A stack deployed with its own image endings and size limit: backfill
    judges routing and size by those, not by the handler's defaults."""
    s = Stack.from_outputs(
        stack_outputs(image_suffixes=[".jpg", ".HEIC"], max_object_bytes=1), memory_mb=2048
    )
    assert s.image_suffixes == (".jpg", ".heic") and s.max_object_bytes == 1
    assert s.rejected_prefix == "rejected/"  # a stack from before the output had it
    moved = Stack.from_outputs(stack_outputs(rejected_prefix="refused/"))
    assert moved.rejected_prefix == "refused/"
    assert (s.region, s.account, s.memory_mb) == ("cn-shanghai", "1234567890123456", 2048)
    assert s.function_name == "imgpipe-prod-images" and s.queue_name is None
    for size in (0, -5, True, "100", 2.5):  # not a positive whole number: no limit known
        assert Stack.from_outputs(stack_outputs(max_object_bytes=size)).max_object_bytes is None
    outputs = stack_outputs()
    outputs["queue_name"] = {"value": ""}  # an output that is there but empty: none
    assert Stack.from_outputs(outputs).queue_name is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_filter_pattern": "{not json"}, "event_filter_pattern output is not JSON: "),
        (
            {"function_arn": "acs:fc::1:functions/x"},
            "function_arn 'acs:fc::1:functions/x' is not acs:fc:<region>:<account>:...",
        ),
        (
            {
                "pipeline_config": json.dumps(
                    {"source_prefix": "u/", "processor": {}, "image_suffixes": ["jpg"]}
                )
            },
            "pipeline_config output: image_suffixes: IMAGE_SUFFIXES: comma-separated endings like "
            ".jpg required, got 'jpg'",
        ),
    ],
)
def test_outputs_the_tools_cannot_use_are_refused_naming_the_output(change, message):
    outputs = stack_outputs()
    outputs.update({k: {"value": v} for k, v in change.items()})
    with pytest.raises(SetupError) as refused:
        Stack.from_outputs(outputs)
    assert str(refused.value).startswith(message)


def test_the_local_stack_is_the_dev_environments_as_terraform_evaluates_it():
    """`make demo` and every local command: the dev environment's function
    settings, in the stand-in region and account the local events carry."""
    from fc_handler.settings import Settings
    from imgpipe.cloud.terraform import LOCAL_ACCOUNT, LOCAL_REGION, evaluate

    dev = evaluate({"env": "dev"})
    settings = Settings.from_env(dict(dev.function_environment))
    s = Stack.local()
    assert (s.region, s.account) == (LOCAL_REGION, LOCAL_ACCOUNT)
    assert s.max_object_bytes == settings.max_object_bytes is not None
    assert s.image_suffixes == settings.image_suffixes
    assert s.source_bucket == settings.source_bucket and "dev" in s.source_bucket
    assert s.memory_mb == int(dev.one("alicloud_fcv3_function")["memory_size"])
