"""`imgpipe smoke` at its edges: versioned buckets, whose dead letter it takes,
variants of zero bytes.

In-process stand-ins with the behaviour that matters here, through the same
`Smoke` the command runs: OSS buckets that keep every version (a delete
without a version id only adds a delete marker, as OSS versioning does:
"DeleteObject ... If versioning is enabled ... OSS inserts a delete marker"),
a pipeline that writes the variants when the photo arrives and dead-letters
the Archive upload, and a queue that records what was deleted and released.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import oss2
import pytest

from imgpipe.cloud.mns import Message
from imgpipe.cloud.stack import Stack
from imgpipe.commands.smoke import Smoke, SmokeError
from imgproc import load_config
from imgproc.keys import CONTENT_TYPES

SRC, DST = "photos-src", "photos-out"


class VersionedBucket:
    """oss2.Bucket's put/head/delete over a bucket with versioning enabled."""

    def __init__(self, name: str, cloud: Cloud) -> None:
        self.name, self.cloud = name, cloud
        self.versions: dict[str, list[tuple[str, bytes | None, str]]] = {}  # None: delete marker

    def put_object(self, key, data, headers=None):
        version = f"v{self.cloud.next_version()}"
        ctype = (headers or {}).get("Content-Type", "application/octet-stream")
        self.versions.setdefault(key, []).append((version, data, ctype))
        self.cloud.uploaded(self, key, data, headers or {})
        return SimpleNamespace(versionid=version)

    def head_object(self, key):
        versions = self.versions.get(key)
        if not versions or versions[-1][1] is None:
            raise oss2.exceptions.NotFound(404, {}, b"", {})
        version, data, ctype = versions[-1]
        return SimpleNamespace(
            content_length=len(data), headers={"Content-Type": ctype}, versionid=version
        )

    def delete_object(self, key, params=None):
        version = (params or {}).get("versionId")
        if version is None:  # versioned: a delete marker on top, every version kept
            self.versions.setdefault(key, []).append((f"v{self.cloud.next_version()}", None, ""))
            return
        kept = [v for v in self.versions.get(key, []) if v[0] != version]
        if kept:
            self.versions[key] = kept
        else:
            self.versions.pop(key, None)

    def list_object_versions(self, prefix="", key_marker="", versionid_marker="", max_keys=2):
        """ListObjectVersions, newest first per key, `max_keys` a page (2: paging is used)."""
        entries = [
            (key, version, data is None)
            for key in sorted(self.versions)
            if key.startswith(prefix)
            for version, data, _ in reversed(self.versions[key])
        ]
        if key_marker:
            at = entries.index(next(e for e in entries if e[:2] == (key_marker, versionid_marker)))
            entries = entries[at + 1 :]
        page, rest = entries[:max_keys], entries[max_keys:]
        info = [SimpleNamespace(key=k, versionid=v, marker=m) for k, v, m in page]
        return SimpleNamespace(
            versions=[i for i in info if not i.marker],
            delete_marker=[i for i in info if i.marker],
            is_truncated=bool(rest),
            next_key_marker=page[-1][0] if rest else "",
            next_versionid_marker=page[-1][1] if rest else "",
        )

    def leftovers(self) -> dict[str, int]:
        """key -> versions and delete markers still stored."""
        return {k: len(v) for k, v in self.versions.items() if v}


@dataclass
class Queue:
    messages: list[Message] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def receive(self, wait_seconds):
        for m in self.messages:
            if m.message_id not in self.deleted and m.message_id not in self.released:
                return m
        return None

    def delete(self, message):
        self.deleted.append(message.message_id)

    def release(self, message):
        self.released.append(message.message_id)


def destination_record(bucket: str, key: str) -> str:
    """FC's asynchronous-invocation destination record for a failed upload of `key`."""
    return json.dumps(
        {
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 4},
            "requestPayload": json.dumps(
                {"data": {"oss": {"bucket": {"name": bucket}, "object": {"key": key}}}}
            ),
            "responsePayload": json.dumps({"errorType": "StorageError"}),
        }
    )


