"""A text or logo watermark blended with real alpha.

The reference design drew its "semi-transparent" text by writing RGBA values
straight into the pixels, which replaces them: opaque white in the JPEG and
a half-transparent hole in the WebP. Here the text is rendered into its own
alpha mask and composited over the picture, so every text pixel ends up
between the text colour and what was underneath.

A logo (`watermark.image`, a PNG with alpha shipped in the package) is
scaled to a fraction of the variant's shorter side and blended the same way,
its own alpha times the opacity. Either stamp goes at one of nine positions
or is tiled over the picture.

The font is the scalable Aileron face that Pillow (>= 10.1) embeds in
itself: it travels inside the deployment package with Pillow, and the FC
runtime has no system fonts to fall back on.
"""

from __future__ import annotations

import functools

from PIL import Image, ImageDraw, ImageFont

from .config import Watermark


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(size=size)
    if not isinstance(font, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow without FreeType
        raise RuntimeError("Pillow was built without FreeType; the watermark needs it")
    return font


def applies(wm: Watermark, width: int) -> bool:
    return wm.enabled and width >= wm.min_width


def apply(im: Image.Image, wm: Watermark) -> Image.Image:
    """Return a copy of `im` (RGB or RGBA) with the watermark composited.

    The stamp (the logo, or else the text) is placed at one of the nine
    positions, a margin in from the edges, or repeated over the picture
    ("tiled"). A picture too small to hold one stamp is left clean.
    """
    layout = _layout(wm, im.size)
    if layout is None:
        return im
    layer, spots = layout
    out = im.copy()
    for x, y in spots:
        box = (x, y, x + layer.width, y + layer.height)
        region = im.crop(box).convert("RGBA")
        region.alpha_composite(layer)
        out.paste(region if im.mode == "RGBA" else region.convert(im.mode), box)
    return out


def stamp_boxes(wm: Watermark, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Where `apply` puts the stamp on a picture of `size`: (left, top, right,
    bottom) each, [] when none fits. The demo report's browser test checks
    each is in view without scrolling (tests/test_demo_report.py)."""
    layout = _layout(wm, size)
    if layout is None:
        return []
    layer, spots = layout
    return [(x, y, x + layer.width, y + layer.height) for x, y in spots]


def _layout(
    wm: Watermark, size: tuple[int, int]
) -> tuple[Image.Image, list[tuple[int, int]]] | None:
    """The stamp and its top-left corners on a picture of `size`, or None."""
    stamp = _logo_stamp(wm, size) if wm.image else _text_stamp(wm, size)
    if stamp is None:
        return None
    layer, margin = stamp
    width, height = size
    if layer.width + 2 * margin > width or layer.height + 2 * margin > height:
        return None  # too small to carry the stamp legibly; leave it clean
    if wm.position == "tiled":
        return layer, _tiles(size, layer.size, margin)
    return layer, [_place(wm.position, size, layer.size, margin)]


def _text_stamp(wm: Watermark, canvas: tuple[int, int]) -> tuple[Image.Image, int] | None:
    size = max(8, round(min(canvas) * wm.relative_size))
    font = _font(size)
    stroke = max(1, size // 16)
    left, top, right, bottom = font.getbbox(wm.text, stroke_width=stroke)
    text_w, text_h = right - left, bottom - top
    if text_w <= 0 or text_h <= 0:
        return None
    alpha = round(255 * wm.opacity)
    # A dark outline keeps white text readable on light areas of the photo.
    outline = (0, 0, 0) if sum(wm.colour) > 382 else (255, 255, 255)
    layer = Image.new("RGBA", (text_w, text_h), (*wm.colour, 0))
    ImageDraw.Draw(layer).text(
        (-left, -top),
        wm.text,
        font=font,
        fill=(*wm.colour, alpha),
        stroke_width=stroke,
        stroke_fill=(*outline, alpha // 2),
    )
    return layer, max(4, size // 2)


@functools.lru_cache(maxsize=4)
def _logo(path: str, sha256: str) -> Image.Image:
    """The logo as RGBA, read once per instance (the hash keys a replaced file)."""
    with Image.open(path) as im:
        return im.convert("RGBA")


@functools.lru_cache(maxsize=32)
def _scaled_logo(path: str, sha256: str, size: tuple[int, int], opacity: float) -> Image.Image:
    # Pillow resizes RGBA premultiplied, so transparent pixels' colour does
    # not bleed into the logo's edges.
    logo = _logo(path, sha256).resize(size, Image.Resampling.LANCZOS)
    if opacity < 1:
        alpha = logo.getchannel("A").point(lambda v: round(v * opacity))
        logo.putalpha(alpha)
    return logo


def _logo_stamp(wm: Watermark, canvas: tuple[int, int]) -> tuple[Image.Image, int] | None:
    logo = _logo(str(wm.logo_path()), wm.image_sha256)
    longest = max(1, round(min(canvas) * wm.image_scale))
    scale = longest / max(logo.size)
    size = (max(1, round(logo.width * scale)), max(1, round(logo.height * scale)))
    layer = _scaled_logo(str(wm.logo_path()), wm.image_sha256, size, wm.opacity)
    return layer, logo_margin(canvas)


def logo_margin(canvas: tuple[int, int]) -> int:
    """A logo's distance from the edges: 2% of the shorter side, at least 4 px."""
    return max(4, round(min(canvas) * 0.02))


def _place(
    position: str, canvas: tuple[int, int], text: tuple[int, int], margin: int
) -> tuple[int, int]:
    (cw, ch), (tw, th) = canvas, text
    xs = {"left": margin, "right": cw - tw - margin, "center": (cw - tw) // 2}
    ys = {"top": margin, "bottom": ch - th - margin, "center": (ch - th) // 2}
    if position == "center":
        return xs["center"], ys["center"]
    vertical, horizontal = position.split("-")
    return xs[horizontal], ys[vertical]


def _tiles(canvas: tuple[int, int], stamp: tuple[int, int], margin: int) -> list[tuple[int, int]]:
    """Stamps on a grid one stamp's size apart, as many as fit inside the
    margins, the grid centred so the picture's edges get equal space."""

    def axis(length: int, size: int) -> list[int]:
        step = 2 * size
        count = (length - 2 * margin - size) // step + 1  # >= 1: apply() checked one fits
        start = (length - ((count - 1) * step + size)) // 2
        return [start + i * step for i in range(count)]

    (cw, ch), (sw, sh) = canvas, stamp
    return [(x, y) for y in axis(ch, sh) for x in axis(cw, sw)]
