"""Backfill at scale: listing and scheduling throughput, and peak memory.

    .venv/bin/python tests/bench_backfill.py [--objects 25000,50000,100000]

The stand-ins (tests/standins.py) run in a child process, so this process's
memory is the backfill's alone. For each object count:

- `list`: oss2 lists the stand-in bucket page by page (1,000 keys a page,
  `marker`), as `imgpipe backfill` does;
- `schedule`: the whole `Backfill.run` over that listing: the deployed
  pattern (evaluated from the Terraform), the CloudEvent, the thread pool,
  the ordered settling and the checkpoint every second, with every object
  stale and an invoker that only counts, so the figure is the tool's own
  overhead, not the network's;

then, once, at a fixed count, the two network-bound parts against the
stand-ins: the current check (HEAD of the first variant and of the
rejection record, over HTTP) and asynchronous InvokeFunction through the
real FC SDK, with 16 workers.

Peak memory is tracemalloc's peak of Python allocations during the phase,
in a second run (tracemalloc slows Python several times over, so the rates
come from a run without it): what would grow with the object count if
anything were held. Flat means the same for 25,000 and 100,000 objects.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import imgpipe  # noqa: E402,F401 - puts function_src on sys.path

SERVE = """
import sys, time
sys.path.insert(0, {here!r})
from standins import FcStandIn, GeneratedKeys, OssStandIn
oss = OssStandIn()
oss.generated["src"] = GeneratedKeys({n})
fc = FcStandIn()
fc.record_bodies = False
print(oss.port, fc.port, flush=True)
sys.stdin.read()
"""


class Servers:
    def __init__(self, n: int) -> None:
        code = SERVE.format(here=str(HERE), n=n)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        oss_port, fc_port = self.proc.stdout.readline().split()
        self.oss = f"http://127.0.0.1:{oss_port}"
        self.fc = f"http://127.0.0.1:{fc_port}"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def measure(make):
    """(result, seconds, peak MiB): timed in one run, memory traced in a second,
    since tracemalloc slows Python down several times over."""
    started = time.perf_counter()
    result = make()()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    make()()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


class NothingCurrent:
    """A target bucket with no variants: every object is stale (no network)."""

    def head(self, bucket, key):
        from fc_handler.storage import NotFound

        raise NotFound(key)


def stack(dev):
    from imgpipe.cloud.stack import Stack
    from imgproc import load_config

    pattern = {**dev.filter_pattern, "data": {"oss": {"bucket": {"name": ["src"]}}}}
    return Stack(
        source_bucket="src",
        target_bucket="out",
        source_prefix="uploads/",
        rejected_prefix="rejected/",
        config=load_config("{}"),
        pattern=pattern,
        memory_mb=1024,
        region="cn-hangzhou",
        account="1234567890123456",
        function_name="fn",
    )


def bench(n: int, dev, tmp: Path) -> dict:
    import oss2

    from imgpipe.cloud.objects import list_oss
    from imgpipe.jobs.backfill import Backfill, Checkpoint

    servers = Servers(n)
    try:
        bucket = oss2.Bucket(oss2.Auth("k", "s"), servers.oss, "src")
        listed, list_s, list_mib = measure(
            lambda: lambda: sum(1 for _ in list_oss(bucket, "uploads/"))
        )
        assert listed == n, listed
        calls = [0]
        lock = threading.Lock()

        def invoker(payload: bytes) -> str:
            with lock:
                calls[0] += 1
            return ""

        def job():
            return Backfill(
                stack=stack(dev),
                lister=lambda after: list_oss(bucket, "uploads/", after),
                target=NothingCurrent(),
                invoker=invoker,
                checkpoint=Checkpoint(tmp / f"cp-{n}.json", {"n": n}),
                failures=tmp / f"cp-{n}.failed.jsonl",
                workers=16,
            ).run

        counts, run_s, run_mib = measure(job)
        assert counts.invoked == n and calls[0] == 2 * n, (counts, calls)
    finally:
        servers.close()
    return {
        "objects": n,
        "list_per_s": round(n / list_s),
        "list_peak_mib": round(list_mib, 2),
        "schedule_per_s": round(n / run_s),
        "schedule_peak_mib": round(run_mib, 2),
    }


def network(dev, tmp: Path, n: int = 2000) -> dict:
    """The current check over HTTP and async invokes through the SDK, 16 workers."""
    import oss2

    from fc_handler.storage_oss import OssStorage
    from imgpipe.cloud.credentials import Credentials
    from imgpipe.cloud.fc import FcInvoker
    from imgpipe.cloud.objects import list_oss
    from imgpipe.jobs.backfill import Backfill, Checkpoint

    servers = Servers(n)
    try:
        import alibabacloud_fc20230330.client  # noqa: F401 - import time is not throughput

        auth = oss2.Auth("k", "s")
        bucket = oss2.Bucket(auth, servers.oss, "src")
        job = Backfill(
            stack=stack(dev),
            lister=lambda after: list_oss(bucket, "uploads/", after),
            target=OssStorage(auth, servers.oss),
            invoker=FcInvoker(
                "fn",
                region="cn-hangzhou",
                credentials=Credentials("k", "s"),
                endpoint=servers.fc,
            ),
            checkpoint=Checkpoint(tmp / "cp-net.json", {"n": n}),
            failures=tmp / "cp-net.failed.jsonl",
            workers=16,
        )
        started = time.perf_counter()
        counts = job.run()
        seconds = time.perf_counter() - started
        assert counts.invoked == n, counts
    finally:
        servers.close()
    return {"objects": n, "check_and_invoke_per_s": round(n / seconds)}


def main() -> int:
    import tempfile

    from imgpipe.cloud.terraform import evaluate

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", default="25000,50000,100000")
    p.add_argument("--network", type=int, default=2000, help="objects for the HTTP phase")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    dev = evaluate({"env": "dev"})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.objects.split(",")):
            rows.append(bench(n, dev, Path(tmp)))
            if not args.json:
                r = rows[-1]
                print(
                    f"{r['objects']:>8,} objects  list {r['list_per_s']:>7,}/s "
                    f"(peak {r['list_peak_mib']:.2f} MiB)  schedule {r['schedule_per_s']:>6,}/s "
                    f"(peak {r['schedule_peak_mib']:.2f} MiB)",
                    flush=True,
                )
        net = network(dev, Path(tmp), args.network) if args.network else None
    if args.json:
        print(json.dumps({"scale": rows, "network": net}, indent=1))
    elif net:
        print(
            f"{net['objects']:>8,} objects  current check (2 HEADs) + async InvokeFunction via "
            f"the SDK, 16 workers: {net['check_and_invoke_per_s']:,}/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