class Cloud:
    """Both buckets and the pipeline between them."""

    def __init__(self, stack, *, variant_bytes=lambda key: b"x" * 100, before=(), churn=False):
        self.stack, self.variant_bytes, self.churn = stack, variant_bytes, churn
        self.queue = Queue(messages=list(before))
        self.version = 0
        self.buckets = {SRC: VersionedBucket(SRC, self), DST: VersionedBucket(DST, self)}

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def uploaded(self, bucket, key, data, headers):
        if bucket.name != SRC:
            return
        if headers.get("x-oss-storage-class") == "Archive":  # the function fails: FC gives up
            body = destination_record(SRC, key)
            self.queue.messages.append(Message("h-ours", body, message_id="ours"))
            return
        target = self.buckets[DST]
        for out_key, _, fmt in self.stack.outputs(key).variants:
            ctype = CONTENT_TYPES[fmt]
            # the function writes each variant; retries write it again (more versions)
            for _ in range(3):
                target.put_object(out_key, self.variant_bytes(out_key), {"Content-Type": ctype})
            if self.churn:  # deleted once in between (a delete marker), written again
                target.delete_object(out_key)
                target.put_object(out_key, self.variant_bytes(out_key), {"Content-Type": ctype})


def stack() -> Stack:
    return Stack(
        source_bucket=SRC,
        target_bucket=DST,
        queue_name="dead-letters",
        region="cn-hangzhou",
        account="1234567890123456",
        source_prefix="uploads/",
        rejected_prefix="rejected/",
        config=load_config('{"variants": [{"name": "thumb", "width": 64, "formats": ["jpeg"]}]}'),
    )


def smoke_on(
    cloud: Cloud, now: list[float], sleeps: list[float], tick: float = 0.12345, **kw
) -> Smoke:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    """`Smoke` on the in-process cloud, its clock `now[0]` (moved by each sleep,
    recorded in `sleeps`, and by `tick` at each reading, as a real clock moves)."""

    def clock() -> float:
        now[0] += tick
        return now[0]

    options = {"run_id": "run1", "timeout": 10, "dlq_timeout": 10, "poll": 1, **kw}
    return Smoke(
        stack=cloud.stack,
        oss=lambda name: cloud.buckets[name],
        queue=cloud.queue,
        say=lambda _line: None,
        clock=clock,
        sleep=sleep,
        **options,
    )


def smoke(cloud: Cloud, run_id: str = "run1") -> Smoke:
    return smoke_on(cloud, [0.0], [], tick=0.0, run_id=run_id)


# ------------------------------------------------------------- versioning


def test_versioned_buckets_keep_no_version_of_anything_it_wrote():
    cloud = Cloud(stack())
    cloud.buckets[DST].put_object("resized/thumb/keep.jpg.jpg", b"not ours", {})
    report = smoke(cloud).run()
    assert report.dead_letter_s is not None and len(report.variants) == 1
    assert cloud.buckets[SRC].leftovers() == {}
    # the variant's three versions (two pages of them) are gone; someone else's object stays
    assert cloud.buckets[DST].leftovers() == {"resized/thumb/keep.jpg.jpg": 1}


def test_delete_markers_of_what_it_wrote_go_too():
    cloud = Cloud(stack(), churn=True)
    smoke(cloud).run()
    assert cloud.buckets[DST].leftovers() == {}


def test_a_failed_run_still_removes_every_version():
    cloud = Cloud(stack(), variant_bytes=lambda _k: b"")
    with pytest.raises(SmokeError, match="0 bytes"):
        smoke(cloud).run()
    assert cloud.buckets[SRC].leftovers() == {}
    assert cloud.buckets[DST].leftovers() == {}


# ---------------------------------------------------------- the drill's letter


