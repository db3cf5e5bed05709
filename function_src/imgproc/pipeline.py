"""Bytes in, variants out: the processor both the function and `imgpipe` run.

No I/O happens here. The order of work is chosen for speed and memory:

1. sniff the format from the first bytes (non-images leave in microseconds);
2. read the header only and refuse oversized pixel counts before decoding;
3. decode the pixels exactly once, under the one check that turns any
   decoder error into `corrupt`; let libjpeg decode at 1/2, 1/4 or 1/8
   scale when the largest variant is that much smaller (`Image.draft`), so
   a 24 MP photo is never fully decoded for 1200 px outputs;
4. resize to the largest variant, then colour-manage, orient and drop an
   opaque alpha channel on that small image only;
5. derive each smaller variant from the smallest one already made (a
   cascade), watermark and flatten per output, encode each output once.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, replace

from PIL import Image, UnidentifiedImageError

from . import allocator, headers, integrity, memory, ops, pngdecode, watermark
from . import encode as _encode
from .config import Config, Variant
from .errors import CORRUPT, EMPTY, TOO_LARGE, UNSUPPORTED, Rejection
from .keys import CONTENT_TYPES
from .sniff import PILLOW_FORMATS, sniff

try:  # HEIC/HEIF decoding; phones upload it. Without it HEIF is `unsupported`.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - the package always ships it
    HEIF_AVAILABLE = False


@dataclass(frozen=True)
class Output:
    variant: str
    format: str
    width: int
    height: int
    data: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True)
class Processed:
    source_format: str
    source_width: int
    source_height: int
    outputs: tuple[Output, ...]
    # Which library decoded the pixels: "libvips" for the PNGs `pngdecode`
    # takes, else "pillow". Logged, so a package whose libvips failed to load
    # (and fell back to Pillow, slower) shows in the function's log.
    decoder: str = "pillow"


def process(data: bytes, config: Config, *, memory_mb: int | None = None) -> Processed:
    """Make every configured variant of `data`, or raise `Rejection`.

    `memory_mb`: the instance's memory; an upload whose estimated peak
    (`imgproc.memory`) does not fit is refused as `too-large` before any
    pixel is decoded. None: no memory check (local tools).
    """
    allocator.tune()
    kind = _kind(data)
    im = _open(data, kind, config)
    width, height = im.size
    if kind == "png" and (damage := integrity.png_damage(data)):
        raise Rejection(CORRUPT, damage)
    _admit(im, kind, len(data), config.variants, memory_mb)
    im, decoder, orientation, targets = _decode(im, data, config.variants)
    exif = _encode.kept_exif(im, config.metadata.keep)  # b"" unless metadata.keep
    icc = im.info.get("icc_profile")
    drafted = im.size != (width, height)  # libjpeg decoded at 1/2, 1/4 or 1/8
    base = ops.to_8bit(im)
    source_format = im.format or kind
    del im  # when `base` is a conversion, the decoded pixels are not needed past here

    made: list[tuple[Variant, Image.Image]] = []
    for variant, stored_size in sorted(targets, key=lambda t: -t[1][0] * t[1][1]):
        source = _cascade_source(made, stored_size, orientation)
        if source is None:
            small = ops.resize(base, stored_size, prefiltered=drafted, box_first=not drafted)
            small = ops.apply_orientation(ops.to_srgb(small, icc), orientation)
            small = ops.drop_opaque_alpha(small)
        else:
            small = ops.resize(source, _oriented(stored_size, orientation))
        made.append((variant, small))

    by_name = {v.name: img for v, img in made}
    outputs = []
    # Variants of a small source are often the very same pixels: encode once.
    encoded: dict[tuple[int, bool, str], bytes] = {}
    for variant in config.variants:
        small = by_name[variant.name]
        marked = watermark.applies(config.watermark, small.width)
        img = watermark.apply(small, config.watermark) if marked else small
        for fmt in variant.formats:
            memo = (id(small), marked, fmt)
            if memo not in encoded:
                pixels = ops.flatten(img, config.background) if fmt == "jpeg" else img
                encoded[memo] = _encode.encode(
                    pixels, fmt, config.quality[fmt], config.encoder, exif=exif
                )
            outputs.append(
                Output(
                    variant=variant.name,
                    format=fmt,
                    width=img.width,
                    height=img.height,
                    data=encoded[memo],
                )
            )
    w, h = _oriented((width, height), orientation)
    return Processed(
        source_format=source_format,
        source_width=w,
        source_height=h,
        outputs=tuple(outputs),
        decoder=decoder,
    )


def admit(head: bytes, size: int, config: Config, *, memory_mb: int | None) -> None:
    """Refuse, from the first bytes of an upload of `size` bytes, what `process`
    would refuse without decoding: not an image, too many pixels, too much
    memory. Returns quietly when the upload may go on, including when `head`
    is too short to hold the whole header (a TIFF's directory at the end, a
    JPEG with long metadata): `process` decides then, with every byte.

    The handler calls it on a ranged GET of the object's start, so a refused
    upload is never downloaded (docs/function.md, "Requests").
    """
    kind = _kind(head)
    complete = len(head) >= size
    try:
        im = _open(head, kind, config)
    except Rejection as rej:
        if rej.reason == TOO_LARGE or complete:
            raise
        stated = headers.size(kind, head)  # WebP, AVIF, HEIF: Pillow wants every byte
        if stated is not None:
            _admit_size(kind, stated, size, config, memory_mb)
        return  # else the header goes on past `head`: `process` decides
    try:
        _admit(im, kind, size, config.variants, memory_mb)
    finally:
        im.close()


def _admit_size(
    kind: str, stated: tuple[int, int], file_bytes: int, config: Config, memory_mb: int | None
) -> None:
    """`_open`'s pixel limit and `_admit`'s memory check on a size a container
    states (`imgproc.headers`), before any decoder has seen the file."""
    width, height = stated
    if width * height > config.max_pixels:
        raise Rejection(
            TOO_LARGE,
            f"{width}x{height} is {width * height / 1e6:.1f} MP, over the "
            f"{config.max_megapixels:g} MP limit",
        )
    if memory_mb is None:
        return
    shape = _shape(
        kind,
        "RGBA",
        stated,
        decoded=stated,
        file_bytes=file_bytes,
        variants=config.variants,
        orientations=[1, 6],
    )
    _refuse_unless_fits(shape, memory_mb)


def _kind(data: bytes) -> str:
    if not data:
        raise Rejection(EMPTY, "the object has no bytes")
    kind = sniff(data[:64])
    if kind is None or (kind == "heif" and not HEIF_AVAILABLE):
        raise Rejection(UNSUPPORTED, f"not a supported image (starts {data[:8].hex()})")
    return kind


def _admit(
    im: Image.Image,
    kind: str,
    file_bytes: int,
    variants: tuple[Variant, ...],
    memory_mb: int | None,
) -> None:
    """Refuse as `too-large` what the instance's memory cannot hold (`imgproc.memory`)."""
    if memory_mb is None:
        return
    _refuse_unless_fits(header_shape(im, kind, file_bytes, variants), memory_mb)


