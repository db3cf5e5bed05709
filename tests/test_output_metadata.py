"""No output carries the uploader's metadata, in any format, checked by parsing.

Every output format (JPEG, WebP, AVIF, PNG) is read twice: by Pillow
(`getexif()`, its GPS IFD, `info`) and by walking the container itself (JPEG
segments, RIFF chunks, PNG chunks, the AVIF `meta` box's items and colour
properties). A byte search for "GPS" proves nothing: GPS is a binary EXIF
tag (0x8825), not text. Each walker is first shown to find the metadata in
a file Pillow wrote with it, so a walker that sees nothing fails here.
"""

from __future__ import annotations

import io
import struct

import pytest
from conftest import image_bytes
from PIL import Image, ImageCms

from imgproc import parse_config, process

FORMATS = ("jpeg", "webp", "avif", "png")
GPS_IFD = 0x8825
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf'
    b'-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="52,31.2N" exif:GPSLongitude="13,24.0E"/></rdf:RDF></x:xmpmeta>'
)
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS R5"  # Model
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(0x8769)[0xA431] = "093021001234"  # BodySerialNumber
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 1.0)})
    return exif.tobytes()


# ------------------------------------------------------------ container walkers


def jpeg_metadata(data: bytes) -> set[str]:
    assert data[:2] == b"\xff\xd8"
    found, pos = set(), 2
    while pos < len(data):
        assert data[pos] == 0xFF, f"not a marker at {pos}"
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: no metadata after it
            break
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        payload = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and payload.startswith(b"Exif\0"):
            found.add("exif")
        elif marker == 0xE1 and payload.startswith(b"http://ns.adobe.com/xap/1.0/\0"):
            found.add("xmp")
        elif marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0"):
            found.add("icc")
        elif marker == 0xED:
            found.add("iptc")
        elif marker == 0xFE:
            found.add("comment")
        pos += 2 + length
    return found


def webp_metadata(data: bytes) -> set[str]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    kinds = {b"EXIF": "exif", b"XMP ": "xmp", b"ICCP": "icc"}
    found, pos = set(), 12
    while pos + 8 <= len(data):
        fourcc, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if fourcc in kinds:
            found.add(kinds[fourcc])
        if fourcc == b"VP8X":  # the extended header's flags announce the same chunks
            flags = data[pos + 8]
            found |= {k for k, bit in (("icc", 0x20), ("exif", 0x08), ("xmp", 0x04)) if flags & bit}
        pos += 8 + size + (size & 1)
    return found


