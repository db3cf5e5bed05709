"""Encoders for the output formats, with nothing carried over from the upload.

Pillow copies `info` (EXIF, XMP, ICC, comments) from image to image and some
of its writers save whatever `info` holds. The outputs must never carry the
uploader's GPS position or camera serials, so `info` is emptied and every
metadata argument is passed explicitly empty: clean by construction, not by
accident of how one Pillow version saves.
"""

from __future__ import annotations

import io

from PIL import Image

from .config import Encoder

# The largest output each encoder writes *and* its usual decoder opens:
# (pixels per side, pixels in all). libwebp stops at 16383 px per side
# (WEBP_MAX_DIMENSION); libjpeg(-turbo) at 65500 (JPEG_MAX_DIMENSION); the
# AV1 encoder accepts 65536 but libavif's decoder (browsers, Pillow) refuses
# more than 32768 per side or 16384*16384 pixels in all
# (AVIF_DEFAULT_IMAGE_DIMENSION_LIMIT, AVIF_DEFAULT_IMAGE_SIZE_LIMIT);
# PNG's own limit is 2**31 - 1. The pipeline scales variants to fit.
LIMITS = {
    "jpeg": (65_500, None),
    "webp": (16_383, None),
    "avif": (32_768, 16_384 * 16_384),
    "png": (2**31 - 1, None),
}


def limits(formats: tuple[str, ...]) -> tuple[int, int | None]:
    """The tightest (side, pixels) limit shared by `formats`."""
    side = min(LIMITS[f][0] for f in formats)
    caps = [LIMITS[f][1] for f in formats if LIMITS[f][1] is not None]
    return side, min(caps) if caps else None


def encode(im: Image.Image, fmt: str, quality: int, opts: Encoder) -> bytes:
    original_info, im.info = im.info, {}
    try:
        return _save(im, fmt, quality, opts)
    finally:
        im.info = original_info


def _save(im: Image.Image, fmt: str, quality: int, opts: Encoder) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        if im.mode not in ("RGB", "L"):
            raise ValueError(f"JPEG needs RGB or L, got {im.mode}")
        im.save(
            buf,
            "JPEG",
            quality=quality,
            optimize=opts.jpeg_optimize,
            progressive=opts.jpeg_progressive,
            exif=b"",
            icc_profile=None,
            comment=b"",
        )
    elif fmt == "webp":
        im.save(
            buf, "WEBP", quality=quality, method=opts.webp_method, exif=b"", xmp=b"", icc_profile=""
        )
    elif fmt == "avif":
        im.save(
            buf, "AVIF", quality=quality, speed=opts.avif_speed, exif=b"", xmp=b"", icc_profile=b""
        )
    elif fmt == "png":
        im.save(buf, "PNG", compress_level=quality, pnginfo=None)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return buf.getvalue()