def test_only_the_drills_own_dead_letter_is_taken():
    """Another run's Archive upload, this run's photo (not the drill's upload) and a
    stranger's failure are all put back; this run's Archive upload, base64-encoded
    as MNS may store it, is the one deleted."""
    theirs = destination_record(SRC, "uploads/imgpipe-smoke/run2/archived.jpg")
    same_run_other_key = destination_record(SRC, "uploads/imgpipe-smoke/run1/photo.jpg")
    stranger = destination_record(SRC, "uploads/holiday/archived.jpg")
    cloud = Cloud(
        stack(),
        before=[
            Message("h1", theirs, message_id="run2"),
            Message("h2", same_run_other_key, message_id="photo"),
            Message("h3", stranger, message_id="stranger"),
        ],
    )
    real = cloud.uploaded

    def encoded(bucket, key, data, headers):
        real(bucket, key, data, headers)
        if headers.get("x-oss-storage-class") == "Archive":
            ours = cloud.queue.messages[-1]
            cloud.queue.messages[-1] = Message(
                ours.receipt_handle,
                base64.b64encode(ours.body.encode()).decode(),
                message_id="ours",
            )

    cloud.uploaded = encoded
    smoke(cloud).run()
    assert cloud.queue.deleted == ["ours"]
    assert cloud.queue.released == ["run2", "photo", "stranger"]


def test_a_run_id_that_is_a_prefix_of_another_does_not_take_its_letter():
    """Run `run1` must not take run `run12`'s dead letter."""
    other = destination_record(SRC, "uploads/imgpipe-smoke/run12/archived.jpg")
    cloud = Cloud(stack(), before=[Message("h1", other, message_id="run12")])
    smoke(cloud).run()
    assert cloud.queue.deleted == ["ours"] and cloud.queue.released == ["run12"]


# ------------------------------------------------------------ zero bytes


@pytest.mark.parametrize(("size", "passes"), [(0, False), (1, True)])
def test_a_variant_of_zero_bytes_fails_and_of_one_byte_passes(size, passes):
    cloud = Cloud(stack(), variant_bytes=lambda _k: b"v" * size)
    job = smoke(cloud)
    if passes:
        assert job.run().variants[0]["bytes"] == 1
    else:
        with pytest.raises(SmokeError, match=r"resized/thumb/imgpipe-smoke/run1/photo\.jpg\.jpg"):
            job.run()


# ------------------------------------------------------- MNS, over its REST API


def test_the_queue_calls_mns_as_documented():
    """Receive a batch (waitseconds), put someone else's message back at once
    (ChangeMessageVisibility to 1 s, not the 30 s visibility), delete ours; a
    refused call is an MnsError with MNS's code."""
    import time

    from standins import MnsStandIn

    from imgpipe.cloud.credentials import Credentials
    from imgpipe.cloud.errors import MnsError
    from imgpipe.cloud.mns import MnsQueue

    with MnsStandIn("dead-letters") as mns:
        first = mns.send("theirs")
        mns.send("ours")
        queue = MnsQueue(mns.endpoint, "dead-letters", Credentials("k", "s"))
        got = queue.receive_batch(16, 3)
        assert [m.body for m in got] == ["theirs", "ours"]
        assert got[0].message_id == first and got[0].dequeue_count == 1
        assert isinstance(got[0].enqueue_ms, int) and got[0].receipt_handle.startswith("1-")
        (get,) = [r for r in mns.requests if r.method == "GET"]
        assert get.query == {"numOfMessages": "16", "waitseconds": "3"}
        queue.release(got[0])
        (put,) = [r for r in mns.requests if r.method == "PUT"]
        assert put.query == {"receiptHandle": got[0].receipt_handle, "visibilityTimeout": "1"}
        theirs = next(m for m in mns.messages if m.body == "theirs")
        assert theirs.visible_at - time.monotonic() <= 1.0  # back within a second
        queue.delete(got[1])
        assert mns.bodies() == ["theirs"]
        with pytest.raises(MnsError) as caught:
            queue.release(got[1])  # gone: its handle is refused
        assert caught.value.code == "ReceiptHandleError" and "ReceiptHandleError" in str(
            caught.value
        )


