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


# Metadata stripping (EXIF, GPS, XMP, ICC, comments) for every output format
# is checked by parsing the containers in test_output_metadata.py.


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


@pytest.mark.parametrize(
    ("key", "name", "outcome", "source_format"),
    [
        ("uploads/photo.jpg", "hopper.png", "processed", "PNG"),
        ("uploads/scan.png", "hopper.jpg", "processed", "JPEG"),
        ("uploads/photo.Jpeg", "hopper.webp", "processed", "WEBP"),
        # no image ending at all: ignored unread (IMAGE_SUFFIXES; the pattern
        # routes every key under the prefix, docs/limits.md)
        ("uploads/noext", "hopper.webp", "ignored", None),
        ("uploads/page.jpg", None, "rejected", None),  # an HTML page saved as .jpg
    ],
)
def test_extension_does_not_matter(tmp_path, key, name, outcome, source_format):
    """The bytes decide, not the key's extension: through the handler, as uploaded."""
    from fc_handler.handle import handle_event
    from fc_handler.settings import Settings
    from fc_handler.storage import LocalStorage
    from imgpipe.cloud.events import cloudevent

    data = image_bytes(name) if name else b"<!doctype html><html><body>hi</body></html>"
    (tmp_path / "src" / "uploads").mkdir(parents=True)
    (tmp_path / "src" / key).write_bytes(data)
    settings = Settings.from_env({"SOURCE_BUCKET": "src", "TARGET_BUCKET": "dst"})
    log: list[dict] = []
    (result,) = handle_event(
        cloudevent("src", key, data),
        settings=settings,
        storage=LocalStorage(str(tmp_path)),
        request_id="r",
        log=log.append,
    )
    assert result.outcome == outcome, log
    if outcome == "rejected":
        assert result.reason == "unsupported"
        return
    if outcome == "ignored":
        assert result.reason == "not-an-image-suffix" and not (tmp_path / "dst").exists()
        return
    (large_jpeg,) = [k for k in result.outputs if "/large/" in k and k.endswith(".jpg")]
    large = decode((tmp_path / "dst" / large_jpeg).read_bytes())
    assert large.format == "JPEG" and large.size == (128, 128)
    assert process(data, default_config()).source_format == source_format


def test_default_config_reproduces_the_reference_six_outputs():
    """Three widths, each as JPEG and WebP, made from a real photo (not read from constants)."""
    result = process(image_bytes("flower.jpg"), default_config())  # 480x360
    src = Image.open(io.BytesIO(image_bytes("flower.jpg")))
    made = [(o.variant, o.format, o.width, o.height) for o in result.outputs]
    assert made == [
        ("large", "jpeg", 480, 360),  # never upscaled
        ("large", "webp", 480, 360),
        ("medium", "jpeg", 480, 360),
        ("medium", "webp", 480, 360),
        ("small", "jpeg", 150, 112),
        ("small", "webp", 150, 112),
    ]
    for out in result.outputs:
        im = decode(out.data)
        assert (im.format, im.size) == (
            {"jpeg": "JPEG", "webp": "WEBP"}[out.format],
            (out.width, out.height),
        )
        assert mean_abs_diff(im, src.resize(im.size, Image.Resampling.LANCZOS)) < 6
    big = process(image_bytes("flower.jpg"), parse_config({"max_megapixels": 100}))
    assert [o.data for o in big.outputs] == [o.data for o in result.outputs]  # deterministic


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


# ------------------------------------------------ unusable colour profiles


def _png_with_icc(im: Image.Image, icc: bytes) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", icc_profile=icc)
    return buf.getvalue()


def _lab_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


@pytest.mark.parametrize(
    ("label", "mode", "icc"),
    [
        ("garbage bytes", "RGB", b"this is not an ICC profile"),
        (
            "truncated profile",
            "RGB",
            (DATA / "icc" / "compatibleWithAdobeRGB1998.icc").read_bytes()[:200],
        ),
        ("Lab profile on RGB pixels", "RGB", None),
        (
            "RGB profile on grey pixels",
            "L",
            (DATA / "icc" / "compatibleWithAdobeRGB1998.icc").read_bytes(),
        ),
    ],
)
def test_an_unusable_icc_profile_is_ignored_not_fatal(label, mode, icc):
    """A profile lcms cannot use leaves the pixels as they are: no rejection, no crash."""
    truth = Image.open(io.BytesIO(image_bytes("hopper.png"))).convert(mode)
    data = _png_with_icc(truth, icc if icc is not None else _lab_profile())
    assert Image.open(io.BytesIO(data)).info.get("icc_profile")  # really embedded
    cfg = parse_config({"variants": [{"name": "v", "width": 128, "formats": ["png"]}]})
    out = decode(first(process(data, cfg), "v", "png").data)
    assert out.mode == "RGB"
    assert mean_abs_diff(out, truth.convert("RGB")) < 0.5, label


# ------------------------------------------------ every pixel mode


def _tiff(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "TIFF")
    return buf.getvalue()


