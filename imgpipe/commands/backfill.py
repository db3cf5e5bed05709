"""`imgpipe backfill`: redo what is stale, with Function Compute doing the work.

For a deployed stack (`--outputs`, its `terraform output -json`) or the
local buckets of `make demo` (`--buckets .demo/buckets`):

1. list the source objects under the source prefix, page by page (OSS
   ListObjects with `marker`, 1,000 keys a page; locally, a directory walk in
   the same key order), never holding the whole listing;
2. build, for each, the CloudEvent EventBridge would deliver for its upload
   and match it against the *deployed* pattern (the `event_filter_pattern`
   output, or locally the pattern evaluated from the Terraform): what the
   trigger would not route, backfill does not invoke either (`filtered`);
3. skip it when its work is current: the same check, through the same code
   (`fc_handler.current`), the handler makes before it downloads anything;
4. invoke the function **asynchronously** with that event (FC 3.0
   InvokeFunction, `x-fc-invocation-type: Async`; locally, the real handler
   in-process), at most `--rate` per second, retrying throttling (429), 5xx
   and network errors with backoff; an invoke that still fails is written
   to the failures file and the run goes on.

A checkpoint file records the last key up to which every object is settled
(listed, and skipped or accepted by FC or failed for good), with the counts,
every second; a stopped run resumes after it. The first Ctrl-C or SIGTERM
stops between objects and nothing accepted is invoked again; a second one,
a kill or a crash leaves the last periodic checkpoint, and objects invoked
after it are invoked again (harmless: the handler finds them current). The
checkpoint names the flags it was written with (`_identity`); a resume with
others is refused. A finished run deletes its checkpoint, so the next run
starts from the beginning (and finds everything current).

FC accepting an asynchronous invocation is not the work done: FC runs it,
retries it and dead-letters what keeps failing (`imgpipe redrive`). A
second backfill is the audit: what it finds stale was not done.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from imgpipe import argtypes, flags
from imgpipe.cloud import deployment
from imgpipe.cloud.errors import CloudError
from imgpipe.cloud.stack import Stack
from imgpipe.jobs.backfill import Backfill, BackfillError, Checkpoint, Counts
from imgpipe.pricing import CuRates, cu_estimate
from imgproc.config import fingerprint


def add_arguments(p: argparse.ArgumentParser) -> None:
    flags.add_outputs_or_buckets(
        p, buckets_help="local buckets (make demo's .demo/buckets): the real handler in-process"
    )
    p.add_argument(
        "--prefix",
        metavar="P",
        help="only keys under P, a part of the source prefix (e.g. uploads/2024/)",
    )
    p.add_argument("--function", metavar="NAME", help="invoke this function instead of the stack's")
    p.add_argument("--dry-run", action="store_true", help="list and check, invoke nothing")
    p.add_argument("--force", action="store_true", help="redo current objects too")
    p.add_argument(
        "--rate",
        type=argtypes.number(0, 100_000, above_minimum=True),
        metavar="N",
        help="at most N invocations per second (default: as fast as --workers go)",
    )
    p.add_argument(
        "--workers",
        type=argtypes.integer(1, 256, meaning="a whole number of workers"),
        default=16,
        help="concurrent checks and invokes (FC mode; local runs use 1)",
    )
    p.add_argument(
        "--retries",
        type=argtypes.integer(0, 20, meaning="a whole number of retries"),
        default=4,
        help="retries of a throttled or failed invoke before it is reported",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="progress file (default: .imgpipe-backfill.json, or DIR/../backfill.json)",
    )
    p.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="local runs: a processor config JSON instead of the Terraform's",
    )
    p.add_argument(
        "--memory-mb",
        type=argtypes.integer(128, 32768, meaning="a memory size in MB"),
        help="for --dry-run's cost (default: the function's, or 1024)",
    )
    p.add_argument(
        "--vcpu",
        type=argtypes.number(0.05, 16),
        default=1.0,
        help="vCPUs per instance for --dry-run's cost (default 1, the module's `cpu` default)",
    )
    p.add_argument(
        "--ms-per-object",
        type=argtypes.number(0, 600_000, above_minimum=True),
        default=300.0,
        help="billed duration per invoke for --dry-run's cost (default 300)",
    )
    flags.add_endpoint_arguments(p, "oss", "fc")
    p.add_argument(
        "--expected",
        type=argtypes.integer(1, 10**12, meaning="a whole number of objects"),
        metavar="N",
        help="objects under the prefix, for the progress bar's ETA (local runs count them)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def build(args: argparse.Namespace) -> Backfill:
    """A Backfill for the parsed flags (no listing, no invoking yet)."""
    if args.buckets is not None:
        config_json = None
        if args.config is not None:
            config_json = Path(args.config).read_text(encoding="utf-8")
        try:
            where = deployment.local(Path(args.buckets), config_json)
        except ValueError as exc:  # SettingsError: the config does not parse
            raise BackfillError(f"--config: {exc}") from None
        assert where.work_dir is not None
        checkpoint = args.checkpoint or where.work_dir / "backfill.json"
        # Locally the handler runs in this process: one at a time, no waiting.
        pace: dict[str, Any] = {"workers": 1, "retries": min(args.retries, 2), "backoff_s": 0.0}
    else:
        where = deployment.deployed(
            args.outputs,
            memory_mb=args.memory_mb or 1024,
            function=args.function,
            oss_endpoint=args.oss_endpoint,
            fc_endpoint=args.fc_endpoint,
        )
        checkpoint = args.checkpoint or Path(".imgpipe-backfill.json")
        pace = {"workers": args.workers, "retries": args.retries}
    stack = where.stack
    prefix = _prefix(stack, args)
    return Backfill(
        stack=stack,
        lister=lambda after: where.sources(prefix, after),
        target=where.target,
        invoker=where.invoker,
        checkpoint=Checkpoint(checkpoint, _identity(stack, args)),
        failures=checkpoint.with_suffix(".failed.jsonl"),
        rate=args.rate,
        force=args.force,
        dry_run=args.dry_run,
        **pace,
    )


def _prefix(stack: Stack, args: argparse.Namespace) -> str:
    """What to list: the source prefix, or a part of it (`--prefix`)."""
    prefix = args.prefix if args.prefix is not None else stack.source_prefix
    if not prefix.startswith(stack.source_prefix):
        msg = f"--prefix {prefix!r} is outside the source prefix {stack.source_prefix!r}"
        raise BackfillError(msg)
    return prefix


def _identity(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    """What a checkpoint's `after` means: settled *how*, for which run.

    Every flag that changes what happened to the objects before `after`:
    the objects listed (bucket, prefix), what was done to them (a dry run
    invoked nothing; a stale run skipped the current ones, a forced one did
    not), which function did it, and the configuration "current" was
    judged by (`--config` locally, the deployed `pipeline_config` in FC
    mode). A resume under any other value would take objects as settled
    that were not settled that way, and skip them for good: refused
    (`Checkpoint.load`). Flags that only pace or price the run (`--rate`,
    `--workers`, `--retries`, `--memory-mb`, ...) may change between runs.
    """
    return {
        "source": f"{stack.source_bucket}/{_prefix(stack, args)}",
        "mode": "dry-run" if args.dry_run else ("force" if args.force else "stale"),
        "function": stack.function_name,
        "config": fingerprint(stack.config),
    }


def cost_line(
    stack: Stack, n: int, ms: float, memory_mb: int | None = None, vcpu: float = 1.0
) -> str:
    """What invoking `n` objects costs, by `imgpipe cost`'s CU model, no trial quota.

    The same model (`imgpipe.pricing.cu_estimate`) as `imgpipe cost` and the
    demo, so the three never disagree; see docs/cost.md for the rates.
    """
    memory = memory_mb or stack.memory_mb
    rates = CuRates()
    est = cu_estimate(n, vcpu, memory, ms, rates=rates)
    return (
        f"estimated cost of {n:,} invocations at {vcpu:g} vCPU, {memory} MB x {ms:g} ms: "
        f"{est.total_cny:.2f} CNY ({est.total_cu:,.0f} CU: {est.invocations_cu:,.0f} "
        f"invocations + {est.vcpu_cu:,.0f} vCPU + {est.memory_cu + est.disk_cu:,.0f} "
        "memory and disk; `imgpipe cost` CU rates, no trial quota)"
    )


class _Progress:
    """A tqdm bar over the listing with the counts; ETA when the total is known."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.bar = tqdm(
            total=total, unit="obj", desc="backfill", disable=not enabled, file=sys.stderr
        )
        self.seen = 0

    def __call__(self, counts: Counts, in_flight: int) -> None:
        self.bar.update(counts.listed - self.seen)
        self.seen = counts.listed
        self.bar.set_postfix(
            current=counts.current,
            invoked=counts.invoked or counts.would_invoke,
            failed=counts.failed,
            filtered=counts.filtered,
            in_flight=in_flight,
            refresh=False,
        )

    def close(self) -> None:
        self.bar.close()


