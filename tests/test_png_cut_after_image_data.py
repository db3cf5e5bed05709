"""A PNG cut short after its image data: the same answer from either decoder.

`pngdecode.eligible` sends a PNG to libvips only while nothing but image
data lies between its first IDAT and IEND; it walks the chunk headers that
fit in the file (`integrity.png_chunks`). Pillow, which decodes the rest,
accepts a file that ends anywhere after the last IDAT's CRC (IEND missing
or cut, a later chunk's header cut) but refuses one that announces a later
chunk with a whole header and ends inside its body ("Truncated File Read";
a cut in its CRC Pillow lets pass, as it does a cut in IEND).
So where the file ends decides, byte by byte, which decoder reads it, and
the upload must get the same variants, or the same rejection, either way:
the decoder is an implementation detail a user never chose.

Cut at every byte from the end of the image data to the end of the file,
with and without a text chunk after the image data; each cut is processed
with libvips available and with Pillow alone.
"""

from __future__ import annotations

import io
import random

import pytest
from imagegen import png_chunks, png_from_chunks
from PIL import Image

from imgproc import Rejection, default_config, pngdecode, process

CFG = default_config()


def _photo_png() -> list[tuple[bytes, bytes]]:
    rng = random.Random(27)
    im = Image.frombytes("RGB", (48, 40), bytes(rng.randrange(256) for _ in range(48 * 40 * 3)))
    out = io.BytesIO()
    im.save(out, "PNG")
    return png_chunks(out.getvalue())


def _outcome(data: bytes) -> tuple:
    """What the upload gets: each variant's bytes, or the rejection's reason."""
    try:
        done = process(data, CFG)
    except Rejection as exc:
        return ("rejected", exc.reason)
    return ("done", tuple((o.variant, o.format, o.data) for o in done.outputs))


@pytest.mark.parametrize("late", [[], [(b"tEXt", b"Comment\x00cut here")]], ids=["iend", "text"])
def test_every_cut_after_the_image_data_gets_one_answer(monkeypatch, late):
    assert pngdecode.available()  # pyvips-binary is in requirements/function.txt
    chunks = [*[c for c in _photo_png() if c[0] != b"IEND"], *late, (b"IEND", b"")]
    whole = png_from_chunks(chunks)
    image_end = len(png_from_chunks([c for c in chunks if c[0] not in (b"tEXt", b"IEND")]))
    cuts = range(image_end, len(whole) + 1)

    with_vips = {n: _outcome(whole[:n]) for n in cuts}
    monkeypatch.setattr(pngdecode, "available", lambda: False)
    with_pillow = {n: _outcome(whole[:n]) for n in cuts}

    differ = [n - image_end for n in cuts if with_vips[n] != with_pillow[n]]
    assert differ == [], f"bytes after the image data where the decoders disagree: {differ}"
    # Both answers occur where a later chunk's whole header announces a body
    # the file no longer holds: refused (Pillow's "Truncated File Read").
    refused = sorted(n - image_end for n in cuts if with_pillow[n][0] == "rejected")
    if late:
        body = len(late[0][1])
        assert refused == list(range(8, 8 + body)), refused  # header whole, body cut
        assert {with_pillow[image_end + n] for n in refused} == {("rejected", "corrupt")}
    else:
        assert refused == []
    assert with_pillow[len(whole)][0] == "done"