def test_bilevel_and_float_tiffs_are_processed():
    """Scanned documents arrive as 1-bit TIFFs, some tools write 32-bit float ones."""
    cfg = parse_config({"variants": [{"name": "v", "width": 64, "formats": ["png", "jpeg"]}]})
    grey = Image.open(io.BytesIO(image_bytes("hopper.png"))).convert("L").resize((64, 64))
    bilevel = grey.convert("1")
    floating = grey.convert("F")
    for im, truth in ((bilevel, bilevel.convert("L")), (floating, grey)):
        data = _tiff(im)
        assert Image.open(io.BytesIO(data)).mode == im.mode
        result = process(data, cfg)
        out = decode(first(result, "v", "png").data)
        assert out.mode in ("L", "RGB") and out.size == (64, 64)
        assert mean_abs_diff(out, truth) < 0.5, im.mode
        assert decode(first(result, "v", "jpeg").data).mode in ("L", "RGB")


@pytest.mark.parametrize("mode", ["La", "RGBa", "RGBX", "YCbCr", "1", "F", "LA", "PA"])
def test_to_8bit_keeps_colour_and_alpha_of_every_mode(mode):
    """Modes no decoder of ours hands out today (La, RGBa, RGBX, YCbCr) still convert right.

    Pillow's own conversions are the reference: premultiplied alpha comes
    back unpremultiplied, padding bytes are dropped, YCbCr becomes RGB.
    """
    from imgproc import ops

    colour = Image.open(io.BytesIO(image_bytes("hopper.png"))).convert("RGB").resize((32, 32))
    alpha = Image.linear_gradient("L").resize((32, 32))
    if mode in ("La", "LA"):
        im = Image.merge("LA", (colour.convert("L"), alpha)).convert(mode)
    elif mode == "RGBa":
        rgba = colour.copy()
        rgba.putalpha(alpha)
        im = rgba.convert("RGBa")
    elif mode == "PA":
        im = colour.convert("P").convert("PA")
        im.putalpha(alpha)
    else:
        im = colour.convert(mode)
    assert im.mode == mode
    out = ops.to_8bit(im)
    assert out.mode in ("L", "LA", "RGB", "RGBA", "CMYK"), out.mode
    has_alpha = mode in ("La", "LA", "RGBa", "PA")
    assert ("A" in out.getbands()) == has_alpha
    if has_alpha:
        visible = [
            xy
            for xy in ((x, y) for x in range(0, 32, 4) for y in range(0, 32, 4))
            if alpha.getpixel(xy) > 64
        ]
        opaque_truth = colour.convert("L" if mode in ("La", "LA", "PA") else "RGB")
        for xy in visible:
            *got_colour, got_alpha = out.getpixel(xy)
            assert abs(got_alpha - alpha.getpixel(xy)) <= 1, (xy, got_alpha)
            if mode != "PA":  # a palette quantises the grey: alpha only
                want = opaque_truth.getpixel(xy)
                want = want if isinstance(want, tuple) else (want,)
                assert all(abs(g - w) <= 4 for g, w in zip(got_colour, want)), (xy, got_colour)
    else:
        truth = {"1": colour.convert("1").convert("L"), "F": colour.convert("L")}.get(mode, colour)
        assert mean_abs_diff(out, truth) < 1.5, mode


# ------------------------------------------------ encoder settings reach the encoders


def _sizes(raw: dict, fmt: str) -> tuple[int, bytes]:
    cfg = parse_config(
        {"variants": [{"name": "v", "width": 320, "formats": [fmt]}], "watermark": None, **raw}
    )
    (out,) = process(image_bytes("flower.jpg"), cfg).outputs
    return len(out.data), out.data


@pytest.mark.parametrize(
    ("fmt", "low", "high"), [("jpeg", 20, 95), ("webp", 20, 95), ("avif", 20, 90)]
)
def test_configured_quality_is_what_the_encoder_uses(fmt, low, high):
    small, _ = _sizes({"quality": {fmt: low}}, fmt)
    large, _ = _sizes({"quality": {fmt: high}}, fmt)
    assert small * 1.5 < large, (fmt, small, large)


def test_png_quality_is_the_compression_level():
    stored, data = _sizes({"quality": {"png": 0}}, "png")
    packed, _ = _sizes({"quality": {"png": 9}}, "png")
    assert packed < stored * 0.9
    assert decode(data).format == "PNG"


def test_encoder_options_reach_the_encoders():
    _, fast = _sizes({"encoder": {"webp_method": 0}}, "webp")
    _, slow = _sizes({"encoder": {"webp_method": 6}}, "webp")
    assert fast != slow
    _, avif_fast = _sizes({"encoder": {"avif_speed": 10}}, "avif")
    _, avif_slow = _sizes({"encoder": {"avif_speed": 6}}, "avif")
    assert avif_fast != avif_slow
    _, progressive = _sizes({"encoder": {"jpeg_progressive": True}}, "jpeg")
    _, baseline = _sizes({}, "jpeg")
    assert decode(progressive).info.get("progressive") and not decode(baseline).info.get(
        "progressive"
    )
    optimised, _ = _sizes({"encoder": {"jpeg_optimize": True}}, "jpeg")
    assert optimised < len(baseline)
