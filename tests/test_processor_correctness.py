"""Orientation, colour, alpha, watermark and safety on real images."""

from __future__ import annotations

import io
import time

import pytest
from conftest import DATA, decode, image_bytes
from PIL import Image, ImageChops, ImageCms, ImageFilter, ImageOps, ImageStat

from imgproc import ConfigError, Rejection, default_config, parse_config, process

NO_WATERMARK = {"watermark": None}


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def first(result, variant="large", fmt="jpeg"):
    return next(o for o in result.outputs if o.variant == variant and o.format == fmt)


ORIENTED = [f"hopper_orientation_{n}.jpg" for n in range(2, 9)] + [
    "orientation_rectangle.jpg",
    "exif_imagemagick_orientation.png",
    "avif_rot1mir0.avif",
]


@pytest.mark.parametrize("name", ORIENTED)
def test_orientation_matches_exif_corrected_source(name):
    cfg = parse_config({"variants": [{"name": "full", "width": 4096, "formats": ["png"]}]})
    out = decode(first(process(image_bytes(name), cfg), "full", "png").data)
    truth = ImageOps.exif_transpose(Image.open(io.BytesIO(image_bytes(name)))).convert("RGB")
    assert out.size == truth.size
    assert mean_abs_diff(out, truth) < 1.5
    # the check can fail: the un-rotated source is far from the output
    raw = Image.open(io.BytesIO(image_bytes(name))).convert("RGB")
    if raw.size == out.size and raw.size[0] > 2:
        assert mean_abs_diff(out, raw) > 5


