"""Backfill's resume, as a property: stopped anywhere, resumed, the end is the same.

Each seed draws a bucket (routed and not routed keys, empty objects, work
already current) and a campaign: one mode (`--dry-run`, `--force` or
neither) run through the CLI's own `run`, stopped by SIGTERM at a random
point (once: between objects; twice: at once, as a second Ctrl-C or a
crash would), resumed with other pacing flags, and in between a resume with
another mode, which must be refused without touching anything. Then:

- the final counts and the target bucket equal those of an uninterrupted
  run, computed from the bucket by hand;
- nothing FC accepted is invoked twice, except after a stop *at once*, and
  then only objects after the checkpoint that stop left;
- nothing is skipped: every object the uninterrupted run would invoke was
  invoked.

The function is a stand-in that makes an object current (a stamped
rejection record, the same `fc_handler.current` check) when invoked; the
signals are real, sent from the worker threads that invoke.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
from dataclasses import dataclass, field

import pytest

from fc_handler.current import rejection_key, stamp
from fc_handler.keys import relative_to
from fc_handler.storage import LocalStorage
from imgpipe.cli import parser
from imgpipe.cloud.objects import Listed
from imgpipe.cloud.stack import Stack
from imgpipe.cloud.terraform import evaluate
from imgpipe.commands import backfill as module
from imgpipe.jobs.backfill import Backfill, Checkpoint
from imgproc import load_config

SRC, DST = "src-bucket", "out-bucket"
MODES = {"stale": [], "force": ["--force"], "dry-run": ["--dry-run"]}


@pytest.fixture(scope="module")
def pattern():
    dev = evaluate({"env": "dev"})
    return {**dev.filter_pattern, "data": {"oss": {"bucket": {"name": [SRC]}}}}


@dataclass
class Bucket:
    items: list[Listed]
    current: set[str]  # keys whose work is done before the campaign

    def routed(self) -> list[Listed]:
        return [x for x in self.items if x.key.endswith(".jpg")]

    def expected(self, mode: str) -> dict[str, int]:
        routed = self.routed()
        # an empty upload is invoked too: the handler rejects it with a record
        work = list(routed)
        stale = [x for x in work if x.key not in self.current]
        counts = {
            "listed": len(self.items),
            "filtered": len(self.items) - len(routed),
            "ignored": len(routed) - len(work),
            "current": 0 if mode == "force" else len(work) - len(stale),
            "invoked": {"stale": len(stale), "force": len(work), "dry-run": 0}[mode],
            "failed": 0,
            "would_invoke": len(stale) if mode == "dry-run" else 0,
        }
        return counts

    def to_invoke(self, mode: str) -> set[str]:
        work = {x.key for x in self.routed()}
        return {"stale": work - self.current, "force": work, "dry-run": set()}[mode]


def draw_bucket(rng: random.Random) -> Bucket:
    items, current = [], set()
    for i in range(rng.randint(15, 45)):
        kind = rng.choices(["stale", "current", "empty", "text"], weights=[6, 3, 1, 1])[0]
        key = f"uploads/{rng.choice('abc')}/{i:03d}" + (".txt" if kind == "text" else ".jpg")
        items.append(Listed(key, 0 if kind == "empty" else 100 + i, f"{i:032X}"))
        if kind == "current":
            current.add(key)
    items.sort(key=lambda x: x.key.encode())
    return Bucket(items, current)


@dataclass
class Function:
    """FC and the function: accepts, records, and makes the object current."""

    storage: LocalStorage
    stack: Stack
    etags: dict[str, str]
    accepted: list[str] = field(default_factory=list)
    stop_at: int | None = None  # the n-th acceptance of this run sends SIGTERM
    hard: bool = False  # ... and a second one once the first is handled
    job: Backfill | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, payload: bytes) -> str:
        key = json.loads(payload)["data"]["oss"]["object"]["key"]
        relative = relative_to(self.stack.source_prefix, key)
        self.storage.put(
            DST,
            rejection_key(self.stack.rejected_prefix, relative),
            b"{}",
            content_type="application/json",
            metadata=stamp(SRC, key, self.etags[key], self.stack.config),
        )
        with self.lock:
            self.accepted.append(key)
            n = len(self.accepted)
        if n == self.stop_at:
            os.kill(os.getpid(), signal.SIGTERM)
            if self.hard:
                assert self.job is not None
                assert self.job.stop.wait(5)  # the first was handled: stop was set
                os.kill(os.getpid(), signal.SIGTERM)
        return f"r-{n}"


def campaign(seed: int, pattern, tmp_path, monkeypatch, capsys) -> None:
    rng = random.Random(seed)
    bucket = draw_bucket(rng)
    storage = LocalStorage(tmp_path / "buckets")
    stack = Stack(
        source_bucket=SRC,
        target_bucket=DST,
        source_prefix="uploads/",
        rejected_prefix="rejected/",
        config=load_config("{}"),
        pattern=pattern,
        memory_mb=1024,
        region="cn-hangzhou",
        account="1234567890123456",
        function_name="fn",
    )
    etags = {x.key: x.etag for x in bucket.items}
    function = Function(storage, stack, etags)
    for key in bucket.current:
        function(json.dumps({"data": {"oss": {"object": {"key": key}}}}).encode())
    function.accepted.clear()
    checkpoint = tmp_path / "cp.json"
    made: list[Backfill] = []

    def build(args):
        job = Backfill(
            stack=stack,
            lister=lambda after: (x for x in bucket.items if x.key > after),
            target=storage,
            invoker=function,
            checkpoint=Checkpoint(checkpoint, module._identity(stack, args)),
            failures=tmp_path / "cp.failed.jsonl",
            rate=args.rate,
            force=args.force,
            dry_run=args.dry_run,
            workers=args.workers,
            retries=args.retries,
            checkpoint_every_s=rng.choice([0.0, 0.002, 60.0]),
        )
        function.job = job
        made.append(job)
        return job

    monkeypatch.setattr(module, "build", build)

    def cli(mode: str, stop_at: int | None = None, hard: bool = False) -> int:
        pacing = ["--workers", str(rng.randint(1, 4)), "--retries", str(rng.randint(0, 3))]
        argv = ["backfill", "--outputs", "unused.json", "--json", *MODES[mode], *pacing]
        function.stop_at, function.hard = stop_at, hard
        return module.run(parser().parse_args(argv))

    mode = rng.choice(list(MODES))
    expected, to_invoke = bucket.expected(mode), bucket.to_invoke(mode)
    invoked_by_run: list[list[str]] = []
    allowed_twice: set[str] = set()
    out = None
    for _ in range(rng.randint(1, 3)):
        if mode == "dry-run" or not to_invoke:
            break  # nothing to invoke: nothing the stand-in function could stop at
        hard = rng.random() < 0.4
        before = len(function.accepted)
        code = cli(mode, stop_at=rng.randint(1, len(to_invoke)), hard=hard)
        this_run = function.accepted[before:]
        invoked_by_run.append(this_run)
        if code == 0:  # it finished before the point drawn
            out = capsys.readouterr().out
            break
        assert code == 130
        assert "run the same command again to resume" in capsys.readouterr().err
        saved_after = json.loads(checkpoint.read_text())["after"] if checkpoint.exists() else ""
        if hard:  # re-invoked on resume: only what comes after the surviving checkpoint
            allowed_twice |= {k for k in this_run if k > saved_after}
        # a resume under another mode is refused, and changes nothing
        other = rng.choice([m for m in MODES if m != mode])
        saved = checkpoint.read_bytes() if checkpoint.exists() else None
        if saved is not None:
            before = len(function.accepted)
            assert cli(other) == 2
            assert "belongs to another run" in capsys.readouterr().err
            assert checkpoint.read_bytes() == saved and len(function.accepted) == before
    if out is None:
        before = len(function.accepted)
        assert cli(mode) == 0
        invoked_by_run.append(function.accepted[before:])
        out = capsys.readouterr().out
    final = json.loads(out.strip().splitlines()[-1])
    final.pop("seconds")
    assert not checkpoint.exists()

    everything = [k for run in invoked_by_run for k in run]
    twice = {k for k in everything if everything.count(k) > 1}
    assert twice <= allowed_twice, sorted(twice - allowed_twice)
    assert set(everything) == to_invoke  # nothing skipped, nothing extra
    if not allowed_twice:
        assert final == expected
    else:  # re-invoked objects may be found current on resume (stale mode)
        same = ("listed", "filtered", "ignored", "failed", "would_invoke")
        assert {k: final[k] for k in same} == {k: expected[k] for k in same}
        assert final["invoked"] + final["current"] == expected["invoked"] + expected["current"]
    # the target: every object the mode does is current, exactly once written
    done = {x.key for x in bucket.items if storage_has(storage, stack, x.key)}
    assert done == bucket.current | to_invoke


def storage_has(storage: LocalStorage, stack: Stack, key: str) -> bool:
    relative = relative_to(stack.source_prefix, key)
    return (storage.root / DST / rejection_key(stack.rejected_prefix, relative)).exists()


@pytest.mark.parametrize("seed", range(int(os.environ.get("RESUME_SEEDS", "24"))))
def test_a_stopped_backfill_resumes_to_the_same_end(seed, pattern, tmp_path, monkeypatch, capsys):
    campaign(seed, pattern, tmp_path, monkeypatch, capsys)
