"""EXIF orientation 1-8 on a real 12 MP photo, on the path phone photos take.

A 4000x3000 JPEG made into 1200 px variants is decoded by libjpeg at half
scale (`Image.draft`), and orientation is applied after that, on the small
image. The 128 px corpus images are never drafted, so only a photo of real
size proves that this path turns the picture upright. The reference is
independent of our code: Pillow's `ImageOps.exif_transpose` on the full
decode, resized to the variant's size. Outputs are PNG with the watermark
off so the comparison sees the geometry, not the codec or the text.
"""

from __future__ import annotations

import io
import struct

import pytest
from conftest import BENCH
from PIL import Image, ImageChops, ImageOps, ImageStat

from imgproc import parse_config, process

PHOTO = BENCH / "photo-12mp.jpg"  # 4000x3000, no EXIF of its own
CONFIG = parse_config(
    {
        "variants": [
            {"name": "large", "width": 1200, "formats": ["png"]},
            {"name": "small", "width": 150, "formats": ["png"]},
        ],
        "watermark": {"text": ""},
    }
)
# Mean absolute difference per channel (0-255). Measured: 0.2-0.6 for the
# right orientation (resampling differences only), 85-100 for a mirrored or
# rotated one (test_a_wrong_orientation_is_far_over_the_threshold).
MAX_MEAN_ERROR = 3.0


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The same compressed pixels with an EXIF APP1 segment saying `orientation`."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()  # starts with b"Exif\0\0"
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + segment + jpeg[2:]


@pytest.fixture(scope="module")
def photo() -> bytes:
    return PHOTO.read_bytes()


def reference(data: bytes, size: tuple[int, int]) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    upright = ImageOps.exif_transpose(im)
    return upright.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def mean_error(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_the_photo_takes_the_drafted_path(photo):
    """Precondition: libjpeg really decodes this photo at reduced scale for 1200 px."""
    im = Image.open(io.BytesIO(photo))
    assert im.size == (4000, 3000)
    im.draft("RGB", (1600, 1200))  # the stored-grid size of orientation 6's large variant
    assert im.size == (2000, 1500)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_comes_out_upright(photo, orientation):
    data = with_orientation(photo, orientation)
    result = process(data, CONFIG)
    swapped = orientation >= 5
    assert (result.source_width, result.source_height) == (
        (3000, 4000) if swapped else (4000, 3000)
    )
    for out in result.outputs:
        got = Image.open(io.BytesIO(out.data))
        got.load()
        # portrait for 5-8, landscape for 1-4, at the configured width
        expected = (
            (out.width, round(out.width * 4 / 3))
            if swapped
            else (out.width, round(out.width * 3 / 4))
        )
        assert got.size == expected, (orientation, out.variant, got.size)
        assert got.width == {"large": 1200, "small": 150}[out.variant]
        error = mean_error(got.convert("RGB"), reference(data, got.size))
        assert error < MAX_MEAN_ERROR, (orientation, out.variant, error)


def test_a_wrong_orientation_is_far_over_the_threshold(photo):
    """The threshold separates: the photo is not symmetric enough to fool it."""
    size = (1200, 900)
    right = reference(with_orientation(photo, 1), size)
    for wrong in (2, 3, 4):
        assert (
            mean_error(right, reference(with_orientation(photo, wrong), size)) > 8 * MAX_MEAN_ERROR
        )
