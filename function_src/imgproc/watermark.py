"""A text watermark blended with real alpha.

The reference design drew its "semi-transparent" text by writing RGBA values
straight into the pixels, which replaces them: opaque white in the JPEG and
a half-transparent hole in the WebP. Here the text is rendered into its own
alpha mask and composited over the picture, so every text pixel ends up
between the text colour and what was underneath.

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
    """Return a copy of `im` (RGB or RGBA) with the watermark composited."""
    width, height = im.size
    size = max(8, round(min(width, height) * wm.relative_size))
    font = _font(size)
    stroke = max(1, size // 16)
    left, top, right, bottom = font.getbbox(wm.text, stroke_width=stroke)
    text_w, text_h = right - left, bottom - top
    margin = max(4, size // 2)
    if text_w + 2 * margin > width or text_h + 2 * margin > height:
        return im  # too small to carry the text legibly; leave it clean

    x, y = _place(wm.position, (width, height), (text_w, text_h), margin)
    alpha = round(255 * wm.opacity)
    # A dark outline keeps white text readable on light areas of the photo.
    outline = (0, 0, 0) if sum(wm.colour) > 382 else (255, 255, 255)

    layer = Image.new("RGBA", (text_w, text_h), (*wm.colour, 0))
    draw = ImageDraw.Draw(layer)
    draw.text(
        (-left, -top),
        wm.text,
        font=font,
        fill=(*wm.colour, alpha),
        stroke_width=stroke,
        stroke_fill=(*outline, alpha // 2),
    )

    box = (x, y, x + text_w, y + text_h)
    region = im.crop(box).convert("RGBA")
    region.alpha_composite(layer)
    out = im.copy()
    out.paste(region if im.mode == "RGBA" else region.convert(im.mode), box)
    return out


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