# ------------------------------------------------------ no dead letter in time


@pytest.mark.parametrize(("early", "polls"), [(0.0, [10]), (0.5, [10, 1])])
def test_a_dead_letter_that_never_comes_is_waited_for_to_the_second_then_explained(early, polls):
    """`--dlq-timeout 10`: MNS long-polls at most what is left (rounded down,
    at least 1 s); at exactly 10 s the run stops with what to look at, and a
    receive that returned half a second early earns one more 1 s poll. The
    drill's upload is an Archive-class JPEG, as the README's drill says."""
    now = [0.0]
    waits: list[int] = []
    uploads: dict[str, dict] = {}

    class QuietQueue(Queue):
        def receive(self, wait_seconds):
            waits.append(wait_seconds)
            now[0] += wait_seconds - (early if len(waits) == 1 else 0)

    cloud = Cloud(stack())
    cloud.queue = QuietQueue()
    real = cloud.uploaded

    def no_letter(bucket, key, data, headers):
        uploads[key] = dict(headers)
        if headers.get("x-oss-storage-class") != "Archive":
            real(bucket, key, data, headers)

    cloud.uploaded = no_letter
    run = smoke_on(cloud, now, [], tick=0.0)
    started = now[0]
    with pytest.raises(SmokeError) as failed:
        run.run()
    assert waits == polls and now[0] - started >= 10
    assert str(failed.value) == (
        "the failing upload uploads/imgpipe-smoke/run1/archived.jpg did not reach the queue "
        "dead-letters within 10 s. If the function's Asynchronous invocations tab lists it, "
        "FC's async path is retrying it or its on_failure destination is wrong "
        "(alicloud_fcv3_async_invoke_config); if not, the trigger invokes synchronously "
        "(README, 'Which dead-letter path a deployed stack uses')."
    )
    archived = uploads["uploads/imgpipe-smoke/run1/archived.jpg"]
    assert archived == {"Content-Type": "image/jpeg", "x-oss-storage-class": "Archive"}
    assert uploads["uploads/imgpipe-smoke/run1/photo.jpg"] == {"Content-Type": "image/jpeg"}
    assert cloud.buckets[SRC].leftovers() == {} and cloud.buckets[DST].leftovers() == {}


# ------------------------------------------------------------ the drill's photo


@pytest.mark.parametrize(
    "variants",
    [
        [{"name": "thumb", "width": 64, "formats": ["jpeg"]}],
        [{"name": "wide", "width": 16384, "formats": ["jpeg"]}],  # the largest accepted
        [{"name": "tall", "height": 16384, "formats": ["webp"]}],
        [{"name": "box", "width": 2000, "height": 1500, "formats": ["jpeg"]}],
    ],
)
def test_the_drills_photo_is_larger_than_every_variant_so_each_is_a_real_downscale(variants):
    from imgpipe.commands.smoke import photo_size

    config = load_config(json.dumps({"variants": variants}))
    side, tall = photo_size(config)
    assert side >= 1600 and tall >= 1200
    for v in config.variants:
        assert side > (v.width or 0) and tall > (v.height or 0)


# ------------------------------------------------------------ the happy path's edges


def two_variant_stack() -> Stack:
    config = load_config(
        '{"variants": [{"name": "thumb", "width": 64, "formats": ["jpeg", "webp"]}]}'
    )
    return Stack(**{**stack().__dict__, "config": config})


