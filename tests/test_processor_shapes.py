"""Every shape and mode a user can upload gives variants that open.

Generated images (see `imagegen.Shape`) across geometry (1 px to past every
encoder's limit on either side), every mode Pillow writes in every input
format, with and without EXIF orientation and ICC profiles. A well-formed
image must never be rejected, and every output must fit its format.
"""

from __future__ import annotations

import pytest
from conftest import budget
from hypothesis import event, example, given, settings
from imagegen import CONFIG, Shape, check_processed, shapes, source_facts, writable

from imgproc import default_config, process
from imgproc.encode import LIMITS, limits
from imgproc.ops import fit_size


@settings(max_examples=budget(100))
@given(shapes())
# The issue's uploads: a long phone screenshot and a tall JPEG, both over
# WebP's 16383 px; a 1-px line longer than AVIF's and JPEG's limits.
@example(Shape("png", 1000, 20000, "RGB"))
@example(Shape("jpeg", 1100, 17000, "RGB", orientation=1))
@example(Shape("png", 1, 70000, "L"))
@example(Shape("tiff", 70000, 1, "RGBA"))
@example(Shape("jpeg", 2, 65500, "CMYK", orientation=6, icc="junk"))
@example(Shape("avif", 3, 32768, "RGB", orientation=8, icc="adobe"))
@example(Shape("gif", 1, 1, "P", transparency=True))
def test_every_shape_gives_variants_that_open(shape):
    event(f"format: {shape.fmt}")  # the mix, in --hypothesis-show-statistics
    data = shape.build()
    upright, _ = source_facts(data)
    check_processed(process(data, CONFIG), CONFIG, upright)


@pytest.mark.parametrize(
    ("fmt", "size", "large"),
    [("png", (1000, 20000), (819, 16383)), ("jpeg", (1100, 17000), (1060, 16383))],
)
def test_issue_uploads_with_the_default_config(fmt, size, large):
    """The two uploads issue 10 reported, through the deployed defaults."""
    data = Shape(fmt, *size, "RGB").build()
    result = process(data, default_config())
    got = {(o.variant, o.format): (o.width, o.height) for o in result.outputs}
    assert got[("large", "jpeg")] == got[("large", "webp")] == large
    assert got[("small", "webp")] == (150, round(size[1] * 150 / size[0]))


def test_generator_covers_every_mode_and_format():
    """The generator is not quietly testing only RGB PNGs."""
    pairs = writable()
    formats = {fmt for fmt, _ in pairs}
    assert formats == {"jpeg", "mpo", "png", "gif", "webp", "tiff", "bmp", "avif", "heif"}
    modes = {mode for _, mode in pairs}
    for mode in ("1", "L", "LA", "P", "I;16", "I", "F", "RGB", "RGBA", "CMYK", "YCbCr", "LAB"):
        assert mode in modes


@pytest.mark.parametrize(
    ("size", "box", "max_pixels", "want"),
    [
        ((1000, 20000), (16383, 16383), None, (819, 16383)),
        ((1, 40000), (16383, 16383), None, (1, 16383)),  # 0.41 px wide: 1 px
        ((40000, 1), (1200, None), None, (1200, 1)),
        ((20000, 20000), (32768, 32768), 16384 * 16384, (16384, 16384)),
        ((30000, 10000), (32768, 32768), 16384 * 16384, (28378, 9459)),
        ((10, 10), (16383, 16383), None, (10, 10)),  # never upscaled
    ],
)
def test_fit_size(size, box, max_pixels, want):
    got = fit_size(*size, *box, max_pixels=max_pixels)
    assert got == want
    if max_pixels:
        assert got[0] * got[1] <= max_pixels


def test_a_variant_takes_the_tightest_limit_of_its_formats():
    assert limits(("jpeg",)) == (65_500, None)
    assert limits(("jpeg", "webp")) == (16_383, None)
    assert limits(("png", "avif")) == (32_768, 16_384 * 16_384)
    assert set(LIMITS) == {"jpeg", "webp", "avif", "png"}
