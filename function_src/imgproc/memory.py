"""How much memory handling one upload takes, known from its header alone.

Why: an FC instance that passes its configured memory is killed, with no log
line and no rejection record; FC retries the event three times and then
dead-letters it. The pixel limit alone cannot prevent that (a 100 MP 16-bit
scan and a 100 MP JPEG differ by hundreds of MiB), so the pipeline checks
this estimate against the instance's memory before decoding anything and
refuses what cannot fit as `too-large`, naming the memory it needs.

The model follows the pipeline's stages and takes the largest:
- download: the object's bytes twice (oss2 joins the body's chunks);
- decode: the bytes, the decoded pixels in Pillow's storage (4 bytes a pixel
  for RGB, RGBA, LA, CMYK; 2 for 16-bit grey; 1 for L and P) at the decoded
  size (a JPEG decodes at libjpeg's reduced scale, `pipeline._draft`), and
  what the decoder holds beside them (libwebp, libavif and
  libheif decode into buffers of their own that Pillow then copies; a
  progressive JPEG keeps every DCT coefficient of the full-size image;
  `DECODER`);
- convert: the decoded pixels and the 8-bit image `ops.to_8bit` makes from
  them (none for RGB, RGBA, L, LA, CMYK; 16-bit grey goes band by band);
- resize: the 8-bit image, its box-reduced copy (`ops.resize`) and the
  resampler's intermediate;
- outputs: the 8-bit image, every variant and the encoders' buffers.
On top: `BASE_MIB`, the instance before its first upload (interpreter,
Pillow, oss2, the handler), and `WARM_MIB` for the heap earlier invocations
left behind.

The factors are measured, not derived (tests/test_memory_model.py holds the
model against peak RSS measured in a fresh process for every format and
mode at several sizes, and `tests/bench_peaks.py` prints both); `SAFETY`
covers what one run does not show. The estimate errs high: an upload refused that would
just have fitted costs a rejection record; one accepted that does not fit
costs a killed instance and three retries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1 << 20
# The instance before its first upload: interpreter, Pillow, oss2 and the
# handler imported (58 MiB measured, fresh process).
BASE_MIB = 60.0
# A warm instance's heap keeps what earlier invocations freed, in pieces,
# up to `allocator.KEEP_MIB` (beyond it the handler trims the heap after the
# upload); those pieces may fit none of the next upload's buffers.
WARM_MIB = 32.0
# On what the stages hold: what one measurement does not show.
SAFETY = 1.1
# Bytes a pixel in Pillow's own storage, by mode (anything else: 4).
_STORAGE = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# What the decoder holds beside Pillow's image, per decoded pixel and once
# (MiB). libwebp's animation decoder (Pillow's only WebP reader) keeps two
# RGBA canvases and hands Pillow a copy; libavif and libheif decode to YUV
# planes, then to an RGB buffer Pillow copies; libvips (PNG) loads 20-odd
# MiB of code and buffers at its first use.
DECODER = {
    "jpeg": (0.25, 0.0),
    "png": (0.5, 12.0),
    "gif": (0.5, 0.0),
    "bmp": (0.25, 0.0),
    "tiff": (1.0, 0.0),
    "webp": (12.5, 0.0),
    "avif": (7.5, 0.0),
    "heif": (5.5, 0.0),
}
# Bytes a pixel of the 8-bit image `ops.to_8bit` makes, by source mode
# (absent: the source is used as it is).
_CONVERTED = {"1": 1, "F": 1, "I": 1, "I;16": 1, "I;16L": 1, "I;16B": 1, "I;16N": 1}
_AS_IS = frozenset({"RGB", "RGBA", "L", "LA", "CMYK"})
# Per pixel of the largest variant: its watermarked and flattened copies and
# the encoders' working buffers (libwebp converts to YUV and keeps its own
# ARGB copy); and once, the encoders' and the watermark font's code and
# tables, loaded at the first output.
OUTPUT_BYTES = 8.0
OUTPUT_MIB = 16.0


@dataclass(frozen=True)
class Shape:
    """What the header says, and what the pipeline will do with it."""

    kind: str  # sniffed format: jpeg, png, webp...
    mode: str  # Pillow's mode of the decoded pixels
    size: tuple[int, int]  # full size, stored orientation
    decoded: tuple[int, int]  # the size the decoder produces (a JPEG's draft scale)
    file_bytes: int
    transparency: bool = False  # a tRNS colour key or palette transparency: RGBA after to_8bit
    progressive_jpeg_coefficients: int = 0  # bytes of DCT coefficients libjpeg keeps
    largest_variant: tuple[int, int] = (1, 1)  # stored grid
    variant_pixels: int = 1  # every variant together


@dataclass(frozen=True)
class Estimate:
    total_mib: float
    stages: dict[str, float]  # MiB each stage holds above the idle instance, before SAFETY

    def fits(self, memory_mb: int) -> bool:
        return self.total_mib <= memory_mb

    @property
    def needed_mb(self) -> int:
        """The smallest FC memory size (64 MB steps) that holds it."""
        return max(128, math.ceil(self.total_mib / 64) * 64)


def estimate(shape: Shape) -> Estimate:
    """Peak RSS of the instance while handling an upload of `shape`, MiB."""
    pixels = shape.decoded[0] * shape.decoded[1]
    storage = _STORAGE.get(shape.mode, 4)
    decoded = pixels * storage
    if shape.transparency or shape.mode in ("P", "PA"):
        eight_bit = 4
    elif shape.mode in _AS_IS:
        eight_bit = 0
    else:
        eight_bit = _CONVERTED.get(shape.mode, 4)
    base_bpp = eight_bit or storage
    file_bytes = shape.file_bytes
    per_pixel, once_mib = DECODER.get(shape.kind, (4.0, 0.0))
    decoder = pixels * per_pixel + shape.progressive_jpeg_coefficients
    target_w, target_h = shape.largest_variant
    ratio_x = max(1, shape.decoded[0] // max(1, target_w))
    ratio_y = max(1, shape.decoded[1] // max(1, target_h))
    reduced = pixels / (ratio_x * ratio_y) * 4
    if ratio_x < 2 or ratio_y < 2:
        reduced = pixels * 4  # no box step: a full-size premultiplied copy for alpha
    intermediate = target_w * shape.decoded[1] / ratio_y * 4
    outputs = shape.variant_pixels * 4 + target_w * target_h * OUTPUT_BYTES + OUTPUT_MIB * MIB
    live_8bit = base_bpp * pixels
    stages = {
        "download": 2 * file_bytes,
        "decode": file_bytes + decoded + decoder,
        "convert": file_bytes + decoded + eight_bit * pixels,
        "resize": file_bytes + live_8bit + reduced + intermediate,
        "outputs": file_bytes + live_8bit + outputs,
    }
    stages_mib = {name: value / MIB for name, value in stages.items()}
    total = BASE_MIB + WARM_MIB + once_mib + SAFETY * max(stages_mib.values())
    return Estimate(total_mib=total, stages=stages_mib)


def largest_fitting_megapixels(shape: Shape, memory_mb: int) -> float:
    """The largest image of the same kind, mode and aspect that fits, MP."""
    lo, hi = 0.0, 1.0
    if estimate(_scaled(shape, 0.0001)).fits(memory_mb) is False:
        return 0.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if estimate(_scaled(shape, mid)).fits(memory_mb):
            lo = mid
        else:
            hi = mid
    return shape.size[0] * shape.size[1] * lo / 1e6


def _scaled(shape: Shape, area: float) -> Shape:
    """`shape` with `area` times the pixels (and bytes), variants unchanged."""
    side = math.sqrt(area)
    return Shape(
        kind=shape.kind,
        mode=shape.mode,
        size=(max(1, round(shape.size[0] * side)), max(1, round(shape.size[1] * side))),
        decoded=(max(1, round(shape.decoded[0] * side)), max(1, round(shape.decoded[1] * side))),
        file_bytes=round(shape.file_bytes * area),
        transparency=shape.transparency,
        progressive_jpeg_coefficients=round(shape.progressive_jpeg_coefficients * area),
        largest_variant=shape.largest_variant,
        variant_pixels=shape.variant_pixels,
    )
