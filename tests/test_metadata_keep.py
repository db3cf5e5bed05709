"""`metadata.keep`: only the named EXIF fields reach the outputs; never GPS or serials.

Every output format is parsed (Pillow's `getexif()`, its sub-IFDs, and the
container walkers of test_output_metadata.py) for sources in every output
format carrying camera make/model, orientation, a body serial and GPS.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from test_output_metadata import FORMATS, WALKERS, camera_exif, with_metadata

from imgproc import ConfigError, parse_config, process
from imgproc.config import KEEPABLE_EXIF, fingerprint

COPYRIGHT, ARTIST = 0x8298, 0x013B
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005


# UTF-8 text in EXIF's ASCII fields, as most tools write it. An AVIF upload
# is the exception: Pillow's AVIF reader re-serialises EXIF whose orientation
# disagrees with the container's (ours: 6 vs none), and its writer turns every
# non-ASCII byte into "?", before we see it. So AVIF sources use plain ASCII.
COPYRIGHT_TEXT = {"avif": "(c) 2026 Example Photos"}


def authored_exif(copyright_text: str = "© 2026 Example Photos") -> bytes:
    """camera_exif() (make, model, orientation, serial, GPS) plus authorship fields."""
    exif = Image.Exif()
    exif.load(camera_exif())
    exif[COPYRIGHT] = copyright_text.encode()
    exif[ARTIST] = "Ada Lovelace"
    exif[0x0112] = 6  # Orientation: must not be copied, the outputs are upright
    exif[0x010E] = "a lighthouse"
    return exif.tobytes()


def source(fmt: str) -> bytes:
    im = Image.open(io.BytesIO(with_metadata("jpeg", (800, 600), icc=False))).convert("RGB")
    buf = io.BytesIO()
    im.save(
        buf,
        {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF", "png": "PNG"}[fmt],
        exif=authored_exif(COPYRIGHT_TEXT.get(fmt, "© 2026 Example Photos")),
    )
    return buf.getvalue()


def config(keep):
    return parse_config(
        {
            "variants": [
                {"name": "large", "width": 400, "formats": list(FORMATS)},
                {"name": "small", "width": 100, "formats": list(FORMATS)},
            ],
            "watermark": None,
            "metadata": {"keep": keep},
        }
    )


def output_exif(data: bytes) -> Image.Exif:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im.getexif()


def texts(exif: Image.Exif) -> dict[int, str]:
    """The EXIF's fields as the text they hold (Pillow reads the bytes as Latin-1)."""
    return {tag: v.encode("latin-1").decode("utf-8") for tag, v in exif.items()}


@pytest.fixture(scope="module", params=FORMATS)
def kept(request):
    src = source(request.param)
    assert Image.open(io.BytesIO(src)).getexif().get_ifd(GPS_IFD)  # the source has GPS
    return request.param, process(src, config(["copyright", "artist"]))


def test_only_the_kept_fields_in_every_output_format(kept):
    src_fmt, result = kept
    assert sorted({o.format for o in result.outputs}) == sorted(FORMATS)
    for out in result.outputs:
        where = f"{src_fmt} -> {out.variant}.{out.format}"
        exif = output_exif(out.data)
        copyright_text = COPYRIGHT_TEXT.get(src_fmt, "© 2026 Example Photos")
        assert texts(exif) == {COPYRIGHT: copyright_text, ARTIST: "Ada Lovelace"}, where
        assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD), where
        assert EXIF_IFD not in exif and not exif.get_ifd(EXIF_IFD), where  # serial lives there
        assert WALKERS[out.format](out.data) == {"exif"}, where  # no XMP, ICC, comment


def test_outputs_stay_upright_with_no_orientation_tag(kept):
    _, result = kept
    large = next(o for o in result.outputs if o.variant == "large")
    assert (large.width, large.height) == (400, 533)  # 800x600 turned by orientation 6
    assert 0x0112 not in output_exif(large.data)


def test_every_keepable_field_round_trips_as_text():
    result = process(source("jpeg"), config(list(KEEPABLE_EXIF)))
    for out in result.outputs:
        assert texts(output_exif(out.data)) == {
            0x8298: "© 2026 Example Photos",
            0x013B: "Ada Lovelace",
            0x010E: "a lighthouse",
            0x010F: "Canon",
            0x0110: "Canon EOS R5",
        }, (out.variant, out.format)


@pytest.mark.parametrize("fmt", FORMATS)
def test_by_default_nothing_is_kept(fmt):
    result = process(source(fmt), config([]))
    for out in result.outputs:
        assert len(output_exif(out.data)) == 0, (fmt, out.variant, out.format)
        assert WALKERS[out.format](out.data) == set()


def test_a_source_without_the_fields_gives_outputs_without_exif():
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(buf, "PNG")
    for out in process(buf.getvalue(), config(["copyright"])).outputs:
        assert WALKERS[out.format](out.data) == set()


def test_a_huge_field_is_cut_not_copied_whole():
    exif = Image.Exif()
    exif[ARTIST] = ("é" * 30_000).encode()  # 60,000 bytes of UTF-8 (a JPEG holds 64 KiB)
    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, "JPEG", exif=exif.tobytes())
    (out, *_) = process(buf.getvalue(), config(["artist"])).outputs
    assert texts(output_exif(out.data))[ARTIST] == "é" * 500  # 1,000 bytes, no half character


def test_broken_exif_keeps_nothing_and_rejects_nothing():
    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, "JPEG", exif=b"Exif\x00\x00MM\x00*garbage")
    result = process(buf.getvalue(), config(["copyright"]))
    assert all(WALKERS[o.format](o.data) == set() for o in result.outputs)


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (["gps"], "never kept"),
        (["GPS"], "never kept"),
        (["serial"], "never kept"),
        (["copyright", "copyright"], "duplicates"),
        (["orientation"], "not one of"),
        ("copyright", "a list required"),
        ([1], "not one of"),
    ],
)
def test_bad_keep_lists_are_refused_clearly(keep, message):
    with pytest.raises(ConfigError, match=f"metadata.keep: .*{message}|metadata.keep: {message}"):
        parse_config({"metadata": {"keep": keep}})


def test_unknown_metadata_keys_are_refused():
    with pytest.raises(ConfigError, match="metadata: unknown key"):
        parse_config({"metadata": {"strip": ["gps"]}})


def test_not_using_it_keeps_the_fingerprint():
    """Deployments that never set metadata keep their variants current across the upgrade."""
    assert "metadata" not in parse_config({}).to_dict()
    assert fingerprint(parse_config({"metadata": None})) == fingerprint(parse_config({}))
    assert fingerprint(parse_config({"metadata": {"keep": []}})) == fingerprint(parse_config({}))
    kept_cfg = parse_config({"metadata": {"keep": ["artist"]}})
    assert fingerprint(kept_cfg) != fingerprint(parse_config({}))