def test_the_report_holds_each_variant_and_the_latency_to_the_millisecond():
    """What `imgpipe smoke --json` prints: each variant's key, bytes and
    content type, and the seconds from upload to the last variant, rounded to
    milliseconds (a clock that started long ago must not show)."""
    cloud = Cloud(two_variant_stack())
    now, sleeps = [1_000_000.0], []
    report = smoke_on(cloud, now, sleeps).run()
    assert sorted(report.__dict__) == ["cleaned", "dead_letter_s", "latency_s", "variants"]
    assert report.variants == [
        {
            "key": "resized/thumb/imgpipe-smoke/run1/photo.jpg.jpg",
            "bytes": 100,
            "content_type": "image/jpeg",
        },
        {
            "key": "resized/thumb/imgpipe-smoke/run1/photo.jpg.webp",
            "bytes": 100,
            "content_type": "image/webp",
        },
    ]
    assert 0 < report.latency_s < 1 and report.latency_s == round(report.latency_s, 3)
    assert report.latency_s != round(report.latency_s, 2)  # 0.123 s ticks: milliseconds show


def test_variants_that_never_appear_are_polled_to_the_second_then_named():
    """`--timeout 10 --poll 1`: the last look is at 10 s, not after it, and
    the error names each missing variant and where to look."""
    cloud = Cloud(two_variant_stack())
    real = cloud.uploaded
    cloud.uploaded = lambda b, k, d, h: real(b, k, d, h) if "archived" in k else None
    now, sleeps = [0.0], []
    with pytest.raises(SmokeError) as failed:
        smoke_on(cloud, now, sleeps, tick=0.0, poll=1).run()
    assert sleeps == [1] * 10  # looks at 0, 1, ... 10 s; at 10 s it stops
    assert str(failed.value) == (
        "2 of 2 variants never appeared in oss://photos-out/ within 10 s: "
        "resized/thumb/imgpipe-smoke/run1/photo.jpg.jpg, "
        "resized/thumb/imgpipe-smoke/run1/photo.jpg.webp. Look at the function's logs "
        '(SLS query `message.key: "uploads/imgpipe-smoke/run1/photo.jpg"`) and its '
        "Asynchronous invocations tab."
    )
    photo = cloud.buckets[SRC].versions.get("uploads/imgpipe-smoke/run1/photo.jpg")
    assert photo is None  # removed, every version
    assert cloud.buckets[SRC].leftovers() == {}


def test_a_bucket_that_reads_archive_objects_has_the_failing_uploads_variants_removed_too():
    """Where the Archive upload is read after all (real-time access of Archive
    objects), the function writes its variants and ready manifest before the
    letter: the smoke test removes them with the rest."""
    cloud = Cloud(stack())
    real = cloud.uploaded

    def archive_readable(bucket, key, data, headers):
        real(bucket, key, data, headers)
        if headers.get("x-oss-storage-class") == "Archive":
            target = cloud.buckets[DST]
            outputs = cloud.stack.outputs(key)
            for out_key, _, fmt in outputs.variants:
                target.put_object(out_key, b"x" * 10, {"Content-Type": CONTENT_TYPES[fmt]})
            target.put_object(outputs.ready, b"{}", {"Content-Type": "application/json"})

    cloud.uploaded = archive_readable
    report = smoke(cloud).run()
    assert cloud.buckets[DST].leftovers() == {} and cloud.buckets[SRC].leftovers() == {}
    assert "oss://photos-out/resized/thumb/imgpipe-smoke/run1/archived.jpg.jpg" in report.cleaned


def test_a_head_that_fails_while_cleaning_does_not_stop_the_cleaning():
    """OSS refusing one HEAD (a 503) while looking for leftovers: that key is
    skipped, everything this run wrote is still removed."""
    cloud = Cloud(stack())
    target = cloud.buckets[DST]
    real_head = target.head_object

    def head(key):
        if key.startswith("resized/_ready/"):
            raise oss2.exceptions.ServerError(503, {}, b"", {})
        return real_head(key)

    target.head_object = head
    smoke(cloud).run()
    assert cloud.buckets[SRC].leftovers() == {} and target.leftovers() == {}


PHOTO = "uploads/imgpipe-smoke/run1/photo.jpg"  # run1's photo in the source bucket