def png_metadata(data: bytes) -> set[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds = {b"eXIf": "exif", b"iCCP": "icc", b"iTXt": "text", b"tEXt": "text", b"zTXt": "text"}
    found, pos = set(), 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind in kinds:
            found.add(kinds[kind])
        pos += 12 + length
    return found


def _boxes(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        yield kind, pos + header, pos + size
        pos += size


def avif_metadata(data: bytes) -> set[str]:
    """Items of the `meta` box (Exif, XMP as an application/rdf+xml mime item), ICC colr."""
    assert data[4:8] == b"ftyp"
    found: set[str] = set()

    def walk(start: int, end: int) -> None:
        for kind, body, stop in _boxes(data, start, end):
            if kind == b"meta":
                walk(body + 4, stop)  # full box: version and flags first
            elif kind in (b"iprp", b"ipco"):
                walk(body, stop)
            elif kind == b"iinf":
                version = data[body]
                walk(body + 4 + (2 if version == 0 else 4), stop)
            elif kind == b"infe":
                version = data[body]
                assert version >= 2, "infe v0/v1 carry no item type"
                pos = body + 4 + (2 if version == 2 else 4) + 2
                item_type = data[pos : pos + 4]
                name_end = data.index(b"\0", pos + 4)
                if item_type == b"Exif":
                    found.add("exif")
                elif item_type == b"mime":
                    content_type = data[name_end + 1 : data.index(b"\0", name_end + 1)]
                    found.add("xmp" if content_type == b"application/rdf+xml" else "mime")
            elif kind == b"colr" and data[body : body + 4] in (b"prof", b"rICC"):
                found.add("icc")

    walk(0, len(data))
    return found


WALKERS = {"jpeg": jpeg_metadata, "webp": webp_metadata, "avif": avif_metadata, "png": png_metadata}
PILLOW_NAMES = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF", "png": "PNG"}


def pillow_metadata(data: bytes) -> set[str]:
    im = Image.open(io.BytesIO(data))
    im.load()
    found = set()
    exif = im.getexif()
    if len(exif):
        found.add("exif")
    if exif.get_ifd(GPS_IFD) or GPS_IFD in exif:
        found.add("gps")
    keys = {"exif": "exif", "xmp": "xmp", "XML:com.adobe.xmp": "xmp", "icc_profile": "icc"}
    found |= {kind for key, kind in keys.items() if im.info.get(key)}
    if im.info.get("comment"):
        found.add("comment")
    return found


def with_metadata(fmt: str, size: tuple[int, int] = (1600, 1200), *, icc: bool = True) -> bytes:
    """A photo in `fmt` with EXIF (camera, serial, GPS), XMP, and an ICC profile if `icc`."""
    im = Image.open(io.BytesIO(image_bytes("hopper.jpg"))).convert("RGB").resize(size)
    buf = io.BytesIO()
    extra = {"xmp": XMP} if fmt != "png" else {}
    if fmt == "jpeg":
        extra["comment"] = b"shot at 52.52N 13.40E"
    if icc:
        extra["icc_profile"] = ICC
    im.save(buf, PILLOW_NAMES[fmt], exif=camera_exif(), **extra)
    return buf.getvalue()


# ------------------------------------------------------------ the walkers see metadata


@pytest.mark.parametrize("fmt", FORMATS)
def test_walkers_find_metadata_pillow_wrote(fmt):
    data = with_metadata(fmt, (64, 48))
    expected = {"exif", "icc"} | ({"xmp"} if fmt != "png" else set())
    assert WALKERS[fmt](data) >= expected
    assert pillow_metadata(data) >= {"exif", "gps", "icc"}
    clean = io.BytesIO()
    Image.new("RGB", (64, 48)).save(clean, PILLOW_NAMES[fmt])
    assert WALKERS[fmt](clean.getvalue()) == set()
    assert pillow_metadata(clean.getvalue()) == set()


# ------------------------------------------------------------ the outputs carry none

CONFIG = parse_config(
    {
        "variants": [
            {"name": "large", "width": 1200, "formats": list(FORMATS)},
            {"name": "small", "width": 150, "formats": list(FORMATS)},
        ]
    }
)


# With and without an ICC profile: colour management makes new images, and
# without it the source's `info` (EXIF, XMP) travels with the pixels as far
# as the encoder, which must still write none of it.
@pytest.fixture(
    scope="module",
    params=[(fmt, icc) for fmt in FORMATS for icc in (True, False)],
    ids=lambda p: f"{p[0]}{'-icc' if p[1] else ''}",
)
def outputs(request):
    fmt, icc = request.param
    source = with_metadata(fmt, icc=icc)
    assert pillow_metadata(source) >= {"exif", "gps"} | ({"icc"} if icc else set())
    return fmt, process(source, CONFIG).outputs


def test_every_output_format_is_clean(outputs):
    source_format, outs = outputs
    assert sorted({o.format for o in outs}) == sorted(FORMATS)
    for out in outs:
        where = f"{source_format} -> {out.variant}.{out.format}"
        assert WALKERS[out.format](out.data) == set(), where
        assert pillow_metadata(out.data) == set(), where
        assert Image.open(io.BytesIO(out.data)).format == PILLOW_NAMES[out.format], where


def test_the_handler_fixture_with_gps_comes_out_clean():
    """The corpus photo with real camera GPS, through the default six outputs."""
    from imgproc import default_config

    src = image_bytes("exif_gps.jpg")
    assert "gps" in pillow_metadata(src)
    for out in process(src, default_config()).outputs:
        assert WALKERS[out.format](out.data) == set(), out.variant
        assert pillow_metadata(out.data) == set(), out.variant
