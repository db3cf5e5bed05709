"""Time and PSNR of the first resample step on the benchmark photos.

    .venv/bin/python tests/bench_resample.py

For each photo, 1200 px wide from full-size premultiplied pixels: a box
step (`reducing_gap=1.0`) followed by LANCZOS, BICUBIC or HAMMING, each
against LANCZOS all the way. `imgproc.ops.resize` uses box + BICUBIC for
pixels no decoder could shrink (docs/processor.md, "Choices").
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

BENCH = Path(__file__).parent / "data" / "bench"
L = Image.Resampling


def psnr(a: Image.Image, b: Image.Image) -> float:
    rms = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).rms
    mse = sum(v * v for v in rms) / len(rms)
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def median_ms(fn, repeat: int = 7) -> tuple[float, Image.Image]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def main() -> None:
    print(f"{'photo':22} {'second step':12} {'ms':>6} {'dB vs LANCZOS':>14}")
    for path in sorted(BENCH.iterdir()):
        im = Image.open(path).convert("RGBa")
        size = (1200, round(1200 * im.height / im.width))
        reference = im.resize(size, L.LANCZOS)
        for method in (L.LANCZOS, L.BICUBIC, L.HAMMING):
            ms, out = median_ms(lambda m=method, i=im, s=size: i.resize(s, m, reducing_gap=1.0))
            print(f"{path.name:22} {method.name:12} {ms:6.1f} {psnr(out, reference):14.1f}")


if __name__ == "__main__":
    main()