def refuse_deleting_the_photo(cloud: Cloud, status: int, times: int) -> list[str]:
    """The source bucket answers `status` to the first `times` deletes of the
    drill's photo; returns the list each delete of it is appended to."""
    source = cloud.buckets[SRC]
    real_delete, tries = source.delete_object, []

    def delete(key, params=None):
        if key == PHOTO:
            tries.append(key)
            if len(tries) <= times:
                raise oss2.exceptions.ServerError(status, {}, b"", {})
        return real_delete(key, params=params)

    source.delete_object = delete
    return tries


@pytest.mark.parametrize(("failures", "removed"), [(2, True), (3, False)])
def test_a_delete_gets_exactly_three_attempts(failures, removed):
    """DeleteObject answered 503: asked again after 0.5 s and 1 s; a third
    refusal is reported and the cleaning goes on with the next object."""
    cloud = Cloud(stack())
    source, photo = cloud.buckets[SRC], PHOTO
    tries = refuse_deleting_the_photo(cloud, 503, failures)
    said: list[str] = []
    run = smoke(cloud)
    run.say = said.append
    run.run()
    assert (photo in source.leftovers()) is not removed
    assert len(tries) == (failures + 1 if removed else 3)
    assert any(f"could not delete oss://{SRC}/{photo}" in line for line in said) is not removed
    assert "archived.jpg" not in str(source.leftovers())


# ------------------------------------------------------------------ its flags


def smoke_args(*argv: str):
    from imgpipe.cli import parser

    return parser("smoke").parse_args(["smoke", "--outputs", "outputs.json", *argv])


def test_the_waits_default_to_five_and_fifteen_minutes_and_take_their_bounds():
    """docs/deploying.md: `--timeout` 5 minutes, `--dlq-timeout` 15 (FC's
    retries back off over minutes), each at most a day; `--poll` 2 s."""
    default = smoke_args()
    assert (default.timeout, default.dlq_timeout, default.poll) == (300, 900, 2.0)
    low = smoke_args("--timeout", "0.001", "--dlq-timeout", "0", "--poll", "0.001")
    assert (low.timeout, low.dlq_timeout, low.poll) == (0.001, 0.0, 0.001)
    high = smoke_args("--timeout", "86400", "--dlq-timeout", "86400", "--poll", "3600")
    assert (high.timeout, high.dlq_timeout, high.poll) == (86400, 86400, 3600)


@pytest.mark.parametrize(
    ("flag", "value", "error"),
    [
        ("--timeout", "0", "must be > 0, got 0"),
        ("--timeout", "86400.5", "must be <= 86,400, got 86400.5"),
        ("--dlq-timeout", "-0.5", "must be >= 0, got -0.5"),
        ("--dlq-timeout", "86401", "must be <= 86,400, got 86401"),
        ("--poll", "0", "must be > 0, got 0"),
        ("--poll", "3601", "must be <= 3,600, got 3601"),
    ],
)
def test_a_wait_just_past_its_bound_is_one_line_and_status_2(flag, value, error, capsys):
    from imgpipe.cli import main

    with pytest.raises(SystemExit) as done:
        main(["smoke", "--outputs", "outputs.json", flag, value])
    assert done.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line == (f"imgpipe smoke: error: argument {flag}: {error} (see imgpipe smoke --help)")


# --------------------------------------------------------- the command's wiring


