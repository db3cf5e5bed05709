"""Small, pure image functions in the spirit of Pillow's `ImageOps`.

Each takes an image and returns a new one (or the same object when there is
nothing to do); none reads files or configuration. The order the pipeline
calls them in is what makes it fast: geometry first on the decoded pixels,
then colour, orientation and compositing on the already-small result.
"""

from __future__ import annotations

import functools
import io
import math
import warnings

from PIL import Image, ImageCms

# EXIF orientation -> the transpose that undoes it (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SWAPS_AXES = frozenset({5, 6, 7, 8})
# Formats whose EXIF orientation can be read before decoding the pixels: the
# pipeline reads it first for these so libjpeg can decode at reduced scale.
EXIF_IN_HEADER = frozenset({"JPEG", "MPO"})

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_LAB = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))


def fit_size(
    width: int,
    height: int,
    max_width: int | None,
    max_height: int | None,
    *,
    max_pixels: int | None = None,
) -> tuple[int, int]:
    """The size that fits (width, height) inside the box, never upscaling.

    Both sides scale by the same factor, so the aspect ratio is kept to
    within rounding; a side that would round to 0 px is 1 px (a 2000x2
    divider line's 150 px variant is 150x1). `max_pixels` caps the area
    too (AVIF's decoders refuse more than 16384*16384 pixels), whatever the
    shape: where a side is held at 1 px, the other is shortened to fit.
    """
    scale = 1.0
    if max_width is not None:
        scale = min(scale, max_width / width)
    if max_height is not None:
        scale = min(scale, max_height / height)
    if max_pixels is not None and width * height > max_pixels:
        scale = min(scale, math.sqrt(max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    size = max(1, round(width * scale)), max(1, round(height * scale))
    if max_pixels is not None and size[0] * size[1] > max_pixels:  # rounded up past it
        w, h = max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
        # Floored, the area is within the cap unless a side was held at 1 px
        # (a 2x300 strip capped at 100 px: 1x122); then the other side gives way.
        size = (w, min(h, max_pixels // w)) if w <= h else (min(w, max_pixels // h), h)
    return size


def orientation_of(im: Image.Image) -> int:
    """EXIF (or XMP) orientation, 1 when absent or unreadable.

    Call it on decoded pixels, or on a JPEG (its EXIF is in the header):
    PNG's `getexif()` decodes the pixels to find an eXIf chunk after them,
    and a decoder error there would be swallowed below, leaving half an
    image that a later `load()` finds nothing to do for.
    """
    if im.format not in EXIF_IN_HEADER and getattr(im, "tile", None):
        msg = f"orientation_of() on an undecoded {im.format} image would decode it unchecked"
        raise RuntimeError(msg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" is not our concern
            value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - broken EXIF must not reject a good photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def to_8bit(im: Image.Image) -> Image.Image:
    """Bring any decoded mode to one the resampler and encoders share.

    16-bit and 32-bit greys are scaled (a plain `convert("L")` clips them to
    white); palettes are expanded so resampling blends colours, keeping alpha
    when the palette has transparency; Lab goes to sRGB here, before any
    resampling, because its a/b channels are signed.
    """
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:  # PNG tRNS colour key
        return im.convert("RGBA")
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return im
    if mode.startswith("I;16") or mode == "I":
        return _banded(im, "L", _deep_grey_to_l)
    if mode in ("1", "F"):
        return im.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "LAB":
        return ImageCms.applyTransform(im, _lab_transform())
    if mode == "La":
        return im.convert("LA")
    if mode == "RGBa":
        return im.convert("RGBA")
    if mode == "RGBX":
        return im.convert("RGB")
    return im.convert("RGB")  # YCbCr, HSV and anything else Pillow can convert


# Pixels per band when a full-size conversion is done band by band (`_banded`,
# `_premultiplied_box`): 1 MiB of 32-bit pixels, so the band's temporary
# copies are small against the image and the per-band calls few (100 per
# 100 MP image).
BAND_PIXELS = 1 << 18


def _deep_grey_to_l(band: Image.Image) -> Image.Image:
    """16- or 32-bit grey to 8 bits, 0-65535 scaled to 0-255 and rounded."""
    return band.convert("I").point(lambda v: v * (1 / 257) + 0.5).convert("L")


def _banded(im: Image.Image, mode: str, convert) -> Image.Image:
    """`convert(im)` computed a band of rows at a time into one new image.

    For conversions whose intermediate steps are wider than their result
    (16-bit grey -> 32-bit -> 32-bit -> 8-bit): converting the whole image
    at once held two full-size 32-bit copies beside the source (763 of the
    1,000 MiB peak of a 100 MP 16-bit PNG, issue 22); here only the source,
    the result and one band's copies are alive. Row-local conversions give
    the very same pixels band by band.
    """
    out = Image.new(mode, im.size)
    rows = max(1, BAND_PIXELS // max(1, im.width))
    for top in range(0, im.height, rows):
        box = (0, top, im.width, min(im.height, top + rows))
        out.paste(convert(im.crop(box)), box)
    return out


def resize(
    im: Image.Image, size: tuple[int, int], *, prefiltered: bool = False, box_first: bool = False
) -> Image.Image:
    """High-quality downscale; a box pre-reduction keeps large ratios cheap.

    `prefiltered`: the pixels were already scaled down by the JPEG decoder
    (DCT scaling low-passes them), so a residual step below 2x uses
    BICUBIC, 40% cheaper than LANCZOS. Measured on the 24 MP benchmark photo
    against LANCZOS from the full-size original: 50.7 dB PSNR for BICUBIC,
    52.3 dB for LANCZOS, both far beyond what anyone can see.

    `box_first`: the first step from full-size pixels that no decoder could
    shrink (PNG, WebP, TIFF...) averages whole blocks of pixels first (a box
    filter by the integer part of the ratio) and leaves the resampler less
    than 2x, as libvips' thumbnail does after shrink-on-load. On the 6 MP RGBA
    benchmark PNG (3000 -> 1200 px) that is 47 ms instead of 115 ms, at
    54.6 dB PSNR against LANCZOS all the way. The residual step after a box
    step is BICUBIC: a box average has already low-passed the pixels, and on
    the same photo BICUBIC takes 19.6 ms where LANCZOS takes 24.6, at
    53.2 vs 53.3 dB against LANCZOS all the way (`tests/bench_resample.py`).

    RGBA and LA are premultiplied here rather than by `Image.resize`, which
    premultiplies too but then drops `reducing_gap` (Pillow 12), so large
    transparent PNGs were resampled at full size. The premultiplication and
    the box step go band by band (`_premultiplied_box`), so no full-size
    premultiplied copy is ever made.
    """
    if im.size == size:
        return im
    if prefiltered and im.width < 2 * size[0] and im.height < 2 * size[1]:
        return im.resize(size, Image.Resampling.BICUBIC)
    gap = 1.0 if box_first else 3.0
    boxed = box_first and im.width >= 2 * size[0] and im.height >= 2 * size[1]
    method = Image.Resampling.BICUBIC if boxed else Image.Resampling.LANCZOS
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(im.mode)
    if premultiplied is None:
        return im.resize(size, method, reducing_gap=gap)
    reduced, box = _premultiplied_box(im, premultiplied, size, gap)
    return reduced.resize(size, method, box=box).convert(im.mode)


def _premultiplied_box(
    im: Image.Image, premultiplied: str, size: tuple[int, int], gap: float
) -> tuple[Image.Image, tuple[float, float, float, float] | None]:
    """`im` premultiplied and box-reduced as `resize(size, reducing_gap=gap)`
    would reduce it, a band of rows at a time, and the box of the reduced
    image that the residual resize resamples (None: all of it).

    The same pixels as `im.convert(premultiplied).resize(size, reducing_gap=gap)`
    (tests/test_processor_memory.py compares every byte): Pillow reduces the
    whole image when the filter support covers it (`_get_safe_box`), bands
    start on multiples of the vertical factor so every block is whole in one
    band, and the residual step resamples the same fractional box. What it
    saves is the full-size premultiplied copy: 379 of the 828 MiB peak of a
    100 MP RGBA PNG (issue 22).
    """
    width, height = im.size
    fx = int(width / size[0] / gap) or 1
    fy = int(height / size[1] / gap) or 1
    if fx == 1 and fy == 1:  # no box step: under 2x (or 2 gaps) larger than the target
        return im.convert(premultiplied), None
    reduced = Image.new(premultiplied, (-(-width // fx), -(-height // fy)))
    rows = max(1, BAND_PIXELS // width // fy) * fy
    for top in range(0, height, rows):
        band = im.crop((0, top, width, min(height, top + rows))).convert(premultiplied)
        reduced.paste(band.reduce((fx, fy)), (0, top // fy))
    return reduced, (0.0, 0.0, width / fx, height / fy)


def to_srgb(im: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Colour-manage into sRGB (RGB or RGBA), keeping any alpha channel.

    An embedded profile is honoured when it matches the pixel data; a profile
    that lcms cannot parse, or that belongs to another colour space, is
    ignored rather than rejecting the photo. CMYK without a profile uses
    Pillow's conversion (measured closer to the sRGB truth on the corpus than
    a generic SWOP profile; see README).
    """
    if not icc_profile and im.mode in ("RGB", "RGBA"):
        return im  # already sRGB as far as anyone can tell
    alpha = None
    colour = im
    if im.mode in ("RGBA", "LA"):
        alpha = im.getchannel("A")
        colour = im.convert("RGB" if im.mode == "RGBA" else "L")
    if icc_profile:
        transform = _transform_for(icc_profile, colour.mode)
        if transform is not None:
            colour = ImageCms.applyTransform(colour, transform)
    if colour.mode != "RGB":
        colour = colour.convert("RGB")
    if alpha is not None:
        colour.putalpha(alpha)
    return colour


def drop_opaque_alpha(im: Image.Image) -> Image.Image:
    """RGBA whose alpha is 255 everywhere becomes RGB (smaller outputs)."""
    if im.mode == "RGBA" and im.getchannel("A").getextrema() == (255, 255):
        return im.convert("RGB")
    return im


def flatten(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Composite alpha onto a solid background (for JPEG, which has none)."""
    if im.mode != "RGBA":
        return im
    base = Image.new("RGB", im.size, background)
    base.paste(im, mask=im.getchannel("A"))
    return base


@functools.lru_cache(maxsize=1)
def _lab_transform() -> ImageCms.ImageCmsTransform:
    return ImageCms.buildTransform(_LAB, _SRGB, "LAB", "RGB")


@functools.lru_cache(maxsize=32)
def _transform_for(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached profile->sRGB transform, or None when the profile is unusable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        return ImageCms.buildTransform(
            source,
            _SRGB,
            mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
