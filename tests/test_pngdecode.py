"""libvips' PNG decoder (`imgproc.pngdecode`) against Pillow's, byte for byte.

The pipeline takes libvips' pixels in place of Pillow's for the PNGs that
`eligible` names; these tests hold it to that: every pixel of every eligible
shape (each mode, interlaced or not, 1 px to wide, every filter Pillow and
libvips write), the same outputs from `process` either way, Pillow for
everything else, damage refused, nothing kept between decodes.
"""

from __future__ import annotations

import io
import random
import resource
from pathlib import Path

import pytest
from conftest import budget
from hypothesis import given, settings
from hypothesis import strategies as st
from imagegen import Shape, png_chunks, png_from_chunks, writable
from PIL import Image

from imgproc import default_config, pipeline, pngdecode, process

DATA = Path(__file__).parent / "data"
CFG = default_config()

pytestmark = pytest.mark.skipif(
    not pngdecode.available(), reason="pyvips-binary is not installed (make setup installs it)"
)


def _pixels(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    """Noise with smooth areas: every PNG filter type wins somewhere."""
    rng = random.Random(seed)
    bands = len(mode)
    w, h = size
    raw = bytearray(w * h * bands)
    for i in range(len(raw)):
        raw[i] = rng.randrange(256) if (i // bands) % 7 < 3 else (i // (bands * w)) % 256
    return Image.frombytes(mode, size, bytes(raw))


def _pillow_png(im: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kwargs)
    return buf.getvalue()


def _vips_png(im: Image.Image, *, interlace: bool) -> bytes:
    """libvips writes Adam7-interlaced PNGs (Pillow cannot)."""
    import pyvips

    v = pyvips.Image.new_from_memory(im.tobytes(), im.width, im.height, len(im.mode), "uchar")
    v = v.copy(interpretation="b-w" if len(im.mode) <= 2 else "srgb")
    return v.pngsave_buffer(interlace=interlace, compression=6, filter="all")


def _pillow_pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def _vips_pixels(data: bytes) -> Image.Image:
    header = Image.open(io.BytesIO(data))
    mode = pngdecode.eligible(data)
    assert mode == header.mode
    return pngdecode.decode(data, header)


SHAPES = [(1, 1), (3, 7), (257, 129), (1, 1500), (1500, 1), (64, 64)]


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("size", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("writer", ["pillow", "pillow-level0", "vips", "vips-interlaced"])
def test_every_pixel_matches_pillow(mode, size, writer):
    im = _pixels(mode, size, seed=hash((mode, size)) % 1000)
    data = {
        "pillow": lambda: _pillow_png(im),
        "pillow-level0": lambda: _pillow_png(im, compress_level=0),
        "vips": lambda: _vips_png(im, interlace=False),
        "vips-interlaced": lambda: _vips_png(im, interlace=True),
    }[writer]()
    assert pngdecode.eligible(data) == mode
    assert data[28] == (1 if writer == "vips-interlaced" else 0)  # IHDR interlace method
    ours = _vips_pixels(data)
    reference = _pillow_pixels(data)
    assert (ours.mode, ours.size) == (reference.mode, reference.size)
    assert ours.tobytes() == reference.tobytes()


def test_benchmark_and_corpus_photos_match_pillow():
    files = [DATA / "bench" / "photo-6mp-rgba.png", *sorted((DATA / "images").glob("*.png"))]
    decoded = 0
    for path in files:
        data = path.read_bytes()
        if pngdecode.eligible(data) is None or "truncated" in path.name:
            continue
        assert _vips_pixels(data).tobytes() == _pillow_pixels(data).tobytes(), path.name
        decoded += 1
    assert decoded >= 4  # the 6 MP photo, avif_star, gbr, itxt_chunks


def test_process_gives_the_same_outputs_either_way(monkeypatch):
    """Real alpha (not the benchmark photo's opaque one), orientation 6 in an
    eXIf chunk before the image data, an ICC profile: byte-identical variants."""
    im = _pixels("RGBA", (900, 600), seed=7)
    exif = Image.Exif()
    exif[0x0112] = 6
    srgb = (DATA / "icc").glob("*.icc")
    icc = next(iter(sorted(srgb)), None)
    kwargs = {"exif": exif.tobytes()}
    if icc is not None:
        kwargs["icc_profile"] = icc.read_bytes()
    data = _pillow_png(im, **kwargs)
    assert pngdecode.eligible(data) == "RGBA"
    with_vips = process(data, CFG)
    monkeypatch.setattr(pngdecode, "available", lambda: False)
    with_pillow = process(data, CFG)
    assert (with_vips.decoder, with_pillow.decoder) == ("libvips", "pillow")
    assert with_vips.source_format == with_pillow.source_format == "PNG"
    assert (with_vips.source_width, with_vips.source_height) == (600, 900)  # turned upright
    assert [(o.variant, o.format, o.width, o.height) for o in with_vips.outputs] == [
        (o.variant, o.format, o.width, o.height) for o in with_pillow.outputs
    ]
    assert [o.data for o in with_vips.outputs] == [o.data for o in with_pillow.outputs]


def _with_chunk_after_idat(data: bytes, chunk: tuple[bytes, bytes]) -> bytes:
    chunks = png_chunks(data)
    return png_from_chunks([*chunks[:-1], chunk, chunks[-1]])


def _exif6() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif\x00\x00") else exif.tobytes()


@pytest.mark.parametrize(
    "name, data",
    [
        ("palette", lambda: _pillow_png(_pixels("RGB", (40, 30), 1).convert("P"))),
        ("16-bit grey", lambda: _pillow_png(_pixels("L", (40, 30), 2).convert("I;16"))),
        ("1-bit", lambda: _pillow_png(_pixels("L", (40, 30), 3).convert("1"))),
        (
            "tRNS colour key",
            lambda: _pillow_png(_pixels("RGB", (40, 30), 4), transparency=(1, 2, 3)),
        ),
        (
            "eXIf after the image data",
            lambda: _with_chunk_after_idat(
                _pillow_png(_pixels("RGB", (40, 30), 5)), (b"eXIf", _exif6())
            ),
        ),
        (
            "text after the image data",
            lambda: _with_chunk_after_idat(
                _pillow_png(_pixels("RGB", (40, 30), 6)), (b"tEXt", b"Comment\x00late")
            ),
        ),
        (
            "APNG",
            lambda: _pillow_png(
                _pixels("RGB", (40, 30), 8),
                save_all=True,
                append_images=[_pixels("RGB", (40, 30), 9)],
            ),
        ),
    ],
)
def test_everything_else_is_left_to_pillow(name, data):
    png = data()
    assert pngdecode.eligible(png) is None, name
    assert process(png, CFG).outputs


def test_late_exif_orientation_still_turns_the_photo():
    """Why chunks after IDAT go to Pillow: it reads them while decoding."""
    png = _with_chunk_after_idat(_pillow_png(_pixels("RGB", (80, 40), 5)), (b"eXIf", _exif6()))
    out = process(png, CFG)
    assert (out.source_width, out.source_height) == (40, 80)


def test_damage_is_refused_with_libvips_words():
    good = _pillow_png(_pixels("RGBA", (300, 200), 11))
    cut = good[: len(good) * 2 // 3]
    with pytest.raises(pngdecode.DecodeError):
        _vips_pixels(cut + png_from_chunks([(b"IEND", b"")])[8:])
    with pytest.raises(Exception) as info:
        process(cut, CFG)
    assert getattr(info.value, "reason", None) == "corrupt", info.value


def test_without_libvips_pillow_decodes(monkeypatch):
    data = (DATA / "images" / "gbr.png").read_bytes()
    expected = process(data, CFG)
    monkeypatch.setattr(pngdecode, "available", lambda: False)
    calls = []
    real = pipeline._load
    monkeypatch.setattr(pipeline, "_load", lambda im: calls.append(im) or real(im))
    assert [o.data for o in process(data, CFG).outputs] == [o.data for o in expected.outputs]
    assert calls  # Pillow did the decoding


def test_repeated_decodes_keep_nothing():
    """The operation cache is off and every buffer is freed: 40 decodes of a
    2 MP PNG raise the peak by less than one decode's pixels (8 MiB)."""
    data = _pillow_png(_pixels("RGBA", (2000, 1000), 12), compress_level=1)
    for _ in range(3):
        _vips_pixels(data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(40):
        _vips_pixels(data)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 8, grown_mib


@st.composite
def _png_shapes(draw):
    modes = sorted({mode for fmt, mode in writable() if fmt == "png"})
    mode = draw(st.sampled_from(modes))
    side = st.one_of(st.sampled_from([1, 2, 3, 255, 256, 257]), st.integers(1, 3000))
    width, height = draw(side), draw(side)
    if width * height > 200_000:
        height = max(1, 200_000 // width)
    return Shape(
        "png",
        width,
        height,
        mode,
        transparency=mode == "P" and draw(st.booleans()),  # Shape keys palettes only
        orientation=draw(st.one_of(st.none(), st.integers(1, 8))),
        icc=draw(st.sampled_from([None, "srgb", "adobe", "junk"])),
    )


@settings(max_examples=budget(60), deadline=None)
@given(_png_shapes())
def test_generated_pngs_process_the_same_with_either_decoder(shape):
    """Every PNG mode Pillow writes, with and without EXIF orientation, ICC
    profiles (a junk one too) and palette transparency: where `eligible` takes the
    file, the pixels and every variant are what Pillow's decoding gives."""
    data = shape.build()
    mode = pngdecode.eligible(data)
    if mode is not None:
        assert _vips_pixels(data).tobytes() == _pillow_pixels(data).tobytes(), shape
    ours = process(data, CFG)
    assert ours.decoder == ("libvips" if mode else "pillow")
    pngdecode_available = pngdecode.available
    try:
        pngdecode.available = lambda: False
        reference = process(data, CFG)
    finally:
        pngdecode.available = pngdecode_available
    assert [(o.variant, o.format, o.data) for o in ours.outputs] == [
        (o.variant, o.format, o.data) for o in reference.outputs
    ], shape