def _refuse_unless_fits(shape: memory.Shape, memory_mb: int) -> None:
    need = memory.estimate(shape)
    if need.fits(memory_mb):
        return
    width, height = shape.size
    fits_mp = memory.largest_fitting_megapixels(shape, memory_mb)
    fits = f"images like it fit up to {fits_mp:.1f} MP" if fits_mp >= 0.1 else "none like it fits"
    raise Rejection(
        TOO_LARGE,
        f"{width}x{height} {shape.kind.upper()} {shape.mode} ({width * height / 1e6:.1f} MP) "
        f"needs about {need.total_mib:.0f} MB to process, more than the function's "
        f"{memory_mb} MB: it fits in memory_mb = {need.needed_mb}; at {memory_mb} MB, {fits}",
    )


def estimate_memory(data: bytes, config: Config) -> memory.Estimate:
    """The memory model's estimate for `data` (benchmarks and tests)."""
    kind = _kind(data)
    with _open(data, kind, config) as im:
        return memory.estimate(header_shape(im, kind, len(data), config.variants))


def limit_estimate(config: Config, megapixels: float | None = None) -> memory.Estimate:
    """What the largest upload the pixel limit accepts needs: an 8-bit RGBA
    PNG (4:3, a file of one byte per 8 pixels) of `megapixels` (default: the
    configured limit). The size a deployment needs so that every upload of
    the common formats within the limit is processed; Terraform's plan check
    (outputs.tf) and `imgpipe bench --e2e`'s recommendation hold it. WebP,
    AVIF and HEIF decode through buffers of their own and need more: those
    over the memory are refused one by one, `too-large`.
    """
    mp = config.max_megapixels if megapixels is None else megapixels
    width = max(1, round(math.sqrt(mp * 1e6 * 4 / 3)))
    size = (width, max(1, math.floor(mp * 1e6 / width)))
    file_bytes = size[0] * size[1] // 8
    shape = _shape(
        "png",
        "RGBA",
        size,
        decoded=size,
        file_bytes=file_bytes,
        variants=config.variants,
        orientations=[1, 6],
    )
    return memory.estimate(shape)


