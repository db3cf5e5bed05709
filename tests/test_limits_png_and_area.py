"""Two checks at their edges: a PNG's image data split over several IDAT
chunks, damaged after the first; the pixel-area cap of an output, on both
sides of it and where rounding would carry a size past it.
"""

from __future__ import annotations

import io
import math
import random

import pytest
from imagegen import png_chunks, png_from_chunks
from PIL import Image

from imgproc import Rejection, default_config, integrity, process
from imgproc.ops import fit_size

# ------------------------------------------------------------- multi-IDAT PNG


@pytest.fixture(scope="module")
def split_png() -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A 64x64 noisy PNG whose image data is cut into four IDAT chunks."""
    rng = random.Random(7)
    im = Image.frombytes("RGB", (64, 64), bytes(rng.randrange(256) for _ in range(64 * 64 * 3)))
    out = io.BytesIO()
    im.save(out, "PNG")
    chunks = png_chunks(out.getvalue())
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    quarter = math.ceil(len(idat) / 4)
    parts = [(b"IDAT", idat[i : i + quarter]) for i in range(0, len(idat), quarter)]
    head = [c for c in chunks if c[0] not in (b"IDAT", b"IEND")]
    split = [*head, *parts, (b"IEND", b"")]
    assert [k for k, _ in split].count(b"IDAT") == 4
    return split, png_from_chunks(split)


def offset_of(chunks, index: int) -> int:
    """Byte offset of chunk `index` in the PNG made of `chunks`."""
    return 8 + sum(12 + len(body) for _, body in chunks[:index])


def test_an_intact_split_png_is_whole_and_decodes(split_png):
    _, data = split_png
    assert integrity.png_damage(data) is None
    assert {o.variant for o in process(data, default_config()).outputs} == {
        "large",
        "medium",
        "small",
    }


@pytest.mark.parametrize("nth", [1, 2, 3])  # the 2nd, 3rd and last IDAT
@pytest.mark.parametrize("where", ["first byte", "middle", "last byte", "stored CRC"])
def test_damage_in_any_idat_chunk_after_the_first_is_found(split_png, nth, where):
    chunks, data = split_png
    idats = [i for i, (k, _) in enumerate(chunks) if k == b"IDAT"]
    index = idats[nth]
    start = offset_of(chunks, index)
    length = len(chunks[index][1])
    byte = {
        "first byte": start + 8,
        "middle": start + 8 + length // 2,
        "last byte": start + 8 + length - 1,
        "stored CRC": start + 8 + length + 3,
    }[where]
    damaged = bytearray(data)
    damaged[byte] ^= 0x10
    found = integrity.png_damage(bytes(damaged))
    assert found is not None and f"IDAT chunk at byte {start}" in found
    with pytest.raises(Rejection) as caught:
        process(bytes(damaged), default_config())
    assert caught.value.reason == "corrupt"


def test_damage_before_a_cut_is_still_found(split_png):
    """Damage in the 2nd IDAT, the file cut inside the 4th: the damage is named
    (the cut alone is left to the decoder)."""
    chunks, data = split_png
    idats = [i for i, (k, _) in enumerate(chunks) if k == b"IDAT"]
    second, last = offset_of(chunks, idats[1]), offset_of(chunks, idats[3])
    damaged = bytearray(data[: last + 20])
    damaged[second + 12] ^= 1
    assert f"IDAT chunk at byte {second}" in integrity.png_damage(bytes(damaged))
    assert integrity.png_damage(data[: last + 20]) is None


# -------------------------------------------------------------- the area cap

CAP = 16384 * 16384  # AVIF's (encode.LIMITS)


@pytest.mark.parametrize(
    ("size", "want"),
    [
        ((16384, 16384), (16384, 16384)),  # exactly at the cap: as it is
        ((16384, 16385), (16384, 16384)),  # one row over: scaled down
        ((16385, 17000), (16084, 16688)),  # rounding would give 16085x16689: over
        ((16392, 20000), (14832, 18097)),
    ],
)
def test_the_area_cap_on_both_sides_and_through_rounding(size, want):
    got = fit_size(*size, 32768, 32768, max_pixels=CAP)
    assert got == want
    assert got[0] * got[1] <= CAP


@pytest.mark.parametrize(
    ("size", "cap", "want"),
    [
        ((10, 10), 100, (10, 10)),  # at the cap
        ((10, 11), 100, (10, 10)),  # rounds to exactly the cap: kept, not floored
        ((5, 22), 100, (4, 20)),  # rounds to 5x21 = 105: floored
        ((11, 10), 100, (10, 10)),
        ((7, 13), 90, (6, 12)),  # one pixel over the cap: scaled (and floored)
        # A side held at 1 px: the other is cut to the cap (floored, 1x122 would pass it).
        ((2, 300), 100, (1, 100)),
        ((300, 2), 100, (100, 1)),
        ((1, 1000), 500, (1, 500)),
        ((1, 101), 100, (1, 100)),  # one pixel over
        ((1, 100), 100, (1, 100)),  # at the cap
    ],
)
def test_the_area_cap_with_small_numbers(size, cap, want):
    got = fit_size(*size, None, None, max_pixels=cap)
    assert got == want and all(type(side) is int for side in got)


def test_the_area_cap_holds_for_any_shape_and_cap():
    """Seeded, small caps and strips as thin as 1 px: never over the cap, never
    under 1 px a side, no side grows, and what fits is left alone."""
    rng = random.Random(2727)
    for _ in range(5000):
        w, h = rng.randint(1, 3000), rng.randint(1, 3000)
        if rng.random() < 0.3:
            w = rng.randint(1, 4)  # a strip
        if rng.random() < 0.5:
            w, h = h, w
        cap = rng.randint(1, 20_000)
        got = fit_size(w, h, None, None, max_pixels=cap)
        if w * h <= cap:
            assert got == (w, h)
            continue
        assert got[0] * got[1] <= cap, (w, h, cap, got)
        assert 1 <= got[0] <= w and 1 <= got[1] <= h, (w, h, cap, got)


def test_the_area_cap_holds_for_any_size():
    """Seeded, with the pipeline's box for AVIF (32768 a side, 16384 x 16384 in
    all): the area never passes the cap, no side grows, each side is within one
    pixel of the exact scale, and what fits already is left alone. (A side is
    never clamped up to 1 px here: past the cap, both sides are over 8192.)"""
    rng = random.Random(27)
    for _ in range(3000):
        w, h = rng.randint(1, 60_000), rng.randint(1, 60_000)
        got = fit_size(w, h, 32768, 32768, max_pixels=CAP)
        scale = min(1.0, 32768 / w, 32768 / h, math.sqrt(CAP / (w * h)))
        if scale == 1.0:
            assert got == (w, h)
            continue
        assert got[0] * got[1] <= CAP and got[0] <= 32768 and got[1] <= 32768
        assert abs(got[0] - w * scale) < 1 and abs(got[1] - h * scale) < 1, (w, h, got)


def test_a_png_cut_right_after_its_last_idat_crc_is_still_checked(split_png):
    """No IEND (the file ends exactly after the last IDAT's CRC): the chunk is whole,
    so its CRC is checked, and damage in it is found."""
    chunks, data = split_png
    cut = data[: offset_of(chunks, len(chunks) - 1)]  # everything before IEND
    assert integrity.png_damage(cut) is None
    last = offset_of(chunks, len(chunks) - 2)
    damaged = bytearray(cut)
    damaged[last + 9] ^= 4
    assert f"IDAT chunk at byte {last}" in integrity.png_damage(bytes(damaged))
    assert integrity.png_damage(bytes(damaged[:-1])) is None  # its CRC cut short: the decoder's


def test_only_the_first_run_of_idat_chunks_is_checked(split_png):
    """The first frame's data is the first run of IDAT chunks; what follows another
    chunk is not the image the pipeline decodes."""
    chunks, _ = split_png
    stray = [*chunks[:-1], (b"tEXt", b"k\x00v"), (b"IDAT", b"junk"), (b"IEND", b"")]
    data = bytearray(png_from_chunks(stray))
    junk = offset_of(stray, len(stray) - 2)
    data[junk + 8] ^= 1  # the stray IDAT's bytes no longer match its CRC
    assert integrity.png_damage(bytes(data)) is None
