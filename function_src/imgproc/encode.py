"""Encoders for the output formats, with nothing carried over from the upload.

Pillow copies `info` (EXIF, XMP, ICC, comments) from image to image and some
of its writers save whatever `info` holds. The outputs must never carry the
uploader's GPS position or camera serials, so `info` is emptied and every
metadata argument is passed explicitly empty: clean by construction, not by
accident of how one Pillow version saves. The one exception is what
`metadata.keep` names (`kept_exif`): a fresh EXIF block holding only those
IFD0 text fields, built here, never the upload's block with parts removed.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from .config import KEEPABLE_EXIF, Encoder

# Longest kept text field, in bytes: enough for any real copyright line, and
# an upload cannot make every output carry 64 KiB of "artist".
MAX_KEPT_BYTES = 1000

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


def kept_exif(im: Image.Image, keep: tuple[str, ...]) -> bytes:
    """A new EXIF block with only the `keep` fields of `im`'s EXIF, or b"".

    Call it on decoded pixels (see `ops.orientation_of`). Unreadable EXIF,
    a field that is not text, or one that is empty is left out: keeping
    metadata is best effort and never rejects a good photo. Orientation is
    never copied: the outputs are already turned upright.
    """
    if not keep:
        return b""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data"
            source = im.getexif()
    except Exception:  # noqa: BLE001 - broken EXIF must not reject a good photo
        return b""
    out = Image.Exif()
    for name in keep:
        tag = KEEPABLE_EXIF[name]
        value = source.get(tag)
        # Pillow reads EXIF text as Latin-1, which gives back the stored bytes
        # unchanged; written back as bytes they stay as they were (a UTF-8
        # "©" included). As a str, Pillow's writer would make it "?".
        raw = value.encode("latin-1", "replace") if isinstance(value, str) else value
        if not isinstance(raw, bytes):
            continue
        raw = raw.replace(b"\x00", b"").strip()
        if len(raw) > MAX_KEPT_BYTES:  # cut on a character boundary when it is UTF-8
            cut = raw[:MAX_KEPT_BYTES]
            raw = cut.decode("utf-8", "ignore").encode() if _is_utf8(raw) else cut
        if raw:
            out[tag] = raw
    return out.tobytes() if len(out) else b""


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def encode(im: Image.Image, fmt: str, quality: int, opts: Encoder, *, exif: bytes = b"") -> bytes:
    """Encode `im` with no metadata but `exif` (from `kept_exif`, usually empty)."""
    original_info, im.info = im.info, {}
    try:
        return _save(im, fmt, quality, opts, exif)
    finally:
        im.info = original_info


def _save(im: Image.Image, fmt: str, quality: int, opts: Encoder, exif: bytes = b"") -> bytes:
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
            exif=exif,
            icc_profile=None,
            comment=b"",
        )
    elif fmt == "webp":
        im.save(
            buf,
            "WEBP",
            quality=quality,
            method=opts.webp_method,
            exif=exif,
            xmp=b"",
            icc_profile="",
        )
    elif fmt == "avif":
        im.save(
            buf,
            "AVIF",
            quality=quality,
            speed=opts.avif_speed,
            exif=exif,
            xmp=b"",
            icc_profile=b"",
        )
    elif fmt == "png":
        if exif:
            im.save(buf, "PNG", compress_level=quality, pnginfo=None, exif=exif)
        else:
            im.save(buf, "PNG", compress_level=quality, pnginfo=None)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return buf.getvalue()
