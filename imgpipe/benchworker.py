"""One benchmark measurement, in the fresh interpreter `imgpipe bench` starts for it.

`python -m imgpipe.benchworker METHOD IMAGE REPEAT [CONFIG]` prints
one JSON object. Each method imports its own libraries inside its function,
on purpose: the peak memory measured must be that method's own, so the
worker loads nothing another method needs (this module imports only the
standard library at its top).
"""

from __future__ import annotations

import io
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def peak_rss_mib() -> float:
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
    # Every method runs with the malloc settings the processor sets for
    # itself (imgproc/allocator.py), so the comparison is of the image code.
    from imgproc import allocator

    tuned = allocator.tune()
    data = Path(image).read_bytes()
    idle = peak_rss_mib()
    t0 = time.perf_counter()
    sizes = fn(data, config)
    first_ms = (time.perf_counter() - t0) * 1000
    peak = peak_rss_mib()
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
        "malloc_tuned": tuned,
    }


if __name__ == "__main__":
    _method, _image, _repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    _config = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(worker(_method, _image, _repeat, _config)))