@pytest.mark.parametrize(
    "name", ["transparent.webp", "avif_transparency.avif", "p_trns_single.png", "l_trns.png"]
)
def test_alpha_lands_on_the_background_for_jpeg_and_stays_for_webp(name):
    cfg = parse_config(
        {
            "variants": [{"name": "v", "width": 1000, "formats": ["jpeg", "webp", "png"]}],
            "background": "#ff00ff",
            "watermark": None,
        }
    )
    source = Image.open(io.BytesIO(image_bytes(name))).convert("RGBA")
    # pixels whose whole 9x9 neighbourhood is clear: JPEG's chroma blocks
    # legitimately bleed colour from opaque neighbours at an edge
    deep_clear = source.getchannel("A").filter(ImageFilter.MaxFilter(9))
    clear = [
        (x, y)
        for y in range(0, source.height, 3)
        for x in range(0, source.width, 3)
        if deep_clear.getpixel((x, y)) == 0
    ]
    assert clear, "fixture must have fully transparent pixels"
    result = process(image_bytes(name), cfg)
    jpeg = decode(first(result, "v", "jpeg").data).convert("RGB")
    webp = decode(first(result, "v", "webp").data)
    png = decode(first(result, "v", "png").data)
    assert webp.mode == "RGBA" and png.mode == "RGBA"
    for xy in clear[:: max(1, len(clear) // 50)]:
        r, g, b = jpeg.getpixel(xy)
        assert r > 200 and g < 60 and b > 200, (xy, (r, g, b))  # magenta, not black
        assert png.getpixel(xy)[3] == 0
        assert webp.getpixel(xy)[3] < 10
    # the photo itself is still there: opaque pixels are not the background
    opaque = [
        (x, y)
        for y in range(0, source.height, 5)
        for x in range(0, source.width, 5)
        if source.getpixel((x, y))[3] == 255
    ]
    assert any(png.getpixel(xy)[3] == 255 for xy in opaque)


def test_cmyk_without_profile_lands_near_the_srgb_truth():
    cfg = parse_config({"variants": [{"name": "v", "width": 100, "formats": ["png"]}]})
    out = decode(first(process(image_bytes("pil_sample_cmyk.jpg"), cfg), "v", "png").data)
    truth = Image.open(io.BytesIO(image_bytes("pil_sample_rgb.jpg")))
    # measured 4.7/255; the reference design's pipeline measured 16/255
    assert mean_abs_diff(out, truth) < 8


def test_lab_tiff_lands_near_the_srgb_truth():
    cfg = parse_config({"variants": [{"name": "v", "width": 128, "formats": ["png"]}]})
    out = decode(first(process(image_bytes("hopper.Lab.tif"), cfg), "v", "png").data)
    truth = Image.open(io.BytesIO(image_bytes("hopper.tif")))
    lab = Image.open(io.BytesIO(image_bytes("hopper.Lab.tif")))
    as_if_rgb = Image.frombytes("RGB", lab.size, lab.tobytes())
    assert mean_abs_diff(out, truth) < 8
    assert mean_abs_diff(as_if_rgb, truth) > 20  # what ignoring the colour space gives


def test_embedded_icc_profile_is_applied():
    """Pixels encoded in Adobe RGB come back as the sRGB they were made from."""
    adobe = ImageCms.ImageCmsProfile(str(DATA / "icc" / "compatibleWithAdobeRGB1998.icc"))
    srgb = ImageCms.createProfile("sRGB")
    truth = Image.open(io.BytesIO(image_bytes("hopper.png"))).convert("RGB")
    encoded = ImageCms.profileToProfile(truth, srgb, adobe, outputMode="RGB")
    buf = io.BytesIO()
    encoded.save(buf, "PNG", icc_profile=adobe.tobytes())
    cfg = parse_config({"variants": [{"name": "v", "width": 128, "formats": ["png"]}]})
    out = decode(first(process(buf.getvalue(), cfg), "v", "png").data)
    assert mean_abs_diff(out, truth) < 2.0
    assert mean_abs_diff(encoded, truth) > 4.0  # what ignoring the profile would give
    # sRGB-tagged photos pass through unchanged
    for name in ("flower2.jpg", "pil_sample_rgb.jpg"):
        out = decode(first(process(image_bytes(name), cfg), "v", "png").data)
        plain = Image.open(io.BytesIO(image_bytes(name))).convert("RGB")
        plain = plain.resize(out.size, Image.Resampling.LANCZOS)
        assert mean_abs_diff(out, plain) < 4.0  # draft decoding + resampling only


def test_sixteen_bit_grey_is_scaled_not_clipped():
    cfg = parse_config({"variants": [{"name": "v", "width": 64, "formats": ["png"]}]})
    out = decode(first(process(image_bytes("16bit.cropped.tif"), cfg), "v", "png").data)
    src = Image.open(io.BytesIO(image_bytes("16bit.cropped.tif")))
    lo, hi = src.getextrema()
    got_lo, got_hi = out.convert("L").getextrema()
    assert (got_lo, got_hi) == (round(lo / 257), round(hi / 257))  # not (255, 255)


def test_first_frame_of_an_animation():
    cfg = parse_config({"variants": [{"name": "v", "width": 1000, "formats": ["png"]}]})
    out = decode(first(process(image_bytes("chi.gif"), cfg), "v", "png").data)
    gif = Image.open(io.BytesIO(image_bytes("chi.gif")))
    frame0 = gif.convert("RGB")
    gif.seek(5)
    frame5 = gif.convert("RGB")
    assert mean_abs_diff(out, frame0) < 0.5
    assert mean_abs_diff(frame0, frame5) > 1


def test_mpo_first_image_is_used(tmp_path):
    left = Image.new("RGB", (64, 48), (200, 30, 30))
    right = Image.new("RGB", (64, 48), (30, 30, 200))
    buf = io.BytesIO()
    left.save(buf, "MPO", save_all=True, append_images=[right])
    assert Image.open(io.BytesIO(buf.getvalue())).format == "MPO"
    cfg = parse_config({"variants": [{"name": "v", "width": 64, "formats": ["png"]}]})
    out = decode(first(process(buf.getvalue(), cfg), "v", "png").data)
    assert out.getpixel((10, 10))[0] > 150


def test_heic_from_a_phone_is_decoded():
    pillow_heif = pytest.importorskip("pillow_heif")
    src = Image.open(io.BytesIO(image_bytes("hopper.png"))).convert("RGB")
    buf = io.BytesIO()
    pillow_heif.from_pillow(src).save(buf, format="HEIF", quality=90)
    assert buf.getvalue()[4:12] in (b"ftypheic", b"ftypmif1")
    cfg = parse_config({"variants": [{"name": "v", "width": 128, "formats": ["png"]}]})
    out = decode(first(process(buf.getvalue(), cfg), "v", "png").data)
    assert mean_abs_diff(out, src) < 6


def test_avif_output_is_available():
    cfg = parse_config({"variants": [{"name": "v", "width": 100, "formats": ["avif"]}]})
    out = first(process(image_bytes("hopper.jpg"), cfg), "v", "avif")
    im = decode(out.data)
    assert im.format == "AVIF" and im.size == (100, 100)
    assert out.content_type == "image/avif"


def test_gps_and_camera_metadata_are_stripped():
    src = Image.open(io.BytesIO(image_bytes("exif_gps.jpg")))
    assert 0x8825 in src.getexif()  # the fixture really carries GPS
    for out in process(image_bytes("exif_gps.jpg"), default_config()).outputs:
        im = decode(out.data)
        assert not im.getexif()
        assert b"GPS" not in out.data and b"Exif" not in out.data


def _flat(colour, size=(1600, 1200), mode="RGB"):
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def test_watermark_is_visible_and_blended_with_real_alpha():
    cfg = parse_config(
        {
            "variants": [{"name": "large", "width": 1200, "formats": ["png", "jpeg"]}],
            "watermark": {"text": "imgpipe", "opacity": 0.5, "colour": "#ffffff"},
        }
    )
    result = process(_flat((40, 90, 160)), cfg)
    out = decode(first(result, "large", "png").data).convert("RGB")
    bg = (40, 90, 160)
    changed = [p for p in out.get_flattened_data() if p != bg]
    assert len(changed) > 500, "watermark is visible"
    lighter = [p for p in changed if all(c > b for c, b in zip(p, bg))]
    assert len(lighter) > 300
    # white text at 0.5 opacity over the background peaks at the 50/50 blend,
    # and many text pixels sit exactly there
    blend = tuple(round((b + 255) / 2) for b in bg)
    assert sum(1 for p in lighter if all(abs(c - m) <= 2 for c, m in zip(p, blend))) > 300
    # every changed pixel is a mix: no brighter than the 50% blend to white,
    # no darker than the outline's 25% blend to black
    for p in changed:
        assert all(round(b * 0.75) - 2 <= c <= m + 1 for c, b, m in zip(p, bg, blend)), p
    jpeg = decode(first(result, "large", "jpeg").data)
    assert max(p[0] for p in jpeg.get_flattened_data()) < 200  # not opaque white


def test_watermark_on_transparent_webp_adds_coverage_never_a_hole():
    cfg = parse_config({"variants": [{"name": "large", "width": 1200, "formats": ["webp"]}]})
    out = decode(first(process(_flat((40, 90, 160, 200), mode="RGBA"), cfg), "large", "webp").data)
    alpha = out.getchannel("A")
    assert alpha.getextrema()[0] >= 195  # nowhere more transparent than the source


def test_watermark_skipped_below_min_width():
    cfg = parse_config({"variants": [{"name": "s", "width": 150, "formats": ["png"]}]})
    out = decode(first(process(_flat((40, 90, 160)), cfg), "s", "png").data).convert("RGB")
    assert out.getextrema() == ((40, 40), (90, 90), (160, 160))


def test_pixel_limit_rejects_before_decoding():
    cfg = parse_config({"max_megapixels": 0.01})
    with pytest.raises(Rejection) as info:
        process(image_bytes("hopper.jpg"), cfg)  # 128x128 = 0.016 MP
    assert info.value.reason == "too-large" and "0.01 MP" in info.value.detail


def test_bomb_is_refused_fast():
    started = time.perf_counter()
    with pytest.raises(Rejection) as info:
        process(image_bytes("decompression_bomb.gif"), default_config())
    assert info.value.reason == "too-large"
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "data",
    [
        b"hello world\n",
        b"%PDF-1.7\n...",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x00" * 100,
    ],
)
def test_non_images_are_unsupported(data):
    with pytest.raises(Rejection) as info:
        process(data, default_config())
    assert info.value.reason == "unsupported"


def test_empty_object_is_rejected():
    with pytest.raises(Rejection) as info:
        process(b"", default_config())
    assert info.value.reason == "empty"


@pytest.mark.parametrize(
    "name",
    [
        "hopper.jpg",
        "hopper.png",
        "hopper.gif",
        "hopper.webp",
        "hopper.tif",
        "avif_hopper.avif",
        "avif_hopper.heif",
    ],
)
@pytest.mark.parametrize("fraction", [0.3, 0.9, 0.99])
def test_truncated_images_are_corrupt_not_half_decoded(name, fraction):
    data = image_bytes(name)
    with pytest.raises(Rejection) as info:
        process(data[: int(len(data) * fraction)], default_config())
    assert info.value.reason == "corrupt"


def test_extension_does_not_matter():
    # a PNG's bytes are processed as PNG whatever the key says
    assert process(image_bytes("hopper.png"), default_config()).source_format == "PNG"


def test_default_config_reproduces_the_reference_six_outputs():
    cfg = default_config()
    assert [(v.name, v.width, v.formats) for v in cfg.variants] == [
        ("large", 1200, ("jpeg", "webp")),
        ("medium", 600, ("jpeg", "webp")),
        ("small", 150, ("jpeg", "webp")),
    ]
    assert cfg.quality["jpeg"] == 85 and cfg.quality["webp"] == 80
    assert cfg.max_megapixels == 100


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"variants": []}, "variants"),
        ({"variants": [{"name": "a", "formats": ["jpeg"]}]}, "variants[0]"),
        ({"variants": [{"name": "a", "width": 10, "formats": ["gif"]}]}, "variants[0].formats"),
        ({"quality": {"jpeg": 101}}, "quality.jpeg"),
        ({"watermark": {"opacity": 2}}, "watermark.opacity"),
        ({"watermark": {"position": "middle"}}, "watermark.position"),
        ({"key_template": "{variant}/{path}.{ext}"}, "key_template"),
        ({"key_template": "out/{variant}/{oops}.{ext}"}, "key_template"),
        ({"max_megapixels": 0}, "max_megapixels"),
        ({"backgroud": "#fff"}, "backgroud"),
        ({"encoder": {"webp_method": 9}}, "encoder.webp_method"),
    ],
)
def test_config_errors_name_the_field(raw, names):
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert names in str(info.value)


def test_config_round_trips_through_json():
    import json

    cfg = default_config()
    assert parse_config(json.loads(json.dumps(cfg.to_dict()))) == cfg
