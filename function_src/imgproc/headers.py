"""Image size from the first bytes of WebP, AVIF and HEIF files.

Why: Pillow's WebP and AVIF openers and pillow-heif hand the whole file to
their library before they report a size, so the handler's first, ranged GET
(`fc_handler.handle.HEADER_BYTES`) could not refuse an oversized one without
downloading it all. These containers state the size near their start:
- WebP (RIFF): the VP8X chunk's canvas, else the VP8 key frame's or the
  VP8L bitstream's own header;
- AVIF and HEIF (ISO BMFF): the `ispe` (image spatial extents) properties
  in the `meta` box; the largest one is the primary image's (a grid's
  tiles and a thumbnail are smaller).
Nothing here decides that the file is valid: a size found only lets the
handler refuse early; anything else is left to the decoder, with every byte.
"""

from __future__ import annotations

import struct


def size(kind: str, head: bytes) -> tuple[int, int] | None:
    """(width, height) stated in `head` for a `kind` of "webp", "avif" or
    "heif", or None when it is not there."""
    if kind == "webp":
        return _webp(head)
    if kind in ("avif", "heif"):
        return _ispe(head)
    return None


def _webp(head: bytes) -> tuple[int, int] | None:
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk, body = head[12:16], head[20:]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(body[4:7], "little")
        height = 1 + int.from_bytes(body[7:10], "little")
        return width, height
    if chunk == b"VP8L" and body[:1] == b"\x2f":
        bits = int.from_bytes(body[1:5], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _ispe(head: bytes) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    at = head.find(b"ispe")
    while at >= 4:
        box = head[at - 4 : at + 16]
        if len(box) == 20 and int.from_bytes(box[:4], "big") == 20:
            width, height = struct.unpack(">II", box[12:20])
            if width and height and (best is None or width * height > best[0] * best[1]):
                best = (width, height)
        at = head.find(b"ispe", at + 4)
    return best
