"""Images built from a short description, for the processor's property tests.

Hypothesis draws a `Shape` (format, size, mode, orientation, ICC profile),
never bytes: a failing example then prints as one line such as
`Shape('png', 1, 40000, 'P', transparency=True, orientation=6)`, valid
Python to paste into an @example, and the bytes are rebuilt from it.
`check_processed` is the one oracle every generated input goes through.
"""

from __future__ import annotations

import contextlib
import functools
import io
import struct
import warnings
import zlib
from dataclasses import dataclass

from hypothesis import strategies as st
from PIL import Image, ImageCms

from imgproc import Config, Processed, parse_config
from imgproc.encode import LIMITS

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - a dev dependency of the function
    pass

# Input formats the sniffer accepts, as Pillow's writer names them.
WRITERS = {
    "jpeg": "JPEG",
    "mpo": "MPO",  # sniffed as JPEG; Pillow opens it with its MPO plugin
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "tiff": "TIFF",
    "bmp": "BMP",
    "avif": "AVIF",
    "heif": "HEIF",
}
MODES = (
    "1",
    "L",
    "LA",
    "P",
    "PA",
    "I;16",
    "I",
    "F",
    "RGB",
    "RGBA",
    "CMYK",
    "YCbCr",
    "LAB",
    "La",
    "RGBa",
    "RGBX",
    "HSV",
)
# The largest side each writer (or, for AVIF, its decoder) handles. HEIF:
# the x265 encoder pillow-heif ships refuses 1x8192 and longer.
INPUT_MAX_SIDE = {
    "jpeg": 65_500,
    "mpo": 65_500,
    "webp": 16_383,
    "gif": 65_535,
    "avif": 32_768,
    "heif": 4_096,
}
# Formats whose writer stores EXIF and ICC profiles.
CARRIES_METADATA = frozenset({"jpeg", "mpo", "png", "webp", "tiff", "avif", "heif"})
# Pixels per generated image: wide enough for 1x70000 lines, cheap enough
# for thousands of examples.
PIXEL_BUDGET = 120_000
# Sides where something changes: 1 px, the variant boxes below and every
# encoder's limit, each side of it.
EDGES = (1, 2, 3, 149, 150, 151, 1199, 1200, 1201, 4096, 16383, 16384, 16385)
EDGES += (32768, 32769, 65500, 65501, 65535, 65536, 70000)

# Variants that reach every encoder's limit: `tall-*` have no height cap, so
# a 2x70000 line meets JPEG's 65500 and AVIF's 32768; WebP meets 16383 in
# `large`; PNG has no practical limit.
CONFIG = parse_config(
    {
        "variants": [
            {"name": "large", "width": 1200, "formats": ["jpeg", "webp"]},
            {"name": "thumb", "width": 150, "height": 150, "formats": ["jpeg", "webp"]},
            {"name": "tall-jpeg", "width": 16384, "formats": ["jpeg"]},
            {"name": "tall-avif", "width": 16384, "formats": ["avif"]},
            {"name": "tall-png", "width": 16384, "formats": ["png"]},
        ],
        "max_megapixels": 25,
    }
)