@pytest.fixture
def wired(tmp_path, monkeypatch):
    """`imgpipe smoke --outputs` with the clients and the run recorded, not
    called: what the command hands `Smoke` and prints around it."""
    from imgpipe.commands import smoke as command
    from imgpipe.commands.smoke import Report

    outputs = {
        "source_bucket": SRC,
        "target_bucket": DST,
        "queue_name": "dead-letters",
        "queue_arn": "acs:mns:cn-shanghai:1234567890123456:/queues/dead-letters",
        "pipeline_config": json.dumps({"source_prefix": "uploads/", "processor": {}}),
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({k: {"value": v} for k, v in outputs.items()}))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
    seen: dict = {"buckets": []}
    monkeypatch.setattr(
        command.oss2,
        "Bucket",
        lambda auth, endpoint, name: seen["buckets"].append((endpoint, name)),
    )
    monkeypatch.setattr(
        command, "MnsQueue", lambda endpoint, name, creds: seen.update(mns=(endpoint, name))
    )
    outcome: dict = {}

    def run(self):
        seen["smoke"] = self
        self.oss(SRC)
        self.say("uploading ...")
        self.report.cleaned.append("oss://photos-src/uploads/imgpipe-smoke/x/photo.jpg")
        if "error" in outcome:
            raise outcome["error"]
        self.report.variants.append({"key": "k", "bytes": 1, "content_type": "image/jpeg"})
        self.report.latency_s, self.report.dead_letter_s = 1.25, 40.0
        return self.report

    monkeypatch.setattr(command.Smoke, "run", run)
    return ["smoke", "--outputs", str(path)], seen, outcome, Report


def test_the_command_finds_oss_and_mns_by_the_stacks_region_and_account(wired, capsys):
    from imgpipe.cli import main

    argv, seen, _, _ = wired
    assert main([*argv, "--timeout", "7", "--dlq-timeout", "8", "--poll", "0.5"]) == 0
    assert seen["buckets"] == [("https://oss-cn-shanghai.aliyuncs.com", SRC)]
    assert seen["mns"] == ("https://1234567890123456.mns.cn-shanghai.aliyuncs.com", "dead-letters")
    smoke = seen["smoke"]
    assert (smoke.timeout, smoke.dlq_timeout, smoke.poll) == (7, 8, 0.5)
    assert len(smoke.run_id) == 12 and int(smoke.run_id, 16) >= 0  # random, hex
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "uploading ...",
        "passed: 1 variants in 1.2 s; failure dead-lettered in 40 s; 1 items cleaned",
    ]
    assert err == ""


def test_with_json_stdout_holds_the_report_alone_indented(wired, capsys):
    from imgpipe.cli import main

    argv, _, _, _ = wired
    assert main([*argv, "--json", "--run-id", "ci-7"]) == 0
    out, err = capsys.readouterr()
    assert err == "uploading ...\n"
    assert out.startswith('{\n  "variants": [\n')
    assert json.loads(out)["latency_s"] == 1.25


@pytest.mark.parametrize(
    ("error", "first"),
    [
        (
            SmokeError("2 of 6 variants never appeared"),
            "imgpipe smoke: FAILED: 2 of 6 variants never appeared",
        ),
        (
            oss2.exceptions.ServerError(503, {}, b"", {}),
            "imgpipe smoke: FAILED: ServerError: {'status': 503",
        ),
    ],
)
def test_a_failed_run_says_why_and_what_it_cleaned_on_stderr_and_exits_1(
    wired, capsys, error, first
):
    from imgpipe.cli import main

    argv, _, outcome, _ = wired
    outcome["error"] = error
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "uploading ...\n"
    lines = err.splitlines()
    assert lines[0].startswith(first) and "Traceback" not in err
    if isinstance(error, SmokeError):
        assert lines[1:] == ["  cleaned oss://photos-src/uploads/imgpipe-smoke/x/photo.jpg"]


