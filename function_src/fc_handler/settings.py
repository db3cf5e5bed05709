"""The function's configuration, read from the environment Terraform sets.

Validated once, at the first invocation of an instance, with errors that
name the variable: a typo in a Terraform variable should fail the first
event loudly (and dead-letter it), not process with a silent default.
Every variable is documented in the README's "Function environment" table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from imgproc import Config, ConfigError, load_config

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
# A CDN domain's shape as variables.tf's `serving.cdn_domain` accepts it:
# lower-case labels, 5-67 characters in all (the provider's limit).
_HOST = re.compile(
    r"^(?=.{5,67}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)

# name -> (default, description). None as default means required.
VARIABLES: dict[str, tuple[str | None, str]] = {
    "SOURCE_BUCKET": (None, "bucket users upload to"),
    "TARGET_BUCKET": (None, "bucket the variants and rejection records are written to"),
    "SOURCE_PREFIX": ("uploads/", "only keys under this prefix are processed"),
    "IMAGE_SUFFIXES": (
        ".jpg,.jpeg,.png,.webp,.gif,.tif,.tiff,.bmp,.heic,.heif,.avif",
        "comma-separated key endings processed, any case; other keys are ignored unread",
    ),
    "IMGPIPE_CONFIG": ("{}", "processor configuration JSON (variants, quality, watermark...)"),
    "REJECTED_PREFIX": ("rejected/", "where rejection records go in the target bucket"),
    "MAX_OBJECT_BYTES": ("52428800", "larger objects are ignored without downloading"),
    "CACHE_CONTROL": ("public, max-age=86400", "Cache-Control of every variant"),
    "OSS_ENDPOINT": ("", "OSS endpoint; default: the region's internal endpoint"),
    "DELETE_VARIANTS_WITH_SOURCE": (
        "true",
        "true or false: a deleted source, or one overwritten by a non-image, loses its variants",
    ),
    "CDN_REFRESH_DOMAIN": (
        "",
        "serving mode cdn: the CDN domain whose cached copies of rewritten or deleted "
        "variants are refreshed (RefreshObjectCaches); empty: no refresh",
    ),
    "CDN_ENDPOINT": ("", "CDN API endpoint; default https://cdn.aliyuncs.com"),
    "IMGPIPE_LOCAL_BUCKETS": ("", "local tools only: a directory of buckets instead of OSS"),
}


class SettingsError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


_SUFFIX = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9._+-]{0,15}$")


def parse_suffixes(value: str) -> tuple[str, ...]:
    """IMAGE_SUFFIXES (comma-separated) as a tuple of lower-case endings."""
    items = [s.strip() for s in value.split(",")]
    bad = [s for s in items if not _SUFFIX.match(s)]
    if bad or not items:
        raise SettingsError(
            f"IMAGE_SUFFIXES: comma-separated endings like .jpg required, got {value!r}"
        )
    return tuple(dict.fromkeys(s.lower() for s in items))


@dataclass(frozen=True)
class Settings:
    source_bucket: str
    target_bucket: str
    source_prefix: str
    processor: Config
    rejected_prefix: str
    max_object_bytes: int
    cache_control: str
    oss_endpoint: str
    local_buckets: str
    delete_variants_with_source: bool = True
    cdn_refresh_domain: str = ""
    cdn_endpoint: str = ""
    # The event pattern cannot filter endings within EventBridge's 5
    # expressions per field in every case (modules/events/main.tf): this does.
    image_suffixes: tuple[str, ...] = parse_suffixes(VARIABLES["IMAGE_SUFFIXES"][0])

    def is_image_key(self, key: str) -> bool:
        return is_image_key(key, self.image_suffixes)

    @property
    def guarded_prefixes(self) -> tuple[str, ...]:
        """Keys the function writes itself, never to be processed again."""
        return (*self.processor.output_prefixes(), self.rejected_prefix)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str:
            default = VARIABLES[name][0]
            value = env.get(name)
            if value is None or (value == "" and default is None):
                if default is None:
                    raise SettingsError(f"{name} is required ({VARIABLES[name][1]})")
                return default
            return value

        source_bucket = _bucket(get("SOURCE_BUCKET"), "SOURCE_BUCKET")
        target_bucket = _bucket(get("TARGET_BUCKET"), "TARGET_BUCKET")
        source_prefix = _prefix(get("SOURCE_PREFIX"), "SOURCE_PREFIX", allow_empty=True)
        rejected_prefix = _prefix(get("REJECTED_PREFIX"), "REJECTED_PREFIX", allow_empty=False)
        try:
            processor = load_config(get("IMGPIPE_CONFIG"))
        except ConfigError as exc:
            raise SettingsError(f"IMGPIPE_CONFIG: {exc}") from None
        raw_max = get("MAX_OBJECT_BYTES")
        if not raw_max.isdigit() or int(raw_max) <= 0:
            raise SettingsError(f"MAX_OBJECT_BYTES: a positive integer required, got {raw_max!r}")
        suffixes = parse_suffixes(get("IMAGE_SUFFIXES"))
        raw_delete = get("DELETE_VARIANTS_WITH_SOURCE")
        if raw_delete not in ("true", "false"):
            msg = f"DELETE_VARIANTS_WITH_SOURCE: true or false required, got {raw_delete!r}"
            raise SettingsError(msg)

        cdn_domain = get("CDN_REFRESH_DOMAIN")
        if cdn_domain and not _HOST.match(cdn_domain):
            raise SettingsError(f"CDN_REFRESH_DOMAIN: a host name required, got {cdn_domain!r}")

        settings = cls(
            source_bucket=source_bucket,
            target_bucket=target_bucket,
            source_prefix=source_prefix,
            processor=processor,
            rejected_prefix=rejected_prefix,
            max_object_bytes=int(raw_max),
            cache_control=get("CACHE_CONTROL"),
            oss_endpoint=get("OSS_ENDPOINT"),
            local_buckets=get("IMGPIPE_LOCAL_BUCKETS"),
            delete_variants_with_source=raw_delete == "true",
            image_suffixes=suffixes,
            cdn_refresh_domain=cdn_domain,
            cdn_endpoint=get("CDN_ENDPOINT"),
        )
        if source_bucket == target_bucket:
            for guarded in settings.guarded_prefixes:
                if source_prefix.startswith(guarded):
                    raise SettingsError(
                        f"SOURCE_PREFIX {source_prefix!r} lies under the function's own output "
                        f"prefix {guarded!r} in the same bucket: nothing would ever be processed"
                    )
        return settings


def _bucket(value: str, name: str) -> str:
    if not _BUCKET.match(value):
        raise SettingsError(f"{name}: {value!r} is not a valid OSS bucket name")
    return value


def is_image_key(key: str, suffixes: tuple[str, ...]) -> bool:
    """Whether `key` ends in one of `suffixes` (lower case), in any case (.JPG, .Jpeg, .jPg).

    The one test of "is this an image key", for the handler and for
    `imgpipe backfill`, which skips what the handler would ignore.
    """
    return key.lower().endswith(suffixes)


def _prefix(value: str, name: str, *, allow_empty: bool) -> str:
    if value.startswith("/"):
        raise SettingsError(f"{name}: must not start with '/', got {value!r}")
    if value and not value.endswith("/"):
        raise SettingsError(f"{name}: must end with '/', got {value!r}")
    if not value and not allow_empty:
        raise SettingsError(f"{name}: must not be empty")
    return value
