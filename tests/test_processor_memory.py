"""The lighter conversions give the very pixels of the full-size ones (issue 22).

`ops.to_8bit` converts 16- and 32-bit grey band by band, and `ops.resize`
premultiplies and box-reduces RGBA and LA band by band, so neither makes a
full-size intermediate copy any more. The quality bar is the strictest one:
every byte equal to the whole-image computation they replace (the reference
here), on seeded random pixels, sizes and targets, bands cut anywhere.
"""

from __future__ import annotations

import random

import pytest
from PIL import Image

from imgproc import ops

R = Image.Resampling


def whole_image_resize(im: Image.Image, size: tuple[int, int], box_first: bool) -> Image.Image:
    """What `ops.resize` computed before: the premultiplied copy of all of it."""
    gap = 1.0 if box_first else 3.0
    boxed = box_first and im.width >= 2 * size[0] and im.height >= 2 * size[1]
    method = R.BICUBIC if boxed else R.LANCZOS
    premultiplied = {"RGBA": "RGBa", "LA": "La"}[im.mode]
    return im.convert(premultiplied).resize(size, method, reducing_gap=gap).convert(im.mode)


def whole_image_to_l(im: Image.Image) -> Image.Image:
    return im.convert("I").point(lambda v: v * (1 / 257) + 0.5).convert("L")


def random_image(rng: random.Random, mode: str, size: tuple[int, int]) -> Image.Image:
    raw = "RGBA" if mode in ("RGBA", "LA") else mode
    bands = {"RGBA": 4, "I;16": 2, "I": 4}[raw]
    im = Image.frombytes(raw, size, rng.randbytes(size[0] * size[1] * bands))
    return im.convert("LA") if mode == "LA" else im


@pytest.mark.parametrize("seed", range(40))
def test_banded_premultiplied_resize_equals_the_whole_image_one(seed, monkeypatch):
    rng = random.Random(seed)
    # Small bands, so that even small images are cut into many of them.
    monkeypatch.setattr(ops, "BAND_PIXELS", rng.choice([1, 97, 4096, 1 << 18]))
    mode = rng.choice(["RGBA", "LA"])
    size = (rng.randint(1, 900), rng.randint(1, 900))
    im = random_image(rng, mode, size)
    target = (
        max(1, min(size[0], size[0] // rng.randint(1, 30))),
        max(1, min(size[1], size[1] // rng.randint(1, 30))),
    )
    if target == size:
        target = (max(1, size[0] - 1), size[1])
    for box_first in (True, False):
        got = ops.resize(im, target, box_first=box_first)
        want = whole_image_resize(im, target, box_first)
        assert (got.mode, got.size) == (want.mode, want.size)
        assert got.tobytes() == want.tobytes(), (mode, size, target, box_first)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("mode", ["I;16", "I"])
def test_banded_16_bit_to_8_bit_equals_the_whole_image_one(seed, mode, monkeypatch):
    rng = random.Random(seed)
    monkeypatch.setattr(ops, "BAND_PIXELS", rng.choice([1, 500, 1 << 18]))
    size = (rng.randint(1, 700), rng.randint(1, 700))
    im = random_image(rng, mode, size)
    got = ops.to_8bit(im)
    assert got.mode == "L" and got.tobytes() == whole_image_to_l(im).tobytes()
