"""Checksums a format carries that Pillow does not verify.

A PNG stores a CRC-32 after every chunk. Pillow checks it for every chunk
except the image data (IDAT), and its zlib decoder stops once it has every
row, before the stream's own Adler-32 at the end: bytes flipped in transfer
inside IDAT decode to wrong rows without any error. libpng (and the browsers
built on it) refuse a critical chunk with a bad CRC; so do we. Checking
costs one CRC-32 pass over the compressed bytes, no decoding.

JPEG, WebP, GIF, TIFF and BMP carry no checksum over their pixel data:
damage there is found only when it breaks the decoder.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

_PNG_SIGNATURE_LENGTH = 8


def png_chunks(data: bytes) -> Iterator[tuple[int, bytes, int]]:
    """(offset, type, data length) of each PNG chunk whose 8-byte header fits.

    Only the headers are read; a chunk may still run past the end of `data`
    (a cut file): callers that read its body check `offset + 12 + length`.
    `pngdecode.eligible` walks the same chunks for their types.
    """
    view = memoryview(data)
    pos = _PNG_SIGNATURE_LENGTH
    while pos + 8 <= len(data):
        length = int.from_bytes(view[pos : pos + 4], "big")
        yield pos, bytes(view[pos + 4 : pos + 8]), length
        pos += 12 + length


def png_damage(data: bytes) -> str | None:
    """Where the first frame's image data fails its CRC, or None.

    Truncation is left to the decoder, which reports it; only IDAT chunks
    are checked (the first frame is all the pipeline decodes).
    """
    view = memoryview(data)
    seen_idat = False
    for pos, kind, length in png_chunks(data):
        end = pos + 8 + length
        if end + 4 > len(data):
            return None
        if kind == b"IDAT":
            seen_idat = True
            stored = int.from_bytes(view[end : end + 4], "big")
            if zlib.crc32(view[pos + 4 : end]) != stored:
                return f"image data (IDAT chunk at byte {pos}) fails its CRC: damaged in transfer?"
        elif seen_idat or kind == b"IEND":
            return None
    return None
