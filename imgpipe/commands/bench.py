"""`imgpipe bench`: the core against the reference design and libvips.

Every (method, image) pair runs in a fresh interpreter so that peak memory
is that method's own: the worker records its peak RSS after importing and
reading the file, processes once, and reports how far the peak rose. Times
are the median of `--repeat` runs in the same process after that first one.
Ratios are computed from this run only, because these machines are noisy.

Methods, all producing the same six outputs (1200/600/150 px wide, JPEG q85
and WebP q80, a watermark on the two larger):
- core:   this project's processor (`imgproc.process`);
- naive:  the reference design: convert to RGBA, LANCZOS from the full-size
          original for every variant, draw the watermark, encode;
- pyvips: libvips through pyvips-binary, shrink-on-load thumbnail of the
          largest, then a cascade, text watermark composited, the same WebP
          effort as the core's configuration. libvips runs single-threaded
          (VIPS_CONCURRENCY=1), as the core does: an FC instance below 1 GB
          gets a fraction of a vCPU, so threads buy nothing there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import oss2

from fc_handler import handle as handler_module
from fc_handler.settings import Settings
from fc_handler.storage_oss import OssStorage
from imgpipe import REPO_ROOT, argtypes, flags
from imgpipe.benchworker import METHODS, peak_rss_mib
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.standin import OssStandIn
from imgpipe.pricing import CuRates, cheapest_size, cu_estimate
from imgproc import ConfigError, default_config
from imgproc.pipeline import limit_estimate

DEFAULT_IMAGES = REPO_ROOT / "tests" / "data" / "bench"

FC_MEMORY_STEP_MB = 64
FC_MEMORY_MIN_MB = 128
HEADROOM = 1.2


def fc_memory_mb(process_peak_mib: float) -> int:
    """Smallest FC memory size (64 MB steps, 128 MB minimum) with 20% headroom."""
    need = process_peak_mib * HEADROOM
    return max(FC_MEMORY_MIN_MB, math.ceil(need / FC_MEMORY_STEP_MB) * FC_MEMORY_STEP_MB)


def cost_per_10k(memory_mb: int, ms: float) -> float:
    """FC 3.0 CU cost (CNY) of 10,000 images at the cheapest vCPU for `memory_mb` or more.

    Processing is single-threaded: below one vCPU it stretches, above it
    does not shrink (`e2e_duration_at` without I/O); no trial plan.
    """
    rates = CuRates()
    _vcpu, _mem, cu = cheapest_size(lambda v: ms / min(v, 1.0), memory_mb, rates=rates)
    return 10_000 * cu * rates.cny_per_cu[0]


def measure(method: str, image: Path, repeat: int, config: Path | None) -> dict:
    cmd = [sys.executable, "-m", "imgpipe.benchworker", method, str(image), str(repeat)]
    if config:
        cmd.append(str(config))
    env = dict(os.environ, VIPS_CONCURRENCY="1")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO_ROOT, env=env)
    if done.returncode != 0:
        return {"method": method, "image": image.name, "error": done.stderr.strip()[-500:]}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["fc_memory_mb"] = fc_memory_mb(row["process_peak_mib"])
    row["cny_per_10k"] = cost_per_10k(row["fc_memory_mb"], row["ms"])
    return row


def run_bench(
    images: list[Path], repeat: int, methods: list[str], as_json: bool, config: Path | None
) -> int:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        print(
            f"imgpipe bench: unknown method(s) {unknown}; choose from {list(METHODS)}",
            file=sys.stderr,
        )
        return 2
    images = images or sorted(p for p in DEFAULT_IMAGES.iterdir() if p.is_file())
    rows = [measure(m, img, repeat, config) for img in images for m in methods]
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 1 if any("error" in r for r in rows) else 0


def format_table(rows: list[dict]) -> str:
    base = {r["image"]: r for r in rows if r["method"] == "naive" and "error" not in r}
    vips = {r["image"]: r for r in rows if r["method"] == "pyvips" and "error" not in r}
    head = (
        f"{'image':22} {'method':7} {'ms':>8} {'peak MiB':>9} {'out KiB':>8} "
        f"{'x faster':>9} {'x less mem':>10} {'size vs naive':>13} {'vs pyvips':>9} "
        f"{'FC MB':>6} {'CNY/10k':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['image']:22} {r['method']:7} ERROR {r['error'][:80]}")
            continue
        b, v = base.get(r["image"]), vips.get(r["image"])
        faster = f"{b['ms'] / r['ms']:.1f}" if b else "-"
        less_mem = f"{b['peak_mib'] / max(r['peak_mib'], 0.1):.1f}" if b else "-"
        size = f"{100 * r['output_bytes'] / b['output_bytes'] - 100:+.1f}%" if b else "-"
        vs_vips = f"{v['ms'] / r['ms']:.2f}" if v else "-"
        lines.append(
            f"{r['image']:22} {r['method']:7} {r['ms']:8.1f} {r['peak_mib']:9.1f} "
            f"{r['output_bytes'] / 1024:8.1f} {faster:>9} {less_mem:>10} {size:>13} "
            f"{vs_vips:>9} {r['fc_memory_mb']:6d} {r['cny_per_10k']:8.4f}"
        )
    lines.append("")
    lines.append(
        "ms: median of repeats, every method with "
        + (
            "the processor's malloc settings (imgproc/allocator.py)"
            if all(r.get("malloc_tuned") for r in rows)
            else "glibc's default malloc settings (IMGPIPE_MALLOC_TUNING=off or MALLOC_* set)"
        )
        + "; peak MiB: RSS rise while processing one image (fresh process); "
        "x faster / x less mem / size: against naive in this run; vs pyvips: pyvips ms / this ms "
        "(>1 = faster than libvips); FC MB: smallest FC memory with 20% headroom over the "
        "process peak; CNY/10k: FC 3.0 CU pricing (`imgpipe cost`) at the cheapest vCPU for "
        "that memory, processing only (`--e2e` adds the OSS round trips)."
    )
    return "\n".join(lines)


# ------------------------------------------------------------- end to end
#
# `imgpipe bench --e2e`: the real handler (fc_handler.handle_event) with the
# real OSS client (fc_handler.storage_oss.OssStorage, oss2 over HTTP) against
# a local OSS stand-in that waits `latency_ms` before answering each request:
# what an instance pays for while it waits on OSS.
#
# Default latency: Alibaba Cloud's OSS performance best practices say
# latency-sensitive applications get "a latency of 100 to 200 milliseconds"
# for small files (OSS, "Best practices for OSS performance",
# alibabacloud.com/help/doc-detail/179398.htm). It is the one figure
# Alibaba publishes; same-region internal-endpoint round trips are often
# far shorter, so it errs towards I/O costing more. `--latency-ms` sets yours.
OSS_LATENCY_MS = 100.0
E2E_SOURCE, E2E_TARGET = "bench-src", "bench-dst"


def round_trips(log: list[tuple[str, float, float]]) -> int:
    """Sequential round trips: requests merged where their times overlap."""
    waves, end = 0, -1.0
    for _, start, stop in sorted(log, key=lambda r: r[1]):
        if start >= end:
            waves += 1
            end = stop
        else:
            end = max(end, stop)
    return waves


def e2e_measure(image: Path, latency_ms: float, repeat: int) -> dict:
    """Handle one upload event `repeat` + 1 times (the first warms up); medians."""
    settings = Settings.from_env({"SOURCE_BUCKET": E2E_SOURCE, "TARGET_BUCKET": E2E_TARGET})
    data = image.read_bytes()
    key = f"uploads/{image.name}"
    server = OssStandIn(latency_ms)
    real_process = handler_module.process
    spent: list[float] = []

    def timed_process(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real_process(*args, **kwargs)
        finally:
            spent.append((time.perf_counter() - t0) * 1000)

    handler_module.process = timed_process
    rows = []
    try:
        storage = OssStorage(oss2.Auth("bench", "bench"), server.endpoint)
        for _ in range(repeat + 1):
            with server.lock:
                server.objects = {E2E_SOURCE: {key: (data, {})}}
                server.timings.clear()
            spent.clear()
            event = cloudevent(E2E_SOURCE, key, data)
            t0 = time.perf_counter()
            (outcome,) = handler_module.handle_event(
                event, settings=settings, storage=storage, request_id="bench", log=lambda _r: None
            )
            total = (time.perf_counter() - t0) * 1000
            with server.lock:
                log = list(server.timings)
            if outcome.outcome != "processed":
                raise RuntimeError(f"{image.name}: {outcome.outcome} {outcome.reason}")
            methods = [m for m, _, _ in log]
            rows.append(
                {
                    "total_ms": total,
                    "process_ms": sum(spent),
                    "requests": len(log),
                    "by_method": {m: methods.count(m) for m in sorted(set(methods))},
                    "round_trips": round_trips(log),
                }
            )
    finally:
        handler_module.process = real_process
        server.close()
    rows = rows[1:] or rows
    total = statistics.median(r["total_ms"] for r in rows)
    proc = statistics.median(r["process_ms"] for r in rows)
    return {
        "image": image.name,
        "latency_ms": latency_ms,
        "total_ms": total,
        "process_ms": proc,
        "io_ms": max(0.0, total - proc),
        "requests": rows[-1]["requests"],
        "by_method": rows[-1]["by_method"],
        "round_trips": rows[-1]["round_trips"],
        "process_peak_mib": peak_rss_mib(),
    }


def e2e_duration_at(row: dict, vcpu: float) -> float:
    """ms per object at `vcpu`: the single-threaded processing stretches below
    one vCPU (FC gives a fraction of a core's time) and does not shrink above;
    waiting on OSS does not depend on the vCPU."""
    return row["process_ms"] / min(vcpu, 1.0) + row["io_ms"]


def limit_memory_mb(max_megapixels: float | None) -> tuple[float, int]:
    """(the pixel limit, the FC memory its largest accepted upload needs):
    `imgproc.pipeline.limit_estimate`, the figure the plan's check holds too."""
    config = default_config()
    mp = config.max_megapixels if max_megapixels is None else max_megapixels
    return mp, limit_estimate(config, mp).needed_mb


def run_e2e(
    images: list[Path],
    repeat: int,
    latency_ms: float,
    as_json: bool,
    *,
    max_megapixels: float | None = None,
) -> int:
    images = images or sorted(p for p in DEFAULT_IMAGES.iterdir() if p.is_file())
    rows = [e2e_measure(img, latency_ms, repeat) for img in images]
    rates = CuRates()
    # One size for every image: the largest memory any of them needs, and at
    # least what the largest upload the pixel limit accepts needs: a size
    # that holds only the benchmark photos kills the instance on the first
    # 12 MP PNG (issue 22).
    limit_mp, limit_mb = limit_memory_mb(max_megapixels)
    need = max([fc_memory_mb(r["process_peak_mib"]) for r in rows] + [limit_mb])
    vcpu, mem, _ = cheapest_size(
        lambda v: statistics.fmean(e2e_duration_at(r, v) for r in rows), need, rates=rates
    )
    for r in rows:
        ms = e2e_duration_at(r, vcpu)
        est = cu_estimate(10_000, vcpu, mem, ms, rates=rates)
        r["recommended"] = {"vcpu": vcpu, "memory_mb": mem, "ms": ms}
        r["cu_per_object"] = est.total_cu / 10_000
        r["cu_per_10k"] = est.total_cu
        r["cny_per_10k"] = tiered_per_10k(est.total_cu, rates)
    limit = {"max_megapixels": limit_mp, "memory_mb": limit_mb}
    if as_json:
        recommended = {"vcpu": vcpu, "memory_mb": mem}
        print(json.dumps({"recommended": recommended, "limit": limit, "rows": rows}, indent=2))
        return 0
    print(format_e2e(rows, vcpu, mem, latency_ms, limit))
    return 0


def tiered_per_10k(cu: float, rates) -> float:
    """CNY for `cu` at the first tier's price (10,000 photos are far below tier 2)."""
    return cu * rates.cny_per_cu[0]


def format_e2e(
    rows: list[dict], vcpu: float, mem: int, latency_ms: float, limit: dict | None = None
) -> str:
    head = (
        f"{'image':22} {'total ms':>9} {'process':>8} {'I/O':>8} {'requests':>9} "
        f"{'round trips':>11} {'CU/object':>10} {'CU/10k':>9} {'CNY/10k':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['image']:22} {r['total_ms']:9.1f} {r['process_ms']:8.1f} {r['io_ms']:8.1f} "
            f"{r['requests']:9d} {r['round_trips']:11d} {r['cu_per_object']:10.4f} "
            f"{r['cu_per_10k']:9.1f} {r['cny_per_10k']:8.4f}"
        )
    lines += [
        "",
        f"Real handler + oss2 against a local OSS stand-in answering after {latency_ms:g} ms "
        "per request (--latency-ms). total/process/I-O: median ms on this machine at whatever "
        "CPU it has; requests: HTTP requests per object "
        f"({', '.join(f'{k} {v}' for k, v in rows[-1]['by_method'].items())} for the last); "
        "round trips: requests in sequence (overlapping ones count once).",
        f"Cheapest FC 3.0 size for these images: {vcpu:g} vCPU, {mem} MB (memory GB : vCPU "
        "1 to 4, 0.05 vCPU and 64 MB steps; processing stretched below 1 vCPU, I/O not). "
        "CU and CNY at that size, FC 3.0 CU pricing (`imgpipe cost`), no trial plan.",
    ]
    if limit:
        lines.append(
            f"The memory holds the largest upload max_megapixels = {limit['max_megapixels']:g} "
            f"accepts ({limit['memory_mb']} MB, an 8-bit RGBA PNG at the limit; "
            "--max-megapixels), not only these images."
        )
    return "\n".join(lines)


# ------------------------------------------------------------- cold start
#
# `imgpipe bench --cold`: what a new instance pays before and during its
# first invocation, from the function's code alone (`function_src/`, or
# `--package DIR`: the unzipped dist/function.zip) in fresh interpreters:
# `import index` (what FC does before the first call), the first OSS client
# (`fc_handler.storage_oss`: oss2 and requests, imported at the first OSS
# call), the first invocation of the handler on a photo (local buckets) and
# a second one, warm. `-X importtime` says which packages the imports spend
# their time in.

COLD_CHILD = r"""
import json, os, sys, tempfile, time
code, photo = sys.argv[1], sys.argv[2]
sys.path.insert(0, code)
t0 = time.perf_counter()
import index
t1 = time.perf_counter()
import fc_handler.storage_oss  # noqa: F401 - oss2, at the first OSS call
t2 = time.perf_counter()
data = open(photo, "rb").read()
with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "cold-src", "uploads"))
    os.environ.update(SOURCE_BUCKET="cold-src", TARGET_BUCKET="cold-dst", IMGPIPE_LOCAL_BUCKETS=tmp)
    times = []
    for n in range(2):
        key = f"uploads/{n}.jpg"
        open(os.path.join(tmp, "cold-src", key), "wb").write(data)
        oss = {"bucket": {"name": "cold-src"}, "object": {"key": key}}
        event = {"events": [{"eventName": "ObjectCreated:PutObject", "oss": oss}]}
        start = time.perf_counter()
        (record,) = index.handler(json.dumps(event).encode(), None)["records"]
        assert record["outcome"] == "processed", record
        times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"import_index_ms": (t1 - t0) * 1000, "import_oss_ms": (t2 - t1) * 1000,
                  "first_ms": times[0], "warm_ms": times[1]}))
"""


def cold_measure(code: Path, photo: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", COLD_CHILD, str(code), str(photo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1000:])
    return json.loads(done.stdout.splitlines()[-1])


def import_breakdown(code: Path) -> list[tuple[str, float]]:
    """Cumulative ms per top-level package imported by `index` and storage_oss."""
    script = f"import sys; sys.path.insert(0, {str(code)!r}); import index, fc_handler.storage_oss"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    spent: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            self_us = float(parts[0].split(":")[1])
        except ValueError:
            continue
        top = parts[2].strip().split(".")[0]
        spent[top] = spent.get(top, 0.0) + self_us / 1000
    return sorted(spent.items(), key=lambda kv: -kv[1])


def run_cold(package: Path | None, runs: int, as_json: bool) -> int:
    code = package or (REPO_ROOT / "function_src")
    photo = DEFAULT_IMAGES / "photo-12mp.jpg"
    rows = [cold_measure(code, photo) for _ in range(runs)]
    keys = ("import_index_ms", "import_oss_ms", "first_ms", "warm_ms")
    median = {k: statistics.median(r[k] for r in rows) for k in keys}
    breakdown = import_breakdown(code)
    if as_json:
        print(json.dumps({"median": median, "runs": rows, "imports_ms": breakdown}, indent=2))
        return 0
    print(f"cold start, {runs} fresh interpreters, code from {code} (median ms):")
    for label, value in (
        ("import index", median["import_index_ms"]),
        ("first OSS client (oss2 imports)", median["import_oss_ms"]),
        (f"first invocation ({photo.name})", median["first_ms"]),
        ("warm invocation", median["warm_ms"]),
        ("first - warm", median["first_ms"] - median["warm_ms"]),
    ):
        print(f"  {label:36} {value:8.1f}")
    print("imports by package (self time, ms; -X importtime):")
    for name, ms in breakdown[:8]:
        print(f"  {name:24} {ms:8.1f}")
    return 0


REPEAT = argtypes.integer(1, 1000, meaning="a whole number of runs")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "images", nargs="*", type=argtypes.existing_file, help="default: tests/data/bench/*"
    )
    p.add_argument("--repeat", type=REPEAT, default=5, help="runs per image (1 to 1000)")
    p.add_argument(
        "--methods",
        type=_methods,
        default="core,naive,pyvips",
        help="comma-separated, from core, naive, pyvips (default: all three)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="pipeline config JSON for the core (default: the built-in)",
    )
    p.add_argument(
        "--e2e",
        action="store_true",
        help="end to end: the real handler against a local OSS stand-in; ms, requests, CU",
    )
    p.add_argument(
        "--latency-ms",
        type=argtypes.number(0, 10_000),
        default=None,
        help="--e2e: the stand-in's round-trip time per request (default 100, docs/cost.md)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="cold start: import, first and warm invocation, in --repeat fresh interpreters",
    )
    p.add_argument(
        "--package",
        type=argtypes.existing_dir,
        metavar="DIR",
        help="--cold: the unzipped function package instead of function_src/",
    )
    p.add_argument(
        "--max-megapixels",
        type=argtypes.number(0.000001, 10_000),
        default=None,
        metavar="MP",
        help="--e2e: the deployment's max_megapixels (default: the processor's default, 100); "
        "the recommended memory holds the largest upload it accepts",
    )


def _methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(METHODS)}"
        )
    return methods


def run(args: argparse.Namespace) -> int:
    try:
        flags.load_config_file(args.config)
    except ConfigError as exc:
        print(f"imgpipe bench: --config {args.config}: {exc}", file=sys.stderr)
        return 2
    if args.cold:
        return run_cold(args.package, args.repeat, args.json)
    if args.e2e:
        latency = OSS_LATENCY_MS if args.latency_ms is None else args.latency_ms
        return run_e2e(
            args.images, args.repeat, latency, args.json, max_megapixels=args.max_megapixels
        )
    return run_bench(args.images, args.repeat, args.methods, args.json, args.config)
