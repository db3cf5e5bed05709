"""Recognise an upload by its first bytes, never by its name.

Extensions lie (a `.jpg` that is a PNG, a `.png` that is an HTML error
page). Looking at magic numbers first rejects non-images in microseconds and
restricts Pillow to the one decoder that should handle the bytes, so a
crafted file cannot reach an obscure plugin through format guessing.
"""

from __future__ import annotations

# Pillow plugin names each sniffed kind may be opened with.
PILLOW_FORMATS = {
    "jpeg": ("JPEG", "MPO"),
    "png": ("PNG",),
    "gif": ("GIF",),
    "webp": ("WEBP",),
    "tiff": ("TIFF",),
    "bmp": ("BMP",),
    "avif": ("AVIF",),
    "heif": ("HEIF",),
}

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def sniff(head: bytes) -> str | None:
    """Return the kind of image in `head` (the first 64+ bytes), or None."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[4:8] == b"ftyp":
        return _isobmff_kind(head)
    return None


def _isobmff_kind(head: bytes) -> str | None:
    """AVIF or HEIF from the `ftyp` box's major and compatible brands."""
    box_size = int.from_bytes(head[0:4], "big")
    end = min(len(head), box_size if box_size >= 16 else 16)
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    if major in _AVIF_BRANDS or (major in (b"mif1", b"msf1") and brands & _AVIF_BRANDS):
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heif"
    if brands & _AVIF_BRANDS:
        return "avif"
    return None