def header_shape(
    im: Image.Image, kind: str, file_bytes: int, variants: tuple[Variant, ...]
) -> memory.Shape:
    """The facts `memory.estimate` needs, from an opened, undecoded image.

    A JPEG's orientation is in its header, so its variants' sizes and its
    draft scale are the pipeline's own (`_draft` on a copy of the header
    state); elsewhere the orientation is read after decoding, so the larger
    of upright and turned variants counts.
    """
    if im.format not in ops.EXIF_IN_HEADER:
        shape = _shape(
            kind,
            im.mode,
            im.size,
            decoded=im.size,
            file_bytes=file_bytes,
            variants=variants,
            orientations=[1, 6],
        )
        return replace(shape, transparency="transparency" in im.info)
    orientation = ops.orientation_of(im)
    decoded = _draft_size(im, _targets(variants, im.size, orientation))
    shape = _shape(
        kind,
        im.mode,
        im.size,
        decoded=decoded,
        file_bytes=file_bytes,
        variants=variants,
        orientations=[orientation],
    )
    if im.info.get("progressive") or im.info.get("progression"):
        return replace(shape, progressive_jpeg_coefficients=_jpeg_coefficient_bytes(im))
    return shape


def _shape(
    kind: str,
    mode: str,
    size: tuple[int, int],
    *,
    decoded: tuple[int, int],
    file_bytes: int,
    variants: tuple[Variant, ...],
    orientations: list[int],
) -> memory.Shape:
    """A `memory.Shape` whose variants are the larger set over `orientations`."""
    targets = max(
        (_targets(variants, size, o) for o in orientations),
        key=lambda ts: sum(w * h for _, (w, h) in ts),
    )
    return memory.Shape(
        kind=kind,
        mode=mode,
        size=size,
        decoded=decoded,
        file_bytes=file_bytes,
        largest_variant=max((t for _, t in targets), key=lambda t: t[0] * t[1]),
        variant_pixels=sum(w * h for _, (w, h) in targets),
    )


def _draft_size(im: Image.Image, targets: list[tuple[Variant, tuple[int, int]]]) -> tuple[int, int]:
    """The size libjpeg will decode `im` at once `_draft` has run (it is not run here)."""
    if len(im.tile) != 1:  # Pillow drafts single-tile JPEGs only
        return im.size
    need_w = max(size[0] for _, size in targets)
    need_h = max(size[1] for _, size in targets)
    width, height = im.size
    scale = min(width // max(1, need_w), height // max(1, need_h))
    for s in (8, 4, 2, 1):
        if scale >= s:
            return (width + s - 1) // s, (height + s - 1) // s
    return width, height


def _jpeg_coefficient_bytes(im: Image.Image) -> int:
    """What libjpeg keeps for a progressive JPEG: every component's DCT
    coefficients at full size (2 bytes each, 64 a block), whatever the scale."""
    layers = getattr(im, "layer", None) or [("", 1, 1, 0)] * 3
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    total = 0
    for _, h, v, _ in layers:
        blocks_w = math.ceil(im.size[0] * h / h_max / 8) + 1
        blocks_h = math.ceil(im.size[1] * v / v_max / 8) + 1
        total += blocks_w * blocks_h * 64 * 2
    return total


def _open(data: bytes, kind: str, config: Config) -> Image.Image:
    # Pillow refuses more than 2x MAX_IMAGE_PIXELS itself and only warns
    # between 1x and 2x; the configured limit is checked just below.
    Image.MAX_IMAGE_PIXELS = config.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS[kind])
    except Image.DecompressionBombError as exc:
        raise Rejection(TOO_LARGE, str(exc)) from None
    except UnidentifiedImageError:
        raise Rejection(CORRUPT, f"looks like {kind} but no decoder accepts it") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed headers raise anything
        raise Rejection(CORRUPT, f"{kind} header unreadable: {type(exc).__name__}: {exc}") from None
    width, height = im.size
    if width <= 0 or height <= 0:
        raise Rejection(CORRUPT, f"{kind} header gives an empty size {width}x{height}")
    if width * height > config.max_pixels:
        raise Rejection(
            TOO_LARGE,
            f"{width}x{height} is {width * height / 1e6:.1f} MP, over the "
            f"{config.max_megapixels:g} MP limit",
        )
    return im