@dataclass(frozen=True)
class Shape:
    fmt: str
    width: int
    height: int
    mode: str
    transparency: bool = False  # a palette (or colour-key) transparent entry
    orientation: int | None = None
    icc: str | None = None  # "srgb", "adobe", "junk" (not a profile)

    def __repr__(self) -> str:
        """Valid Python, ready to paste into an @example."""
        args = [repr(self.fmt), str(self.width), str(self.height), repr(self.mode)]
        args += ["transparency=True"] if self.transparency else []
        args += [f"orientation={self.orientation}"] if self.orientation else []
        args += [f"icc={self.icc!r}"] if self.icc else []
        return f"Shape({', '.join(args)})"

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis prints it
        printer.text(repr(self))

    def build(self) -> bytes:
        im = _pixels(self.mode, (self.width, self.height))
        kwargs: dict[str, object] = {}
        if self.transparency:
            kwargs["transparency"] = 0
        if self.orientation:
            exif = Image.Exif()
            exif[0x0112] = self.orientation
            kwargs["exif"] = exif.tobytes()
        if self.icc:
            kwargs["icc_profile"] = _icc(self.icc)
        if self.fmt == "mpo":  # a stereo pair: two JPEG frames
            kwargs.update(
                save_all=True, append_images=[im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
            )
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.save(buf, WRITERS[self.fmt], **kwargs)
        return buf.getvalue()


def _pixels(mode: str, size: tuple[int, int]) -> Image.Image:
    """A gradient in each channel (so no encoder sees a flat image) and an
    alpha channel that is not opaque everywhere."""
    g = Image.linear_gradient("L").resize(size)
    rgb = Image.merge("RGB", (g, g.transpose(Image.Transpose.FLIP_TOP_BOTTOM), g.point(_ramp)))
    alpha = g.transpose(Image.Transpose.ROTATE_180)
    if mode in ("LA", "La"):
        im = rgb.convert("L")
        im.putalpha(alpha)
        return im.convert(mode)
    if mode in ("RGBA", "RGBa"):
        im = rgb.copy()
        im.putalpha(alpha)
        return im.convert(mode)
    if mode == "PA":
        im = rgb.convert("P")
        return im.convert("PA")
    return rgb.convert(mode)


def _ramp(v: int) -> int:
    return (v * 7) % 256


@functools.cache
def _icc(kind: str) -> bytes:
    if kind == "srgb":
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    if kind == "adobe":
        from conftest import DATA

        return (DATA / "icc" / "compatibleWithAdobeRGB1998.icc").read_bytes()
    return b"not an ICC profile at all" * 4


@functools.cache
def writable() -> tuple[tuple[str, str], ...]:
    """(format, mode) pairs Pillow can write and read back, found by trying."""
    pairs = []
    for fmt in WRITERS:
        for mode in MODES:
            try:
                data = Shape(fmt, 5, 3, mode).build()
                with pillow_unlimited(), Image.open(io.BytesIO(data)) as im:
                    im.load()
            except Exception:  # noqa: BLE001 - the writer refuses that mode
                continue
            pairs.append((fmt, mode))
    return tuple(pairs)


@st.composite
def shapes(draw, budget: int = PIXEL_BUDGET) -> Shape:
    fmt, mode = draw(st.sampled_from(writable()))
    side = st.one_of(st.sampled_from(EDGES), st.integers(1, 70_000))
    width, height = draw(side), draw(side)
    # Keep the longer side (where the limits are) and shrink the other.
    if width * height > budget:
        if width >= height:
            height = max(1, budget // width)
        else:
            width = max(1, budget // height)
    cap = INPUT_MAX_SIDE.get(fmt)
    if cap is not None:
        width, height = min(width, cap), min(height, cap)
    transparency = mode == "P" and fmt in ("png", "gif") and draw(st.booleans())
    orientation = icc = None
    if fmt in CARRIES_METADATA:
        orientation = draw(st.one_of(st.none(), st.integers(1, 8)))
        icc = draw(st.sampled_from([None, "srgb", "adobe", "junk"]))
    return Shape(fmt, width, height, mode, transparency, orientation, icc)


@contextlib.contextmanager
def pillow_unlimited():
    """`process()` sets Pillow's global MAX_IMAGE_PIXELS from its config; the
    tests' own decoding must not depend on which test ran before."""
    before, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def source_facts(data: bytes) -> tuple[tuple[int, int], int]:
    """What Pillow itself reads from `data`: the upright size and orientation."""
    with pillow_unlimited(), Image.open(io.BytesIO(data)) as im:
        im.load()
        orientation = im.getexif().get(0x0112, 1)
        if not (isinstance(orientation, int) and 1 <= orientation <= 8):
            orientation = 1
        size = im.size[::-1] if orientation in (5, 6, 7, 8) else im.size
    return size, orientation


def check_processed(result: Processed, config: Config, upright: tuple[int, int]) -> None:
    """Every output opens, fits its format's limits and its variant's box,
    keeps the source's aspect ratio to within rounding, and is no smaller
    than the tightest of those bounds requires."""
    src_w, src_h = upright
    assert (result.source_width, result.source_height) == upright
    by_variant = {v.name: v for v in config.variants}
    want = [(v.name, f) for v in config.variants for f in v.formats]
    assert [(o.variant, o.format) for o in result.outputs] == want
    for out in result.outputs:
        variant = by_variant[out.variant]
        with pillow_unlimited(), Image.open(io.BytesIO(out.data)) as im:
            im.load()
            assert im.format == out.format.upper(), out
            assert im.size == (out.width, out.height), out
        side_limit = min(LIMITS[f][0] for f in variant.formats)
        pixel_limits = [LIMITS[f][1] for f in variant.formats if LIMITS[f][1]]
        assert max(out.width, out.height) <= LIMITS[out.format][0]
        if LIMITS[out.format][1]:
            assert out.width * out.height <= LIMITS[out.format][1]
        box_w = min(variant.width or side_limit, side_limit)
        box_h = min(variant.height or side_limit, side_limit)
        assert out.width <= min(src_w, box_w) and out.height <= min(src_h, box_h), out
        if src_w >= src_h:
            assert abs(out.height - src_h * out.width / src_w) <= 1, (out, upright)
        else:
            assert abs(out.width - src_w * out.height / src_h) <= 1, (out, upright)
        if (out.width, out.height) != (src_w, src_h) and not pixel_limits:
            # scaled down: then as far as the box allows, not further
            assert out.width == box_w or out.height == box_h, (out, upright, box_w, box_h)
    sizes = {}
    for out in result.outputs:
        assert sizes.setdefault(out.variant, (out.width, out.height)) == (out.width, out.height)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's (type, data) chunks, in order; CRCs dropped."""
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG from (type, data) chunks, every CRC correct."""
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        out.append(struct.pack(">I", len(body)) + kind + body)
        out.append(struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)
