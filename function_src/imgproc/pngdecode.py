"""PNG pixels through libvips' loader (libpng) instead of Pillow's.

Why: Pillow undoes PNG's row filters one byte at a time (ZipDecode.c). On
the 6 MP RGBA benchmark photo that is 60% of its 121 ms decode. libvips, as
the pyvips-binary wheel builds it (with libpng), decodes the file in 59 ms,
pixel for pixel the same (`tests/test_pngdecode.py` compares every byte).
The loader comes from the `pyvips-binary` wheel in the package: its cffi module
`_libvips` is called directly (the `pyvips` wrapper is sdist-only and not
needed for one operation). When the module is missing, `available()` is
False and the pipeline decodes with Pillow as before.

Only PNGs whose pixels *and metadata* come out exactly as Pillow gives them
take this path (`eligible`):
- 8 bits per sample, grey, grey+alpha, RGB or RGBA (Pillow: L, LA, RGB, RGBA).
  Palettes, 1/2/4/16-bit samples and tRNS colour keys (which libvips turns
  into an alpha band, Pillow into `info["transparency"]`) go to Pillow.
- Nothing but image data between the first IDAT and IEND. Pillow reads the
  chunks after the image data (a late eXIf or XMP with the orientation,
  APNG frames) only while it decodes; a file that has any is left to it.
The header is still parsed by Pillow (`Image.open`), so size limits, mode,
ICC profile and early EXIF are what they always were.

libvips runs with one thread (an FC instance below 1 GB has a fraction of a
vCPU) and with its operation cache off, so nothing an invocation decoded is
kept for the next one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .integrity import png_chunks

_MODES = {0: "L", 4: "LA", 2: "RGB", 6: "RGBA"}  # IHDR colour type -> Pillow mode
_BANDS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
_AFTER_IDAT = frozenset({b"IDAT", b"IEND"})
_REFUSED = frozenset({b"tRNS", b"acTL"})
# fail_on=error: a truncated or damaged stream is an error, never a partly
# blank image (libvips' default, "none", fills in what is missing).
_OPTIONS = b"fail_on=error,access=sequential"
# Strip size: smaller strips leave libvips' buffers and the heap smaller
# (peak RSS rise on the 6 MP RGBA photo: 4 MiB 91, 1 MiB 76, 256 KiB 66,
# 64 KiB 65, 32 KiB 64 MiB) at the same speed (138-140 ms).
_STRIP_BYTES = 1 << 16

_lock = threading.Lock()
_vips: _Vips | None = None  # once loaded
_unavailable = False


class DecodeError(Exception):
    """libvips refused the pixel data; the message is libvips' own."""


def available() -> bool:
    """Whether libvips' PNG loader is in this process (loaded on first use)."""
    return _load() is not None


def eligible(data: bytes) -> str | None:
    """The Pillow mode libvips will decode `data` to exactly, or None.

    Walks the chunk headers only (`integrity.png_chunks`; no CRCs:
    `integrity.png_damage` checks those before any decoding).
    """
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    bit_depth, colour_type = data[24], data[25]
    mode = _MODES.get(colour_type)
    if bit_depth != 8 or mode is None:
        return None
    seen_idat = False
    for _, kind, _ in png_chunks(data):
        if kind in _REFUSED or (seen_idat and kind not in _AFTER_IDAT):
            return None
        if kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            break
    return mode if seen_idat else None


def decode(data: bytes, header: Image.Image) -> Image.Image:
    """`data`'s pixels as a Pillow image carrying `header`'s mode, info and format.

    Call it for a PNG whose `eligible` mode is `header.mode`.

    Raises DecodeError when libvips finds the data damaged or cut short.
    """
    vips = _load()
    if vips is None:
        raise RuntimeError("libvips is not available; check pngdecode.available() first")
    im = Image.new(header.mode, header.size, None)  # filled below, strip by strip
    _run_loader(vips, data, im)
    im.info = dict(header.info)
    im.format = header.format
    return im


@dataclass(frozen=True)
class _Vips:
    """The loaded cffi module and the GTypes the loader's properties need."""

    ffi: Any
    lib: Any
    image_type: int
    source_type: int
    int_type: int

    def error(self) -> DecodeError:
        message = self.ffi.string(self.lib.vips_error_buffer()).decode("utf-8", "replace")
        self.lib.vips_error_clear()
        return DecodeError(message.strip() or "libvips failed without a message")

    def set_object(self, obj: Any, name: bytes, value: Any, gtype: int) -> None:
        gvalue = self.ffi.new("GValue *")
        self.lib.g_value_init(gvalue, gtype)
        self.lib.g_value_set_object(gvalue, value)
        self.lib.g_object_set_property(self.ffi.cast("GObject *", obj), name, gvalue)
        self.lib.g_value_unset(gvalue)

    def get(self, obj: Any, name: bytes, gtype: int, read: Callable[[Any], Any]) -> Any:
        """A property of `obj`, taken out of its GValue by `read`."""
        gvalue = self.ffi.new("GValue *")
        self.lib.g_value_init(gvalue, gtype)
        self.lib.g_object_get_property(self.ffi.cast("GObject *", obj), name, gvalue)
        value = read(gvalue)
        self.lib.g_value_unset(gvalue)
        return value

    def new_ref(self, gvalue: Any) -> Any:
        """An object-valued GValue's object, with a reference of our own."""
        value = self.lib.g_value_get_object(gvalue)
        self.lib.g_object_ref(value)
        return value


