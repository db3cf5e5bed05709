"""Where the watermark lands, for every position, measured on the output's pixels.

A flat picture is processed with the watermark at each configured position;
the box of pixels that changed is the text. Its distance to each edge is
compared with the margin the position promises: half the font size (font =
5% of the shorter side: 45 px on a 1200x900 variant, margin 22). "left" is the
viewer's left of the upright picture, also for a phone photo stored on its
side (EXIF orientation 6), because orientation is applied before the text.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from imgproc import parse_config, process
from imgproc.config import POSITIONS

BG = (40, 90, 160)


def flat_jpeg(size: tuple[int, int], orientation: int = 1) -> bytes:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.new("RGB", size, BG).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def text_box(position: str, source: bytes, width: int = 1200) -> tuple[tuple[int, int], tuple]:
    cfg = parse_config(
        {
            "variants": [{"name": "v", "width": width, "formats": ["png"]}],
            "watermark": {"text": "imgpipe", "position": position, "opacity": 0.8},
        }
    )
    (out,) = process(source, cfg).outputs
    im = Image.open(io.BytesIO(out.data)).convert("RGB")
    # JPEG noise on a flat source stays within a few levels; text is far brighter
    diff = ImageChops.difference(im, Image.new("RGB", im.size, BG)).convert("L")
    box = diff.point(lambda v: 255 if v > 24 else 0).getbbox()
    assert box is not None, f"{position}: no watermark found"
    return im.size, box


def gaps(size: tuple[int, int], box: tuple[int, int, int, int]) -> dict[str, int]:
    (w, h), (left, top, right, bottom) = size, box
    return {"left": left, "top": top, "right": w - right, "bottom": h - bottom}


@pytest.mark.parametrize("position", POSITIONS)
def test_each_position_puts_the_text_there(position):
    size, box = text_box(position, flat_jpeg((1600, 1200)))
    assert size == (1200, 900)
    g = gaps(size, box)
    margin = round(min(size) * 0.05) // 2  # 22: font 45 px at 5% of 900
    text_w, text_h = box[2] - box[0], box[3] - box[1]
    assert 100 < text_w < 400 and 20 < text_h < 80, box  # one line of "imgpipe"
    if position == "center":
        assert abs(g["left"] - g["right"]) <= 3 and abs(g["top"] - g["bottom"]) <= 3, g
        return
    vertical, horizontal = position.split("-")
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
    for edge, axis in ((vertical, 1), (horizontal, 0)):
        if edge == "center":  # centred on this axis (the ink, within a few pixels)
            pair = ("top", "bottom") if axis else ("left", "right")
            assert abs(g[pair[0]] - g[pair[1]]) <= 6, (position, g)
            continue
        # the glyphs' ink starts at most a few pixels inside the text's box
        assert margin <= g[edge] <= margin + 8, (position, edge, g)
        assert g[opposite[edge]] > size[axis] / 2, (position, g)


def test_bottom_right_of_the_upright_picture_on_a_rotated_phone_photo():
    # stored landscape 1600x1200, EXIF 6: the user sees a 900x1200 portrait
    size, box = text_box("bottom-right", flat_jpeg((1600, 1200), orientation=6), width=900)
    assert size == (900, 1200)
    g = gaps(size, box)
    assert g["right"] < 40 and g["bottom"] < 40, g
    assert g["left"] > 450 and g["top"] > 600, g


def test_no_watermark_leaves_the_picture_untouched():
    cfg = parse_config(
        {"variants": [{"name": "v", "width": 1200, "formats": ["png"]}], "watermark": None}
    )
    (out,) = process(flat_jpeg((1600, 1200)), cfg).outputs
    im = Image.open(io.BytesIO(out.data)).convert("RGB")
    diff = ImageChops.difference(im, Image.new("RGB", im.size, BG)).convert("L")
    assert diff.point(lambda v: 255 if v > 24 else 0).getbbox() is None


def _changed(source: bytes, width: int, watermark: dict, bg=BG) -> Image.Image | None:
    """The output where it differs from the flat background, or None if untouched."""
    cfg = parse_config(
        {"variants": [{"name": "v", "width": width, "formats": ["png"]}], "watermark": watermark}
    )
    (out,) = process(source, cfg).outputs
    im = Image.open(io.BytesIO(out.data)).convert("RGB")
    diff = ImageChops.difference(im, Image.new("RGB", im.size, bg)).convert("L")
    box = diff.point(lambda v: 255 if v > 24 else 0).getbbox()
    return im.crop(box) if box else None


def test_the_watermark_starts_at_min_width():
    source = flat_jpeg((1600, 1200))
    assert _changed(source, 600, {"min_width": 600}) is not None
    assert _changed(source, 599, {"min_width": 600}) is None


@pytest.mark.parametrize(
    ("size", "why"), [((1600, 40), "too short for the text"), ((120, 1600), "too narrow")]
)
def test_text_that_does_not_fit_leaves_the_picture_clean(size, why):
    wm = {"min_width": 0, "relative_size": 0.5}
    assert _changed(flat_jpeg(size), size[0], wm) is None, why
    # the same settings on a picture with room for the text: drawn (106x26 px)
    assert _changed(flat_jpeg((1600, 60)), 1600, wm) is not None


@pytest.mark.parametrize(("colour", "rgb"), [("#ffffff", (255, 255, 255)), ("#000000", (0, 0, 0))])
def test_text_stays_readable_on_a_picture_of_its_own_colour(colour, rgb):
    """The outline is the opposite of the text: white text on snow, black on night."""
    buf = io.BytesIO()
    Image.new("RGB", (1600, 1200), rgb).save(buf, "PNG")
    text = _changed(buf.getvalue(), 1200, {"colour": colour, "opacity": 1.0}, bg=rgb)
    assert text is not None, "the outline makes the text visible"
    lo, hi = min(min(p) for p in text.getdata()), max(max(p) for p in text.getdata())
    if rgb == (255, 255, 255):
        assert lo < 160  # a dark outline at half the text's opacity
    else:
        assert hi > 95  # a light one
