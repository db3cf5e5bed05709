"""The logo watermark (`watermark.image`), measured on the outputs' pixels.

A flat grey picture gets a test logo whose left half is opaque red and whose
right half is fully transparent. For each of the nine positions and for
tiling, the red pixels are found in the lossless PNG output and their box is
compared with where the position promises the logo: its longer side is
`image_scale` times the output's shorter side, 2% of the shorter side in from
the edges. Nothing outside the red half may change (the alpha is honoured).
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, ImageChops

import imgproc.config
from fc_handler.settings import Settings, SettingsError
from imgproc import ConfigError, parse_config, process
from imgproc.config import POSITIONS, WATERMARK_DIR, fingerprint

GREY = (128, 128, 128)
RED = (255, 0, 0)


@pytest.fixture
def logos(tmp_path, monkeypatch):
    """A watermarks/ folder holding `half.png`: 400x200, left half red, right half clear."""
    logo = Image.new("RGBA", (400, 200), (0, 255, 0, 0))  # clear, but green if it leaked
    logo.paste((*RED, 255), (0, 0, 200, 200))
    logo.save(tmp_path / "half.png")
    monkeypatch.setattr(imgproc.config, "WATERMARK_DIR", tmp_path)
    return tmp_path


def flat_png(size=(1000, 800)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, GREY).save(buf, "PNG")
    return buf.getvalue()


def stamped(position: str, *, width=1000, opacity=1.0, scale=0.25, source=None) -> Image.Image:
    cfg = parse_config(
        {
            "variants": [{"name": "v", "width": width, "formats": ["png"]}],
            "watermark": {
                "image": "half.png",
                "image_scale": scale,
                "position": position,
                "opacity": opacity,
                "min_width": 0,
            },
        }
    )
    (out,) = process(source or flat_png(), cfg).outputs
    return Image.open(io.BytesIO(out.data)).convert("RGB")


def red_mask(im: Image.Image) -> Image.Image:
    r, g, _b = im.split()
    return ImageChops.multiply(
        r.point(lambda v: 255 if v > 160 else 0), g.point(lambda v: 255 if v < 96 else 0)
    )


def expected_red_box(position: str, canvas=(1000, 800), logo=(200, 100)):
    (cw, ch), (lw, lh) = canvas, logo
    margin = max(4, round(min(canvas) * 0.02))
    xs = {"left": margin, "center": (cw - lw) // 2, "right": cw - lw - margin}
    ys = {"top": margin, "center": (ch - lh) // 2, "bottom": ch - lh - margin}
    vertical, horizontal = ("center", "center") if position == "center" else position.split("-")
    x, y = xs[horizontal], ys[vertical]
    return (x, y, x + lw // 2, y + lh)  # only the red left half shows


def close(a, b, tol=2) -> bool:
    return all(abs(p - q) <= tol for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("position", POSITIONS)
def test_each_of_the_nine_positions(logos, position):
    im = stamped(position)
    assert im.size == (1000, 800)
    box = red_mask(im).getbbox()
    assert box is not None, f"{position}: no logo"
    assert close(box, expected_red_box(position)), (position, box, expected_red_box(position))
    # The transparent half changed nothing: every changed pixel is in the red box.
    changed = ImageChops.difference(im, Image.new("RGB", im.size, GREY)).convert("L")
    changed_box = changed.point(lambda v: 255 if v > 8 else 0).getbbox()
    assert close(changed_box, box), (position, changed_box, box)


def test_full_opacity_is_the_logo_colour_and_half_is_half(logos):
    box = expected_red_box("center")
    middle = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
    assert close(stamped("center").getpixel(middle), RED, 1)
    half = stamped("center", opacity=0.5).getpixel(middle)
    assert close(half, (192, 64, 64), 2), half  # 0.5 * red + 0.5 * grey


@pytest.mark.parametrize(
    ("width", "source_size", "logo"),
    [
        (500, (1000, 800), (100, 50)),  # 500x400: longer side 25% of 400
        (300, (600, 1200), (75, 38)),  # portrait 300x600: 25% of 300
    ],
)
def test_scaled_to_the_outputs_shorter_side(logos, width, source_size, logo):
    im = stamped("top-left", width=width, source=flat_png(source_size))
    box = red_mask(im).getbbox()
    expected = expected_red_box("top-left", im.size, logo)
    assert close(box, expected), (im.size, box, expected)


def test_tiled_covers_the_picture_on_a_grid(logos):
    im = stamped("tiled")
    mask = red_mask(im)
    lw, lh = 200, 100
    # As many as fit inside the 16 px margins one logo apart (2 across, 4
    # down), the grid centred: (1000 - 600) / 2 = 200 and (800 - 700) / 2 = 50.
    spots = [(x, y) for y in (50, 250, 450, 650) for x in (200, 600)]
    assert len(spots) == 8  # 2 across, 4 down
    for x, y in spots:
        tile = mask.crop((x, y, x + lw // 2, y + lh))
        assert tile.getbbox() == (0, 0, lw // 2, lh), (x, y)  # this tile's red half is there
    red_pixels = mask.histogram()[255]
    assert abs(red_pixels - 8 * (lw // 2) * lh) <= 8 * 2 * (lw // 2 + lh), red_pixels  # no others


def test_too_small_for_the_logo_stays_clean(logos):
    cfg = parse_config(
        {
            "variants": [{"name": "v", "width": 32, "formats": ["png"]}],
            "watermark": {"image": "half.png", "image_scale": 1, "min_width": 0},
        }
    )
    # 32x40: the logo is 32 px wide, and the 4 px margins do not fit beside it
    (out,) = process(flat_png((800, 1000)), cfg).outputs
    im = Image.open(io.BytesIO(out.data)).convert("RGB")
    assert red_mask(im).getbbox() is None


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("missing.png", "not in the package"),
        ("../half.png", "name of a .png file"),
        ("half.jpg", "name of a .png file"),
        ("fake.png", "is a JPEG, not a PNG"),
        ("broken.png", "not a readable PNG"),
        ("huge.png", "at most 4096 px"),
        (7, "name of a .png file"),
    ],
)
def test_an_unusable_logo_fails_at_start_up(logos, image, message):
    Image.new("RGB", (10, 10)).save(logos / "fake.png", "JPEG")
    good = (logos / "half.png").read_bytes()
    (logos / "broken.png").write_bytes(good[: len(good) // 2])
    Image.new("L", (4097, 1)).save(logos / "huge.png")
    with pytest.raises(ConfigError, match=f"watermark.image: .*{message}"):
        parse_config({"watermark": {"image": image}})


def test_a_new_logo_under_the_same_name_makes_variants_stale(logos):
    before = fingerprint(parse_config({"watermark": {"image": "half.png"}}))
    Image.new("RGBA", (10, 10), (0, 0, 255, 128)).save(logos / "half.png")
    assert fingerprint(parse_config({"watermark": {"image": "half.png"}})) != before


def test_text_only_deployments_keep_their_fingerprint():
    cfg = parse_config({"watermark": {"text": "imgpipe", "image": ""}})
    assert "image" not in cfg.to_dict()["watermark"]
    assert fingerprint(cfg) == fingerprint(parse_config({}))


def test_the_shipped_logo_has_alpha_and_works_through_the_handlers_settings():
    with Image.open(WATERMARK_DIR / "imgpipe-logo.png") as logo:
        assert logo.mode == "RGBA"
        assert logo.getchannel("A").getextrema() == (0, 255)
    env = {"SOURCE_BUCKET": "photos-src", "TARGET_BUCKET": "photos-dst"}
    config = {
        "variants": [{"name": "v", "width": 1000, "formats": ["png"]}],
        "watermark": {"image": "imgpipe-logo.png", "position": "bottom-right", "opacity": 1},
    }
    settings = Settings.from_env({**env, "IMGPIPE_CONFIG": json.dumps(config)})
    (out,) = process(flat_png(), settings.processor).outputs
    im = Image.open(io.BytesIO(out.data)).convert("RGB")
    changed = ImageChops.difference(im, Image.new("RGB", im.size, GREY)).convert("L").getbbox()
    # 320x120 logo scaled to 15% of 800 = 120 px wide: 120x45, 16 px from the corner
    assert close(changed, (1000 - 16 - 120, 800 - 16 - 45, 1000 - 16, 800 - 16), 2), changed
    config["watermark"]["image"] = "nope.png"
    with pytest.raises(SettingsError, match=r"IMGPIPE_CONFIG: watermark\.image: 'nope\.png'"):
        Settings.from_env({**env, "IMGPIPE_CONFIG": json.dumps(config)})


def test_tiled_text_reaches_every_quadrant():
    cfg = parse_config(
        {
            "variants": [{"name": "v", "width": 1000, "formats": ["png"]}],
            "watermark": {"text": "imgpipe", "position": "tiled", "opacity": 1, "min_width": 0},
        }
    )
    (out,) = process(flat_png(), cfg).outputs
    im = Image.open(io.BytesIO(out.data)).convert("RGB")
    changed = ImageChops.difference(im, Image.new("RGB", im.size, GREY)).convert("L")
    for box in ((0, 0, 500, 400), (500, 0, 1000, 400), (0, 400, 500, 800), (500, 400, 1000, 800)):
        assert changed.crop(box).getbbox() is not None, box