def summary(counts: Counts, job: Backfill, elapsed: float, args: argparse.Namespace) -> str:
    verb = "would invoke" if job.dry_run else "invoked"
    n = counts.would_invoke if job.dry_run else counts.invoked
    lines = [
        f"listed {counts.listed:,} objects under "
        f"{job.stack.source_bucket}/{_prefix(job.stack, args)} in {elapsed:.1f} s "
        f"({counts.listed / elapsed if elapsed > 0 else 0:,.0f}/s)",
        f"  current (skipped):  {counts.current:,}",
        f"  {verb + ':':19} {n:,}",
        f"  not routed:         {counts.filtered:,} (the event pattern would not send them)",
        # Objects over MAX_OBJECT_BYTES are invoked (the handler records them
        # `too-large`), so only the function's own outputs are ignored.
        f"  ignored:            {counts.ignored:,} (the function's own outputs, "
        "in a one-bucket stack: it would ignore them)",
        f"  failed:             {counts.failed:,}"
        + (f" (listed in {job.failures})" if counts.failed else ""),
    ]
    if job.dry_run or args.buckets is None:
        lines.append(cost_line(job.stack, n, args.ms_per_object, args.memory_mb, args.vcpu))
    if not job.dry_run and args.buckets is None and n:
        lines.append(
            "FC accepted these; it runs, retries and dead-letters them: "
            "`imgpipe redrive --peek` shows failures, a second backfill finds what is still stale"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        job = build(args)
        job.checkpoint.load()  # a checkpoint that cannot be resumed stops us before any work
    except (BackfillError, CloudError) as exc:
        print(f"imgpipe backfill: {exc}", file=sys.stderr)
        return 2
    # OSS cannot count a prefix without listing it: the ETA needs --expected there.
    total = args.expected
    if total is None and args.buckets is not None:
        total = sum(1 for _ in _count_local(Path(args.buckets), job.stack))
    progress = _Progress(total, sys.stderr.isatty())
    job.progress = progress
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(_sig, _frame):
        """The first Ctrl-C or SIGTERM stops between objects, the second at once."""
        if job.stop.is_set():
            raise KeyboardInterrupt
        job.stop.set()

    started = time.monotonic()
    try:
        for sig in previous:
            signal.signal(sig, on_signal)
        counts = job.run()
    except KeyboardInterrupt:
        job.stop.set()
        progress.close()
        print(
            f"imgpipe backfill: stopped at once; the progress saved last in "
            f"{job.checkpoint.path} stands: run the same command again to resume "
            "(objects invoked since then are invoked again, none is skipped)",
            file=sys.stderr,
        )
        return 130
    except (BackfillError, CloudError) as exc:
        progress.close()
        print(f"imgpipe backfill: {exc}", file=sys.stderr)
        if job.checkpoint.path.exists():
            print(
                f"imgpipe backfill: progress saved in {job.checkpoint.path}: "
                "run the same command again to resume",
                file=sys.stderr,
            )
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    progress.close()
    if not job.complete:  # stopped by a signal, between objects
        print(
            f"imgpipe backfill: stopped; progress saved in {job.checkpoint.path}: "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    elapsed = time.monotonic() - started
    if args.json:
        print(json.dumps({**asdict(counts), "seconds": round(elapsed, 3)}))
    else:
        print(summary(counts, job, elapsed, args))
    return 1 if counts.failed else 0


def _count_local(buckets: Path, stack: Stack) -> Iterator[None]:
    base = buckets / stack.source_bucket / stack.source_prefix
    for _dirpath, _dirs, files in os.walk(base):
        for _ in files:
            yield None
