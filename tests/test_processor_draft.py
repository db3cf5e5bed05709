"""JPEG decoding at reduced scale: 1/2, 1/4, 1/8 from Pillow, 3/8 from libjpeg-turbo.

`pipeline._draft` asks for 3/8 when that still covers every variant and
Pillow would have decoded at 1/2. These tests pin the geometry libjpeg
gives (ceil(side x 3/8)) and that the pixels are the photo's, not rows
of the wrong width.
"""

import io
import math

import pytest
from PIL import Image, ImageChops, ImageStat

from imgproc import load_config, pipeline, process


def _jpeg(size: tuple[int, int], orientation: int = 1) -> bytes:
    w, h = size
    im = Image.radial_gradient("L").resize(size).convert("RGB")
    im.paste((200, 30, 30), (w // 5, h // 5, w // 2, h // 2))
    im.paste((20, 120, 220), (w // 2, h // 2, w * 4 // 5, h * 4 // 5))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def _psnr(a: Image.Image, b: Image.Image) -> float:
    rms = ImageStat.Stat(ImageChops.difference(a, b)).rms
    mse = sum(v * v for v in rms) / len(rms)
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def _config(width: int):
    return load_config(f'{{"variants": [{{"name": "large", "width": {width}}}]}}')


@pytest.mark.parametrize(
    ("size", "width", "decoded"),
    [
        ((1000, 800), 300, (375, 300)),  # 3/8 covers 300; 1/4 (250) would not
        ((1001, 801), 300, (376, 301)),  # libjpeg rounds up
        ((1000, 800), 400, (500, 400)),  # 3/8 is 375 < 400: 1/2 as before
        ((1000, 800), 240, (250, 200)),  # 1/4 covers it: Pillow's own choice
    ],
)
def test_decoded_size(size, width, decoded):
    im = Image.open(io.BytesIO(_jpeg(size)))
    targets = pipeline._targets(_config(width).variants, im.size, 1)
    pipeline._draft(im, targets)
    im.load()
    assert im.size == decoded
    full = Image.open(io.BytesIO(_jpeg(size))).convert("RGB").resize(decoded, Image.LANCZOS)
    assert _psnr(im, full) > 30  # the photo's pixels, not misaligned rows


def test_three_eighths_output_matches_the_full_decode():
    data = _jpeg((1600, 1200))
    (large, *_rest) = process(data, _config(600)).outputs  # 3/8 = 600 x 450
    out = Image.open(io.BytesIO(large.data)).convert("RGB")
    assert out.size == (600, 450)
    ref = Image.open(io.BytesIO(data)).convert("RGB").resize((600, 450), Image.LANCZOS)
    assert _psnr(out, ref) > 32


def test_three_eighths_with_rotation():
    data = _jpeg((1000, 800), orientation=6)  # stored landscape, shown portrait
    (large, *_rest) = process(data, _config(300)).outputs
    # upright 800 x 1000: 300 px wide is 375 px tall; stored 3/8 is 375 x 300
    assert (large.width, large.height) == (300, 375)


def test_box_step_then_bicubic_stays_close_to_lanczos_all_the_way():
    """`ops.resize(box_first=True)`: a box step, then BICUBIC for the rest
    (`tests/bench_resample.py` prints the time and PSNR per photo)."""
    from pathlib import Path

    from imgproc import ops

    photo = Image.open(Path(__file__).parent / "data" / "bench" / "photo-6mp-rgba.png")
    photo.load()
    size = (1200, 800)
    ours = ops.resize(photo, size, box_first=True)
    reference = photo.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")
    assert ours.mode == "RGBA"
    assert _psnr(ours.convert("RGB"), reference.convert("RGB")) > 52


def test_no_box_step_means_lanczos():
    """Below 2x no box step happens, so the one resample is LANCZOS."""
    from imgproc import ops

    im = Image.radial_gradient("L").resize((300, 200)).convert("RGB")
    ours = ops.resize(im, (200, 133), box_first=True)
    assert ours.tobytes() == im.resize((200, 133), Image.Resampling.LANCZOS).tobytes()