def _load() -> _Vips | None:
    global _vips, _unavailable
    if _vips is not None or _unavailable:
        return _vips
    with _lock:
        if _vips is None and not _unavailable:
            # Damage is reported through the error buffer (`_Vips.error`);
            # libvips' own warnings on stderr would only repeat it in the FC log.
            os.environ.setdefault("VIPS_WARNING", "0")
            try:
                import _libvips  # from the pyvips-binary wheel
            except ImportError:
                _unavailable = True
                return None
            ffi, lib = _libvips.ffi, _libvips.lib
            if lib.vips_init(b"imgpipe") != 0:  # pragma: no cover - a broken install
                _unavailable = True
                return None
            lib.vips_concurrency_set(1)
            lib.vips_cache_set_max(0)
            lib.vips_cache_set_max_mem(0)
            types = tuple(lib.g_type_from_name(n) for n in (b"VipsImage", b"VipsSource", b"gint"))
            if 0 in types:  # pragma: no cover - a libvips that registers them lazily
                _unavailable = True  # Pillow, rather than every PNG failing to load
                return None
            _vips = _Vips(ffi, lib, *types)
    return _vips


def _run_loader(vips: _Vips, data: bytes, im: Image.Image) -> None:
    """libvips' `pngload_source` on `data`, its pixels copied into `im`.

    The reference-counting follows pyvips' `Operation.call`: build through
    the (disabled) cache, take a reference to the output image, drop the
    operation's outputs and the operation.
    """
    ffi, lib = vips.ffi, vips.lib
    memory = ffi.from_buffer(data)  # no copy; `data` outlives the source
    source = lib.vips_source_new_from_memory(memory, len(data))
    if source == ffi.NULL:
        raise vips.error()
    try:
        op = lib.vips_operation_new(b"pngload_source")
        if op == ffi.NULL:
            raise vips.error()
        try:
            vips.set_object(op, b"source", source, vips.source_type)
            if lib.vips_object_set_from_string(ffi.cast("VipsObject *", op), _OPTIONS) != 0:
                raise vips.error()
            built = lib.vips_cache_operation_build(op)
            if built == ffi.NULL:
                lib.vips_object_unref_outputs(ffi.cast("VipsObject *", op))
                raise vips.error()
        finally:
            lib.g_object_unref(op)
        try:
            image = vips.get(built, b"out", vips.image_type, vips.new_ref)
            image = ffi.cast("VipsImage *", image)
            lib.vips_object_unref_outputs(ffi.cast("VipsObject *", built))
        finally:
            lib.g_object_unref(built)
        try:
            shape = tuple(
                vips.get(image, name, vips.int_type, lib.g_value_get_int)
                for name in (b"width", b"height", b"bands")
            )
            if shape != (*im.size, _BANDS[im.mode]):
                raise RuntimeError(f"libvips decoded {shape}, the header says {im.size} {im.mode}")
            _copy_rows(vips, image, im)
        finally:
            lib.g_object_unref(image)
    finally:
        lib.g_object_unref(source)


def _copy_rows(vips: _Vips, image: Any, im: Image.Image) -> None:
    """Decode top to bottom in strips of about 64 KiB, each unpacked straight
    into `im` by Pillow's raw decoder (as `ImageFile.load` does with tiles).

    Strips, not one `vips_image_write_to_memory`: Pillow keeps RGB and LA
    pixels in 4 bytes, libvips in 3 and 2, so a whole-image buffer would be
    a second full-size copy at the peak (+34 MiB for a 12 MP RGB PNG).
    """
    ffi, lib = vips.ffi, vips.lib
    width, height = im.size
    bands = _BANDS[im.mode]
    rows = max(1, _STRIP_BYTES // (width * bands))
    region = lib.vips_region_new(image)
    if region == ffi.NULL:
        raise vips.error()
    try:
        decoder = Image._getdecoder(im.mode, "raw", (im.mode, 0, 1))
        decoder.setimage(im.im, (0, 0, width, height))
        try:
            length = ffi.new("size_t *")
            for top in range(0, height, rows):
                strip = min(rows, height - top)
                raw = lib.vips_region_fetch(region, 0, top, width, strip, length)
                if raw == ffi.NULL:
                    raise vips.error()
                raw = ffi.gc(raw, lib.g_free, length[0])
                if length[0] != width * strip * bands:  # not 8 bits a sample after all
                    raise RuntimeError(f"libvips gave {length[0]} bytes for {strip} rows")
                decoder.decode(ffi.buffer(raw, length[0]))  # whole rows: all consumed
                del raw  # back to libvips' allocator before the next strip
        finally:
            decoder.cleanup()
    finally:
        lib.g_object_unref(region)
