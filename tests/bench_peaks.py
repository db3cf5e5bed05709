"""Peak memory of the real handler per upload, fresh and warm (issue 22's table).

    .venv/bin/python tests/bench_peaks.py [--package DIR] [--cache DIR] [--only NAME...]

Each upload is handled by `index.handler` in a fresh interpreter
(`tests/peakprobe.py`: the function's code, oss2 imported, local buckets,
peak RSS from VmHWM); "warm" handles two other uploads first in the same
process (a 12 MP RGBA PNG and a 24 MP JPEG), as a warm instance has, and
reports the upload's own peak (the mark is reset before it). The
default configuration (six variants, watermark) and no memory limit, so
every upload is processed; the model's estimate (`imgproc.memory`) is printed
beside it. Images are generated (seeded) into `--cache` once.
`--package DIR` runs the unzipped `dist/function.zip` instead of
`function_src/` (the virtualenv still supplies what the package lacks).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "function_src"))

import peakprobe

# name -> (writer, mode, megapixels): the table of issue 22.
CASES = {
    "jpeg-12mp": ("JPEG", "RGB", 12),
    "jpeg-24mp": ("JPEG", "RGB", 24),
    "jpeg-48mp": ("JPEG", "RGB", 48),
    "jpeg-100mp": ("JPEG", "RGB", 100),
    "png-rgba-6mp": ("PNG", "RGBA", 6),
    "png-rgba-12mp": ("PNG", "RGBA", 12),
    "png16-grey-24mp": ("PNG", "I;16", 24),
    "png-rgba-100mp": ("PNG", "RGBA", 100),
    "png16-grey-100mp": ("PNG", "I;16", 100),
    "heic-12mp": ("HEIF", "RGB", 12),
    "heic-48mp": ("HEIF", "RGB", 48),
}
WARMUPS = ("png-rgba-12mp", "jpeg-24mp")
EXT = {"JPEG": "jpg", "PNG": "png", "HEIF": "heic"}


def size_for(megapixels: float) -> tuple[int, int]:
    """4:3, at most `megapixels` (so 100 MP passes `max_megapixels = 100`)."""
    width = round(math.sqrt(megapixels * 1e6 * 4 / 3))
    return width, math.floor(megapixels * 1e6 / width)


def upload(cache: Path, name: str) -> Path:
    fmt, mode, mp = CASES[name]
    path = cache / f"{name}.{EXT[fmt]}"
    if not path.exists():
        peakprobe.make_upload(path, fmt, mode, size_for(mp), seed=len(name))
    return path


def estimate_mib(path: Path) -> str:
    from imgproc import default_config, estimate_memory

    return f"{estimate_memory(path.read_bytes(), default_config()).total_mib:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "imgpipe-peaks")
    parser.add_argument("--only", nargs="*", default=list(CASES))
    parser.add_argument("--no-warm", action="store_true")
    args = parser.parse_args()
    head = ("upload", "file MiB", "fresh MiB", "warm MiB", "model MiB", "s")
    print(f"{head[0]:18} {head[1]:>8} {head[2]:>9} {head[3]:>9} {head[4]:>9} {head[5]:>5}")
    for name in args.only:
        path = upload(args.cache, name)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            fresh = peakprobe.measure([path], package=args.package, buckets=Path(tmp))
        warm = None
        if not args.no_warm:
            with tempfile.TemporaryDirectory() as tmp:
                warm = peakprobe.measure(
                    [upload(args.cache, w) for w in WARMUPS] + [path],
                    package=args.package,
                    buckets=Path(tmp),
                )
        cells = []
        for result in (fresh, warm):
            runs = (result or {}).get("runs") or []
            if result is None:
                cells.append("-")
            elif not runs or runs[-1]["outcome"] != "processed":
                cells.append(f"FAILED {result.get('killed', runs[-1]['outcome'] if runs else '')}")
            else:
                cells.append(f"{runs[-1]['peak_mib']:.0f}")
        print(
            f"{name:18} {path.stat().st_size / 2**20:8.1f} {cells[0]:>9} {cells[1]:>9} "
            f"{estimate_mib(path):>9} {time.perf_counter() - t0:5.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