def _decode(
    im: Image.Image, data: bytes, variants: tuple[Variant, ...]
) -> tuple[Image.Image, str, int, list[tuple[Variant, tuple[int, int]]]]:
    """Decode the pixels once under `_load`'s check; then the orientation.

    A JPEG's EXIF is in its header: its orientation is read first so that
    libjpeg can decode at the reduced scale the variants need (`_draft`).
    Every other format is decoded first, because reading its metadata may
    decode the pixels outside `_load` (PNG's `getexif()` does, to find an
    eXIf chunk after the image data) and swallow a decoder error there.
    PNG, GIF, WebP, TIFF, BMP, AVIF and HEIF have no draft mode, so this
    order costs them nothing.

    The decoded image is returned, with the library that decoded it: a PNG
    that `pngdecode` takes comes back as a new image holding libvips' pixels
    and the header's info.
    """
    size = im.size
    if im.format in ops.EXIF_IN_HEADER:
        orientation = ops.orientation_of(im)
        targets = _targets(variants, size, orientation)
        _draft(im, targets)
        return _load(im), "pillow", orientation, targets
    im, decoder = _load_png(im, data) if im.format == "PNG" else (_load(im), "pillow")
    orientation = ops.orientation_of(im)
    return im, decoder, orientation, _targets(variants, size, orientation)


def _load_png(im: Image.Image, data: bytes) -> tuple[Image.Image, str]:
    """libvips' PNG decoder where it gives Pillow's pixels exactly, else Pillow."""
    mode = pngdecode.eligible(data)
    if mode is None or mode != im.mode or not pngdecode.available():
        return _load(im), "pillow"
    try:
        return pngdecode.decode(data, im), "libvips"
    except pngdecode.DecodeError as exc:
        raise Rejection(
            CORRUPT, f"the image data is damaged or cut short (libvips: {exc})"
        ) from None


def _load(im: Image.Image) -> Image.Image:
    """Decode the first frame completely, or reject: never half an image."""
    try:
        im.seek(0)
        im.load()
    except MemoryError:
        raise
    except Image.DecompressionBombError as exc:
        raise Rejection(TOO_LARGE, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, ValueError, struct.error...
        what = f"{type(exc).__name__}: {exc}"
        raise Rejection(CORRUPT, f"the image data is damaged or cut short ({what})") from None
    return im


def _targets(
    variants: tuple[Variant, ...], size: tuple[int, int], orientation: int
) -> list[tuple[Variant, tuple[int, int]]]:
    """Each variant's size in the *stored* (pre-rotation) pixel grid.

    A variant fits its box and the limits of every format it is written in
    (`encode.LIMITS`): a 1000x20000 screenshot's `large` variant is
    819x16383 in both JPEG and WebP, so a <picture>'s sources agree.
    """
    upright = _oriented(size, orientation)
    targets = []
    for v in variants:
        side, pixels = _encode.limits(v.formats)
        box_w = side if v.width is None else min(v.width, side)
        box_h = side if v.height is None else min(v.height, side)
        fitted = ops.fit_size(*upright, box_w, box_h, max_pixels=pixels)
        targets.append((v, _oriented(fitted, orientation)))
    return targets


def _oriented(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in ops.SWAPS_AXES else size


def _draft(im: Image.Image, targets: list[tuple[Variant, tuple[int, int]]]) -> None:
    """Ask libjpeg for the smallest DCT scale that still covers every variant.

    Pillow's `draft` offers 1/2, 1/4 and 1/8; libjpeg-turbo also scales by
    3/8 (asked for as 1/3, it picks the smallest M/8 at least that), which
    covers a 12 MP photo's 1200 px variant where 1/4 does not. Decoding at
    3/8 instead of 1/2 leaves the resampler 1500 px instead of 2000 px rows
    (18 instead of 29 ms on the 12 MP benchmark photo) at 50.3 dB PSNR
    against LANCZOS from the full-size pixels (51.1 dB from 1/2).
    """
    need_w = max(size[0] for _, size in targets)
    need_h = max(size[1] for _, size in targets)
    width, height = im.size
    im.draft(im.mode, (need_w, need_h))
    if im.decoderconfig != (2, 0) or len(im.tile) != 1:
        return
    w38, h38 = (width * 3 + 7) // 8, (height * 3 + 7) // 8  # libjpeg's jdiv_round_up
    if w38 < need_w or h38 < need_h:
        return
    tile = im.tile[0]
    x0, y0 = tile.extents[:2] if tile.extents else (0, 0)
    im.tile = [tile._replace(extents=(x0, y0, x0 + w38, y0 + h38))]
    im._size = (w38, h38)
    im.decoderconfig = (3, 0)


def _cascade_source(
    made: list[tuple[Variant, Image.Image]], stored_size: tuple[int, int], orientation: int
) -> Image.Image | None:
    """The smallest finished variant that still covers the new one."""
    want = _oriented(stored_size, orientation)
    best = None
    for _, img in made:
        covers = img.width >= want[0] and img.height >= want[1]
        if covers and (best is None or img.width * img.height < best.width * best.height):
            best = img
    return best
