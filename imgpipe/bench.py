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

import io
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from imgpipe import REPO_ROOT
from imgpipe.cost import Rates, estimate

DEFAULT_IMAGES = REPO_ROOT / "tests" / "data" / "bench"

FC_MEMORY_STEP_MB = 64
FC_MEMORY_MIN_MB = 128
HEADROOM = 1.2

WIDTHS = (1200, 600, 150)
WATERMARK_MIN_WIDTH = 600


def _core(data: bytes, config_path: str | None) -> dict[str, int]:
    from imgproc import load_config, process

    cfg = load_config(Path(config_path).read_text() if config_path else None)
    result = process(data, cfg)
    return {f"{o.variant}.{o.format}": len(o.data) for o in result.outputs}


def _naive(data: bytes, _config: str | None) -> dict[str, int]:
    from PIL import Image, ImageDraw, ImageFont

    im = Image.open(io.BytesIO(data)).convert("RGBA")
    sizes = {}
    for name, width in zip(("large", "medium", "small"), WIDTHS):
        height = int(im.height * width / im.width)
        out = im.resize((width, height), Image.Resampling.LANCZOS)
        if width >= WATERMARK_MIN_WIDTH:
            font = ImageFont.load_default(size=max(8, round(height * 0.05)))
            ImageDraw.Draw(out).text(
                (10, height - 60), "imgpipe", fill=(255, 255, 255, 128), font=font
            )
        buf = io.BytesIO()
        out.convert("RGB").save(buf, "JPEG", quality=85)
        sizes[f"{name}.jpeg"] = buf.tell()
        buf = io.BytesIO()
        out.save(buf, "WEBP", quality=80)
        sizes[f"{name}.webp"] = buf.tell()
    return sizes


def _pyvips(data: bytes, config_path: str | None) -> dict[str, int]:
    import pyvips

    from imgproc import load_config

    effort = load_config(Path(config_path).read_text() if config_path else None).encoder.webp_method

    sizes = {}
    img = pyvips.Image.thumbnail_buffer(
        data, WIDTHS[0], height=10_000_000, size="down"
    ).copy_memory()
    for name, width in zip(("large", "medium", "small"), WIDTHS):
        if img.width > width:
            img = img.resize(width / img.width, kernel="lanczos3").copy_memory()
        out = img
        if width >= WATERMARK_MIN_WIDTH:
            size = max(8, round(min(img.width, img.height) * 0.05))
            text = pyvips.Image.text("imgpipe", dpi=72, font=f"sans {size}")
            alpha = (text * 0.5).cast("uchar")
            bands = out.bands - (1 if out.hasalpha() else 0)
            overlay = (
                text.new_from_image([255] * bands)
                .bandjoin(alpha)
                .copy(interpretation=out.interpretation)
            )
            x = max(0, out.width - text.width - size // 2)
            y = max(0, out.height - text.height - size // 2)
            out = out.composite2(overlay, "over", x=x, y=y)
        jpeg_src = out.flatten(background=[255, 255, 255]) if out.hasalpha() else out
        sizes[f"{name}.jpeg"] = len(jpeg_src.jpegsave_buffer(Q=85, keep="none"))
        sizes[f"{name}.webp"] = len(out.webpsave_buffer(Q=80, effort=effort, keep="none"))
    return sizes


METHODS: dict[str, Callable[[bytes, str | None], dict[str, int]]] = {
    "core": _core,
    "naive": _naive,
    "pyvips": _pyvips,
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(method: str, image: str, repeat: int, config: str | None) -> dict:
    """Runs inside the fresh interpreter; prints one JSON object."""
    fn = METHODS[method]
    if method == "core":
        import imgproc
    elif method == "naive":
        from PIL import Image, ImageDraw, ImageFont, WebPImagePlugin  # noqa: F401
    else:
        import pyvips  # noqa: F401

        import imgproc  # noqa: F401
    data = Path(image).read_bytes()
    idle = _peak_rss_mib()
    t0 = time.perf_counter()
    sizes = fn(data, config)
    first_ms = (time.perf_counter() - t0) * 1000
    peak = _peak_rss_mib()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(data, config)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "method": method,
        "image": Path(image).name,
        "ms": statistics.median(times) if times else first_ms,
        "first_ms": first_ms,
        "peak_mib": max(0.0, peak - idle),
        "process_peak_mib": peak,
        "output_bytes": sum(sizes.values()),
        "outputs": sizes,
    }


def fc_memory_mb(process_peak_mib: float) -> int:
    """Smallest FC memory size (64 MB steps, 128 MB minimum) with 20% headroom."""
    need = process_peak_mib * HEADROOM
    return max(FC_MEMORY_MIN_MB, math.ceil(need / FC_MEMORY_STEP_MB) * FC_MEMORY_STEP_MB)


def cost_per_10k(memory_mb: int, ms: float) -> float:
    """Pay-as-you-go cost of 10,000 images, free tier left out (it is per month)."""
    rates = Rates(free_invocations=0, free_gib_seconds=0)
    return estimate(10_000, memory_mb, ms, rates=rates).total_cny


def measure(method: str, image: Path, repeat: int, config: Path | None) -> dict:
    cmd = [sys.executable, "-m", "imgpipe.bench", method, str(image), str(repeat)]
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
        "ms: median of repeats; peak MiB: RSS rise while processing one image (fresh process); "
        "x faster / x less mem / size: against naive in this run; vs pyvips: pyvips ms / this ms "
        "(>1 = faster than libvips); FC MB: smallest FC memory with 20% headroom over the "
        f"process peak; CNY/10k: {Rates().per_gib_second} CNY/GiB-s "
        f"+ {Rates().per_10k_invocations} CNY/10k calls, no free tier."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    _method, _image, _repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    _config = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(worker(_method, _image, _repeat, _config)))