def test_the_queue_signs_as_mns_requires_with_sts_and_gives_up_on_a_silent_server():
    """MNS "Common parameters": a GMT Date and `x-mns-version: 2015-06-06` on
    every request (the stand-in refuses either missing); STS credentials add
    `security-token` (unsigned, as Alibaba's MNS SDK sends it); an endpoint
    written with a trailing slash works;
    a server that accepts and never answers ends in a SetupError after the
    queue's timeout, not a hang."""
    import time

    from conftest import silent_port
    from standins import MnsStandIn

    from imgpipe.cloud.credentials import Credentials
    from imgpipe.cloud.errors import SetupError
    from imgpipe.cloud.mns import MnsQueue

    sts = Credentials("STS.k", "s", "the-token")
    with MnsStandIn("dead-letters", secret="s") as mns:  # every signature checked
        mns.send("ours")
        queue = MnsQueue(mns.endpoint + "/", "dead-letters", sts)
        (got,) = queue.receive_batch(16, 0)
        queue.delete(got)
        assert mns.bodies() == []
        for r in mns.requests:
            assert r.headers["x-mns-version"] == "2015-06-06"
            assert r.headers["date"].endswith(" GMT")
            assert r.headers["security-token"] == "the-token"
            assert "x-mns-security-token" not in r.headers
            assert r.headers["authorization"].startswith("MNS STS.k:")
    with silent_port() as (port, _):
        queue = MnsQueue(f"http://127.0.0.1:{port}", "q", sts, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(SetupError, match=rf"MNS http://127.0.0.1:{port} unreachable"):
            queue.receive_batch(16, 0)
        assert time.monotonic() - started < 5


def test_the_drills_dead_letter_is_timed_to_the_millisecond_and_reported_cleaned():
    """The drill's letter arrives on the third poll: the progress says how long
    it has waited, the report holds the wait to the millisecond and names the
    deleted message among what was cleaned."""
    cloud = Cloud(stack())
    real_receive = cloud.queue.receive
    polls = [0]

    def late(wait_seconds):
        polls[0] += 1
        return real_receive(wait_seconds) if polls[0] >= 3 else None

    cloud.queue.receive = late
    now, sleeps = [500.0], []
    said: list[str] = []
    run = smoke_on(cloud, now, sleeps)
    run.say = said.append
    report = run.run()
    waiting = [line for line in said if line.startswith("  waiting for the dead letter")]
    assert waiting and all(line.endswith(" s") for line in waiting)
    assert all(float(line.rsplit(", ", 1)[1][:-2]) < 100 for line in waiting)
    assert 0 < report.dead_letter_s < 100 and report.dead_letter_s == round(report.dead_letter_s, 3)
    assert report.dead_letter_s != round(report.dead_letter_s, 2)
    assert "mns://dead-letters (the smoke test's message)" in report.cleaned


@pytest.mark.parametrize(("status", "retried"), [(429, True), (430, False), (503, True)])
def test_a_delete_is_retried_on_throttling_and_server_errors_only(status, retried):
    cloud = Cloud(stack())
    source, photo = cloud.buckets[SRC], PHOTO
    tries = refuse_deleting_the_photo(cloud, status, 1)
    smoke(cloud).run()
    assert (photo in source.leftovers()) is not retried
    assert len(tries) == (2 if retried else 1)


def test_an_mns_refusal_names_the_call_the_code_and_mns_words():
    from standins import MnsStandIn

    from imgpipe.cloud.credentials import Credentials
    from imgpipe.cloud.errors import MnsError
    from imgpipe.cloud.mns import Message, MnsQueue

    with MnsStandIn("dead-letters", secret="right") as mns:
        wrong = MnsQueue(mns.endpoint, "dead-letters", Credentials("k", "wrong"))
        with pytest.raises(MnsError) as refused:
            wrong.receive_batch(16, 0)
        right = MnsQueue(mns.endpoint, "dead-letters", Credentials("k", "right"))
        with pytest.raises(MnsError) as gone:
            right.release(Message("1-unknown==", "", message_id="m"))
    assert (refused.value.code, refused.value.status) == ("SignatureDoesNotMatch", 403)
    assert str(refused.value) == (
        "MNS GET /queues/dead-letters/messages?numOfMessages=16&waitseconds=0: "
        "403 SignatureDoesNotMatch: SignatureDoesNotMatch"
    )
    assert (gone.value.code, gone.value.status) == ("ReceiptHandleError", 400)
    assert str(gone.value) == (
        "MNS PUT /queues/dead-letters/messages?receiptHandle=1-unknown==&visibilityTimeout=1: "
        "400 ReceiptHandleError: ReceiptHandleError"
    )
