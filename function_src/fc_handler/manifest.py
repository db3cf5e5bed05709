"""The "ready" manifest: one small JSON object, written after every variant.

A client that uploaded a photo wants to know when its variants can be
shown. The function answers with an object in the target bucket, at a key
the client can compute (`current.manifest_key`), written only once every variant's
PUT has succeeded: its existence means "all variants are there", and its
`source.etag` says for which upload (the ETag OSS returned to the client's
PostObject/PutObject). A client polls it with a GET (404 until it exists),
through a signed URL like the variants themselves; docs/uploading.md,
"Knowing when variants are ready".

Why a manifest, not an event or a guessable last variant: it needs no new
cloud service (no MNS topic, no EventBridge rule, no polling of six keys),
it costs one PUT of about 1 KB per processed photo, and it tells a client
everything it needs to show the photo (keys, formats, sizes, ETags) in one
GET. A rejected upload has its rejection record instead
(`current.rejection_key`), which also carries the source's ETag.

Where: `<literal prefix of key_template>_ready/<relative>.json`, e.g.
`resized/_ready/2026/cat.jpg.json`. Under the key template's literal
prefix, so the function's RAM policy (write, read and delete under that
prefix: modules/iam) already covers it and no Terraform changes; a variant
key always ends in an image format's extension, never `.json`, so no
variant can collide with a manifest.

A manifest is stamped like a variant (`current.stamp`). A duplicate
delivery whose variants are current checks that the manifest is there too
(`ensure`, one HEAD) and rewrites it if not, so a crash between the last
variant and the manifest is healed by FC's retry. The manifest goes with
its variants: a deleted source, or one overwritten by a non-image, loses it
(DELETE_VARIANTS_WITH_SOURCE).

Python 3.10 compatible; never imports the local tools.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from imgproc.config import fingerprint
from imgproc.keys import CONTENT_TYPES

from .current import ETAG, FINGERPRINT, Outputs, stamp
from .storage import ObjectInfo, Storage, StorageError, TransientError

if TYPE_CHECKING:
    from imgproc.pipeline import Output

    from .settings import Settings

CONTENT_TYPE = "application/json"
# A client polls this key; caches must not keep its 404 or an old version.
CACHE_CONTROL = "no-cache"
FORMAT_VERSION = 1


def etag_of(data: bytes) -> str:
    """OSS's ETag of an object written by one PutObject: the MD5 of its bytes,
    upper-case hex (as `ObjectInfo.etag` and OSS events carry it)."""
    return hashlib.md5(data).hexdigest().upper()


def body(settings: Settings, source_key: str, source: ObjectInfo, variants: list[dict]) -> bytes:
    """The manifest's JSON: the source, and each variant's key, type, bytes and ETag."""
    doc = {
        "version": FORMAT_VERSION,
        "source": {
            "bucket": settings.source_bucket,
            "key": source_key,
            "etag": source.etag,
            "bytes": source.size,
        },
        "config_fingerprint": fingerprint(settings.processor),
        "variants": variants,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def _entry(key: str, variant: str, fmt: str, size: int, etag: str) -> dict:
    return {
        "key": key,
        "variant": variant,
        "format": fmt,
        "content_type": CONTENT_TYPES[fmt],
        "bytes": size,
        "etag": etag,
    }


def _put(
    storage: Storage,
    settings: Settings,
    source_key: str,
    source: ObjectInfo,
    *,
    key: str,
    variants: list[dict],
) -> str:
    storage.put(
        settings.target_bucket,
        key,
        body(settings, source_key, source, variants),
        content_type=CONTENT_TYPE,
        cache_control=CACHE_CONTROL,
        metadata=stamp(settings.source_bucket, source_key, source.etag, settings.processor),
    )
    return key


def write(
    storage: Storage,
    settings: Settings,
    source_key: str,
    source: ObjectInfo,
    *,
    outputs: Outputs,
    written: list[tuple[str, Output]],
) -> str:
    """PUT the manifest of the variants just written, (key, output) each; return its key.

    Called after every variant's PUT succeeded, never before."""
    variants = [
        _entry(key, out.variant, out.format, len(out.data), etag_of(out.data))
        for key, out in written
    ]
    return _put(storage, settings, source_key, source, key=outputs.ready, variants=variants)


def ensure(
    storage: Storage, settings: Settings, source_key: str, source: ObjectInfo, outputs: Outputs
) -> bool:
    """Write the manifest of current variants if it is missing or stale; True if written.

    One HEAD when it is there (a duplicate delivery); otherwise one HEAD per
    variant for its size and ETag, then the PUT.
    """
    config = settings.processor
    try:
        meta = storage.head(settings.target_bucket, outputs.ready).metadata
        same_upload = meta.get(ETAG, "").upper() == source.etag.upper()
        if same_upload and meta.get(FINGERPRINT) == fingerprint(config):
            return False
    except TransientError:
        raise
    except StorageError:  # missing, or a 403: write it (a PUT is allowed where a HEAD is)
        pass
    variants = []
    for key, variant, fmt in outputs.variants:
        info = storage.head(settings.target_bucket, key)
        variants.append(_entry(key, variant, fmt, info.size, info.etag))
    _put(storage, settings, source_key, source, key=outputs.ready, variants=variants)
    return True
