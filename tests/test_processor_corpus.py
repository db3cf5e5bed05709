"""Every corpus file gives exactly what manifest.csv expects."""

from __future__ import annotations

import pytest
from conftest import decode, image_bytes, manifest

from imgproc import Rejection, default_config, process

CFG = default_config()
ROWS = manifest()


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_manifest_expectation(row):
    data = image_bytes(row["file"])
    expect = row["expect"]
    if expect.startswith("reject:"):
        with pytest.raises(Rejection) as info:
            process(data, CFG)
        assert info.value.reason == expect.split(":", 1)[1]
        return

    assert expect == "variants"
    result = process(data, CFG)
    got = [(o.variant, o.format) for o in result.outputs]
    want = [(v.name, f) for v in CFG.variants for f in v.formats]
    assert got == want
    w, h = int(row["width"]), int(row["height"])
    if row["exif_orientation"] in ("5", "6", "7", "8"):
        w, h = h, w
    for out in result.outputs:
        variant = next(v for v in CFG.variants if v.name == out.variant)
        im = decode(out.data)
        assert im.format == out.format.upper()
        assert im.size == (out.width, out.height)
        # never upscaled, fits the box, keeps the aspect ratio (within rounding)
        assert out.width <= min(w, variant.width)
        assert out.width == min(w, variant.width)
        assert abs(out.height - h * out.width / w) <= 1
        # nothing that identifies the uploader survives
        assert not im.getexif(), row["file"]
        assert "xmp" not in im.info and "icc_profile" not in im.info
        assert "photoshop" not in im.info and "comment" not in im.info
