"""The demo's samples, drawn at demo time: real sizes, no binaries in the repository.

Each is what users actually upload, at the size they upload it, so the
demo shows what the processor does with real work (a 12 MP decode, a
watermark on the large variant, a tall page that must not be cropped):

- `camera/IMG_4032.jpg`: a 12 MP (4000x3000) camera JPEG stored on its
  side with EXIF orientation 6, GPS coordinates, a camera serial number and
  a capture date: the variants must come out upright with none of that.
- `design/logo.png`: a 2400x2400 RGBA PNG logo on a transparent background:
  the JPEG variants get the background colour, the WebP ones keep alpha.
- `screenshots/settings-tall.png`: a 1170x6000 phone full-page screenshot:
  fitted by width, never cropped.
- `print/brochure-cmyk.jpg`: an A5 page at 300 dpi (1748x2480) in CMYK, as
  a print shop sends it: converted to sRGB.
- `broken/truncated.jpg`: the photo cut off after its first 40 KB.
- `broken/not-a-photo.jpg`: an HTML page saved with a .jpg name.
- `notes.txt`: a text file the EventBridge pattern never routes.

Provenance: everything is drawn here with Pillow from fixed numbers (no
randomness, no fonts but Pillow's own), so the same Pillow gives the same
bytes on every run, and nothing here comes from elsewhere.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


@dataclass(frozen=True)
class Sample:
    name: str  # the key under the source prefix
    why: str  # what it shows, one line
    draw: Callable[[], bytes]


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def _vertical(size: tuple[int, int], top: tuple, bottom: tuple) -> Image.Image:
    """A top-to-bottom gradient between two RGB colours."""
    w, h = size
    ramp = Image.linear_gradient("L").resize((w, h))
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), ramp)


def _jpeg(im: Image.Image, **kw) -> bytes:

    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=kw.pop("quality", 90), **kw)
    return buf.getvalue()


def _png(im: Image.Image) -> bytes:

    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def photo_upright() -> Image.Image:
    """The camera photo as the viewer should see it: 3000 wide, 4000 tall.

    Sky at the top, a sun top right, hills and a lake below and a label
    "UP": a variant shown on its side is obvious at a glance."""
    w, h = 3000, 4000
    im = _vertical((w, h), (40, 110, 200), (190, 220, 245))
    # detail a JPEG encoder has to work for: a Mandelbrot texture, faint
    texture = Image.effect_mandelbrot((375, 500), (-2.2, -1.6, 1.0, 1.6), 60)
    texture = texture.resize((w, h), Image.Resampling.BICUBIC).convert("RGB")
    im = Image.blend(im, texture, 0.18)
    d = ImageDraw.Draw(im)
    d.ellipse((2150, 350, 2650, 850), fill=(255, 214, 90))
    d.polygon([(0, 2500), (700, 1700), (1400, 2300), (2100, 1500), (3000, 2400), (3000, 4000),
               (0, 4000)], fill=(60, 120, 70))  # fmt: skip
    d.rectangle((0, 3000, w, h), fill=(40, 90, 150))
    d.text((200, 200), "UP", fill=(255, 255, 255), font=_font(400))
    d.text((200, 3300), "IMG_4032  orientation 6", fill=(255, 255, 255), font=_font(120))
    return im


@functools.cache  # drawn once: the truncated sample is its first 40 KB
def camera_photo() -> bytes:
    """12 MP stored on its side (orientation 6 = rotate 90 degrees clockwise to view)."""
    stored = photo_upright().transpose(Image.Transpose.ROTATE_90)  # 4000x3000
    exif = Image.Exif()
    exif[0x010F] = "Demo Camera Co."  # Make
    exif[0x0110] = "DC-12"  # Model
    exif[0x0112] = 6  # Orientation
    exif[0x0132] = "2026:05:01 09:30:00"  # DateTime
    sub = exif.get_ifd(0x8769)  # Exif IFD
    sub[0xA431] = "SN-00424242"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.76)  # 48 deg 51' 29.76" N
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.2)
    return _jpeg(stored, exif=exif.tobytes(), quality=88)


def logo() -> bytes:
    """2400x2400 RGBA: a ring, a disc and a word on full transparency."""
    s = 2400
    im = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse((100, 100, s - 100, s - 100), outline=(225, 80, 40, 255), width=140)
    d.ellipse((520, 520, s - 520, s - 520), fill=(30, 60, 140, 200))  # half-transparent
    d.text((s // 2, s // 2), "imgpipe", fill=(255, 255, 255, 255), font=_font(300), anchor="mm")
    return _png(im)


def tall_screenshot() -> bytes:
    """1170x6000: a phone settings page captured as one long image."""
    w, h = 1170, 6000
    im = Image.new("RGB", (w, h), (242, 242, 247))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, w, 140), fill=(255, 255, 255))
    d.text((40, 40), "9:41", fill=(0, 0, 0), font=_font(60))
    d.text((40, 180), "Settings", fill=(0, 0, 0), font=_font(96))
    y, n = 340, 0
    colours = [(255, 59, 48), (52, 199, 89), (0, 122, 255), (255, 149, 0), (175, 82, 222)]
    while y + 160 < h:
        d.rounded_rectangle((32, y, w - 32, y + 150), radius=28, fill=(255, 255, 255))
        d.rounded_rectangle((64, y + 35, 144, y + 115), radius=18, fill=colours[n % 5])
        d.text((180, y + 45), f"Setting {n + 1:02d}", fill=(20, 20, 20), font=_font(54))
        d.text((w - 110, y + 40), ">", fill=(160, 160, 165), font=_font(60))
        y, n = y + 180, n + 1
    return _png(im)


def cmyk_print() -> bytes:
    """A5 at 300 dpi in CMYK: a title band, colour patches, body lines."""
    w, h = 1748, 2480
    im = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, w, 520), fill=(0, 150, 200))
    d.text((120, 180), "Spring brochure", fill=(255, 255, 255), font=_font(150))
    for i, c in enumerate([(0, 170, 230), (230, 0, 120), (255, 230, 0), (30, 30, 30)]):
        d.rectangle((120 + i * 390, 640, 450 + i * 390, 970), fill=c)  # C, M, Y, K
    for line in range(22):
        d.rectangle((120, 1100 + line * 56, w - 120 - (line % 4) * 160, 1124 + line * 56),
                    fill=(90, 90, 90))  # fmt: skip
    return _jpeg(im.convert("CMYK"), dpi=(300, 300), quality=90)


SAMPLES = [
    Sample(
        "camera/IMG_4032.jpg",
        "12 MP photo stored on its side (EXIF orientation 6) with GPS: upright, GPS gone",
        camera_photo,
    ),
    Sample(
        "design/logo.png",
        "2400x2400 PNG logo with alpha: background colour in JPEG, alpha kept in WebP",
        logo,
    ),
    Sample(
        "screenshots/settings-tall.png",
        "1170x6000 phone screenshot: fitted by width, not cropped",
        tall_screenshot,
    ),
    Sample("print/brochure-cmyk.jpg", "A5 300 dpi CMYK print file: converted to sRGB", cmyk_print),
    Sample(
        "broken/truncated.jpg",
        "the photo cut off after 40 KB: rejected as corrupt, record written",
        lambda: camera_photo()[:40_000],
    ),
    Sample(
        "broken/not-a-photo.jpg",
        "HTML saved as .jpg: rejected as unsupported",
        lambda: b"<!doctype html>\n<html><body><p>Saved from the browser</p></body></html>\n",
    ),
    Sample(
        "notes.txt",
        "text file: the EventBridge pattern never routes it",
        lambda: b"Shot list for the spring brochure.\n",
    ),
]


def write_samples(folder: Path) -> list[tuple[str, Path]]:
    """Draw every sample into `folder`; (name, path) in SAMPLES order."""
    out = []
    for sample in SAMPLES:
        path = folder / sample.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sample.draw())
        out.append((sample.name, path))
    return out
