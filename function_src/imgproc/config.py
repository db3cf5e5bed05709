"""The one configuration object that drives the processor.

Terraform serialises it to JSON into the function's environment
(`IMGPIPE_CONFIG`), `imgpipe process --config` reads the same JSON from a
file, and both end up here, so a setting means the same thing everywhere.
Validation is strict (unknown keys are errors) because a typo in a Terraform
variable should fail at start-up, not silently fall back to a default.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

FORMATS = ("jpeg", "webp", "avif", "png")
# Nine anchor points ("vertical-horizontal"; "center" alone is the middle),
# plus "tiled": the stamp repeated over the whole picture.
POSITIONS = (
    "bottom-right",
    "bottom-left",
    "top-right",
    "top-left",
    "center",
    "top-center",
    "bottom-center",
    "center-left",
    "center-right",
)
PLACEMENTS = (*POSITIONS, "tiled")
# Logos `watermark.image` may name: PNG files shipped in the deployment
# package (build.py zips everything under function_src/). Read once per
# instance, when the configuration is parsed; reading one from OSS instead
# is not built (README "Logo watermark").
WATERMARK_DIR = Path(__file__).resolve().parent.parent / "watermarks"
_LOGO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.png$")
MAX_LOGO_SIDE = 4096
# EXIF fields `metadata.keep` may name -> their tag in IFD0. Only text about
# who made the picture and with what model: GPS (its own IFD), serial numbers
# (BodySerialNumber, LensSerialNumber, maker notes), owner names and dates are
# not in the list and cannot be kept, because the outputs are public.
KEEPABLE_EXIF = {
    "copyright": 0x8298,
    "artist": 0x013B,
    "description": 0x010E,
    "make": 0x010F,
    "model": 0x0110,
}
# Names users will try, refused with the reason rather than "unknown".
NEVER_KEPT_EXIF = ("gps", "serial", "body_serial", "lens_serial", "owner", "maker_note")
TEMPLATE_FIELDS = ("variant", "path", "dir", "stem", "name", "ext", "format")
_HEX_COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")

# `{dir}{name}` keeps the source's own extension in the key, so `a/x.jpg` and
# `a/x.png` get `resized/large/a/x.jpg.webp` and `resized/large/a/x.png.webp`
# instead of overwriting each other's `resized/large/a/x.webp` (issue 15). The
# alternative, refusing to overwrite a variant whose `source-key` metadata names
# another source, would cost a HEAD per output and still leave the second
# upload without variants. Until 2026-11 the default was
# `resized/{variant}/{path}.{ext}`; deployments that set `key_template`
# themselves keep theirs (README "Output keys").
DEFAULT_KEY_TEMPLATE = "resized/{variant}/{dir}{name}.{ext}"


@dataclass(frozen=True)
class Variant:
    name: str
    width: int | None
    height: int | None
    formats: tuple[str, ...]


@dataclass(frozen=True)
class Watermark:
    text: str = "imgpipe"
    opacity: float = 0.5
    position: str = "bottom-right"
    # Font size as a fraction of the variant's shorter side.
    relative_size: float = 0.05
    min_width: int = 600
    colour: tuple[int, int, int] = (255, 255, 255)
    # A logo instead of the text: a PNG (with alpha) in WATERMARK_DIR, its
    # longer side `image_scale` times the variant's shorter side.
    image: str = ""
    image_scale: float = 0.15
    image_sha256: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.text or self.image) and self.opacity > 0

    def logo_path(self) -> Path:
        return WATERMARK_DIR / self.image


@dataclass(frozen=True)
class Metadata:
    """What the outputs carry over from the upload: by default nothing."""

    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class Encoder:
    """Speed/size trade-offs that do not change the quality setting.

    WebP method 2 instead of libwebp's default 4 halves the WebP encode time
    for about +5% WebP bytes; measured with `imgpipe bench` (README), the six
    outputs together stay the size of the reference design's.
    """

    webp_method: int = 2
    avif_speed: int = 8
    jpeg_progressive: bool = False
    jpeg_optimize: bool = False


@dataclass(frozen=True)
class Config:
    variants: tuple[Variant, ...]
    quality: dict[str, int] = field(default_factory=dict)
    background: tuple[int, int, int] = (255, 255, 255)
    watermark: Watermark = field(default_factory=Watermark)
    encoder: Encoder = field(default_factory=Encoder)
    max_megapixels: float = 100.0
    key_template: str = DEFAULT_KEY_TEMPLATE
    metadata: Metadata = field(default_factory=Metadata)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)

    def output_prefixes(self) -> tuple[str, ...]:
        """Literal prefixes of every output key, one per variant name."""
        prefixes = set()
        for v in self.variants:
            head = self.key_template.replace("{variant}", v.name).split("{", 1)[0]
            prefixes.add(head)
        return tuple(sorted(prefixes))

    def to_dict(self) -> dict[str, Any]:
        wm = self.watermark
        out: dict[str, Any] = {
            "variants": [
                {
                    k: val
                    for k, val in (
                        ("name", v.name),
                        ("width", v.width),
                        ("height", v.height),
                        ("formats", list(v.formats)),
                    )
                    if val is not None
                }
                for v in self.variants
            ],
            "quality": dict(self.quality),
            "background": _colour_hex(self.background),
            "watermark": {
                "text": wm.text,
                "opacity": wm.opacity,
                "position": wm.position,
                "relative_size": wm.relative_size,
                "min_width": wm.min_width,
                "colour": _colour_hex(wm.colour),
                # The logo's bytes, not only its name: a new logo under the
                # same name makes every variant stale. Absent when unused, so
                # text-only deployments keep their fingerprint.
                **(
                    {
                        "image": wm.image,
                        "image_scale": wm.image_scale,
                        "image_sha256": wm.image_sha256,
                    }
                    if wm.image
                    else {}
                ),
            },
            "encoder": {
                "webp_method": self.encoder.webp_method,
                "avif_speed": self.encoder.avif_speed,
                "jpeg_progressive": self.encoder.jpeg_progressive,
                "jpeg_optimize": self.encoder.jpeg_optimize,
            },
            "max_megapixels": self.max_megapixels,
            "key_template": self.key_template,
        }
        # Only when set: a deployment that does not use it keeps its
        # fingerprint (and its variants stay current) across this upgrade.
        if self.metadata.keep:
            out["metadata"] = {"keep": list(self.metadata.keep)}
        return out


# Bump when the processor's output changes for the same configuration (a new
# resampling filter, a fixed colour conversion): every variant's fingerprint
# changes with it, so `imgpipe backfill` redoes them all and the handler stops
# calling the old ones current.
# Not bumped for the new default key template: `key_template` is part of the
# fingerprinted configuration, so a deployment on the default already gets a
# new fingerprint (and new keys), while one that sets its own template keeps
# both its keys and its fingerprint; a bump would redo its variants for nothing.
OUTPUT_REVISION = 1


def fingerprint(config: Config) -> str:
    """A short hash of everything in `config` that shapes the variants' bytes.

    Every variant stores it (`config-fingerprint` metadata) next to the
    source's ETag; a variant is current when both match. It covers the whole
    configuration, not one variant's entry, on purpose: the quality, the
    encoder, the watermark and the background apply to every variant, and a
    smaller variant is resized from a larger one (the cascade in
    `pipeline.py`), so one variant's bytes can depend on the others' sizes.
    Changing any of it makes every variant stale, which is the safe side.
    """
    canonical = json.dumps(
        {"revision": OUTPUT_REVISION, "config": config.to_dict()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


DEFAULT_QUALITY = {"jpeg": 85, "webp": 80, "avif": 60, "png": 6}

# The reference design's six outputs: three widths, each as JPEG and WebP.
DEFAULT_VARIANTS = (
    {"name": "large", "width": 1200, "formats": ["jpeg", "webp"]},
    {"name": "medium", "width": 600, "formats": ["jpeg", "webp"]},
    {"name": "small", "width": 150, "formats": ["jpeg", "webp"]},
)


def default_config() -> Config:
    return parse_config({})


def load_config(text: str | bytes | None) -> Config:
    """Parse configuration JSON; empty or missing means all defaults."""
    if text is None or not str(text if isinstance(text, str) else text.decode()).strip():
        return default_config()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config: not valid JSON ({exc})") from None
    return parse_config(raw)


def parse_config(raw: Any) -> Config:
    obj = _obj(raw, "config")
    _no_unknown(
        obj,
        "config",
        {
            "variants",
            "quality",
            "background",
            "watermark",
            "encoder",
            "max_megapixels",
            "key_template",
            "metadata",
        },
    )
    variants = tuple(
        _variant(v, f"variants[{i}]")
        for i, v in enumerate(_list(obj.get("variants", list(DEFAULT_VARIANTS)), "variants"))
    )
    if not variants:
        raise ConfigError("variants: at least one variant is required")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"variants: names must be unique, got {names}")

    quality = dict(DEFAULT_QUALITY)
    for fmt, q in _obj(obj.get("quality", {}), "quality").items():
        if fmt not in FORMATS:
            raise ConfigError(f"quality.{fmt}: unknown format (one of {', '.join(FORMATS)})")
        # PNG "quality" is the zlib compression level.
        hi = 9 if fmt == "png" else 100
        quality[fmt] = _int(q, f"quality.{fmt}", 0 if fmt == "png" else 1, hi)

    template = obj.get("key_template", DEFAULT_KEY_TEMPLATE)
    _template(template)

    return Config(
        variants=variants,
        quality=quality,
        background=_colour(obj.get("background", "#ffffff"), "background"),
        watermark=_watermark(obj.get("watermark", {})),
        encoder=_encoder(obj.get("encoder", {})),
        max_megapixels=_number(obj.get("max_megapixels", 100), "max_megapixels", 0.000001, 10_000),
        key_template=template,
        metadata=_metadata(obj.get("metadata")),
    )


def _metadata(raw: Any) -> Metadata:
    if raw is None:
        return Metadata()
    obj = _obj(raw, "metadata")
    _no_unknown(obj, "metadata", {"keep"})
    keep = _list(obj.get("keep", []), "metadata.keep")
    for name in keep:
        if isinstance(name, str) and name.lower() in NEVER_KEPT_EXIF:
            raise ConfigError(
                f"metadata.keep: {name!r} is never kept (GPS positions, serial numbers and "
                "owner names must not reach public outputs)"
            )
        if name not in KEEPABLE_EXIF:
            raise ConfigError(f"metadata.keep: {name!r} is not one of {', '.join(KEEPABLE_EXIF)}")
    if len(set(keep)) != len(keep):
        raise ConfigError(f"metadata.keep: duplicates in {keep}")
    return Metadata(keep=tuple(keep))


def _variant(raw: Any, where: str) -> Variant:
    obj = _obj(raw, where)
    _no_unknown(obj, where, {"name", "width", "height", "formats"})
    name = obj.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ConfigError(f"{where}.name: 1-64 letters, digits, '-' or '_' required, got {name!r}")
    width = obj.get("width")
    height = obj.get("height")
    if width is None and height is None:
        raise ConfigError(f"{where}: give width, height or both")
    if width is not None:
        width = _int(width, f"{where}.width", 1, 16384)
    if height is not None:
        height = _int(height, f"{where}.height", 1, 16384)
    formats = _list(obj.get("formats", ["jpeg", "webp"]), f"{where}.formats")
    if not formats:
        raise ConfigError(f"{where}.formats: at least one format is required")
    for fmt in formats:
        if fmt not in FORMATS:
            raise ConfigError(f"{where}.formats: {fmt!r} is not one of {', '.join(FORMATS)}")
    if len(set(formats)) != len(formats):
        raise ConfigError(f"{where}.formats: duplicates in {formats}")
    return Variant(name=name, width=width, height=height, formats=tuple(formats))


def _watermark(raw: Any) -> Watermark:
    if raw is None or raw is False:
        return Watermark(text="")
    obj = _obj(raw, "watermark")
    _no_unknown(
        obj,
        "watermark",
        {
            "text",
            "opacity",
            "position",
            "relative_size",
            "min_width",
            "colour",
            "color",
            "image",
            "image_scale",
        },
    )
    d = Watermark()
    text = obj.get("text", d.text)
    if not isinstance(text, str) or len(text) > 200:
        raise ConfigError("watermark.text: a string of at most 200 characters required")
    position = obj.get("position", d.position)
    if position not in PLACEMENTS:
        raise ConfigError(f"watermark.position: {position!r} is not one of {', '.join(PLACEMENTS)}")
    image = obj.get("image", "")
    if image is None:
        image = ""
    sha = _logo(image) if image else ""
    return Watermark(
        image=image,
        image_sha256=sha,
        image_scale=_number(
            obj.get("image_scale", d.image_scale), "watermark.image_scale", 0.01, 1
        ),
        text=text,
        opacity=_number(obj.get("opacity", d.opacity), "watermark.opacity", 0, 1),
        position=position,
        relative_size=_number(
            obj.get("relative_size", d.relative_size), "watermark.relative_size", 0.005, 0.5
        ),
        min_width=_int(obj.get("min_width", d.min_width), "watermark.min_width", 0, 100_000),
        colour=_colour(obj.get("colour", obj.get("color", "#ffffff")), "watermark.colour"),
    )


def _logo(name: Any) -> str:
    """Check the logo file once, at start-up; return its SHA-256 (for the fingerprint)."""
    if not isinstance(name, str) or not _LOGO_NAME.match(name):
        raise ConfigError(
            f"watermark.image: the name of a .png file in the package's watermarks/ folder "
            f"(letters, digits, '.', '-', '_') required, got {name!r}"
        )
    path = WATERMARK_DIR / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"watermark.image: {name!r} is not in the package ({exc.strerror}); "
            "put it in function_src/watermarks/ and rebuild"
        ) from None
    from PIL import Image  # here, not at the top: config stays importable without Pillow

    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise ConfigError(f"watermark.image: {name!r} is a {im.format}, not a PNG")
            if max(im.size) > MAX_LOGO_SIDE:
                raise ConfigError(
                    f"watermark.image: {name!r} is {im.width}x{im.height}; "
                    f"at most {MAX_LOGO_SIDE} px per side"
                )
            im.load()
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder error means an unusable logo
        raise ConfigError(f"watermark.image: {name!r} is not a readable PNG ({exc})") from None
    return hashlib.sha256(data).hexdigest()


def _encoder(raw: Any) -> Encoder:
    obj = _obj(raw, "encoder")
    _no_unknown(obj, "encoder", {"webp_method", "avif_speed", "jpeg_progressive", "jpeg_optimize"})
    d = Encoder()
    return Encoder(
        webp_method=_int(obj.get("webp_method", d.webp_method), "encoder.webp_method", 0, 6),
        avif_speed=_int(obj.get("avif_speed", d.avif_speed), "encoder.avif_speed", 0, 10),
        jpeg_progressive=_bool(
            obj.get("jpeg_progressive", d.jpeg_progressive), "encoder.jpeg_progressive"
        ),
        jpeg_optimize=_bool(obj.get("jpeg_optimize", d.jpeg_optimize), "encoder.jpeg_optimize"),
    )


def _bool(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{where}: true or false required, got {raw!r}")
    return raw


def _template(template: Any) -> None:
    if not isinstance(template, str) or not template:
        raise ConfigError("key_template: a non-empty string required")
    fields = re.findall(r"{([^{}]*)}", template)
    for f in fields:
        if f not in TEMPLATE_FIELDS:
            raise ConfigError(
                f"key_template: unknown field {{{f}}} (allowed: {', '.join(TEMPLATE_FIELDS)})"
            )
    if "{variant}" not in template or ("{ext}" not in template and "{format}" not in template):
        raise ConfigError("key_template: must contain {variant} and {ext} (or {format})")
    if not any(f in fields for f in ("path", "stem", "name")):
        raise ConfigError("key_template: must contain {path}, {stem} or {name}")
    if template.startswith("/") or template.split("{", 1)[0] == "":
        raise ConfigError(
            "key_template: must start with a literal prefix such as 'resized/' "
            "(the handler uses it to ignore its own outputs)"
        )


def _colour(raw: Any, where: str) -> tuple[int, int, int]:
    m = _HEX_COLOUR.match(raw) if isinstance(raw, str) else None
    if not m:
        raise ConfigError(f"{where}: a colour like '#ffffff' required, got {raw!r}")
    h = m.group(1)
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def _colour_hex(c: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


def _obj(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: an object required, got {type(raw).__name__}")
    return raw


def _list(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: a list required, got {type(raw).__name__}")
    return raw


def _no_unknown(obj: dict[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(allowed)})")


def _int(raw: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not lo <= raw <= hi:
        raise ConfigError(f"{where}: an integer from {lo} to {hi} required, got {raw!r}")
    return raw


def _number(raw: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not lo <= raw <= hi:
        raise ConfigError(f"{where}: a number from {lo} to {hi} required, got {raw!r}")
    return float(raw)
