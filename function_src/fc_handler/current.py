"""Whether the work for one source object is already done: "current means current".

Every variant the handler writes carries the source's ETag (`source-etag`)
and the configuration's fingerprint (`config-fingerprint`,
`imgproc.config.fingerprint`); so does a rejection record. The work for a
source is current when either

- every variant the configuration asks for exists and carries both the
  source's ETag and the fingerprint, or
- a rejection record exists and carries both (the same bytes under the same
  configuration would be refused again).

The handler asks before downloading the source, so a duplicate delivery, a
retry after a partial success, or a backfill racing a new upload costs a few
HEAD requests and writes nothing; `imgpipe backfill` asks the same question,
through this same code, before it invokes the function at all.

A HEAD that fails for a reason other than "not there" (a 403, say) counts as
"not current": the work is redone, which costs time, never correctness. A
transient failure propagates, like every other storage call.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgproc import output_key
from imgproc.config import Config, fingerprint

from .keys import relative_to
from .storage import NotFound, Storage, StorageError, TransientError

ETAG = "source-etag"
FINGERPRINT = "config-fingerprint"


def variant_keys(config: Config, relative: str) -> list[str]:
    """Every output key the configuration makes for `relative`, in write order."""
    return [
        output_key(config.key_template, relative, v.name, fmt)
        for v in config.variants
        for fmt in v.formats
    ]


def rejection_key(rejected_prefix: str, relative: str) -> str:
    return f"{rejected_prefix}{relative}.json"


def stamp(source_bucket: str, source_key: str, etag: str, config: Config) -> dict[str, str]:
    """The metadata every variant and rejection record is written with."""
    return {
        "source-bucket": source_bucket,
        "source-key": source_key,
        ETAG: etag,
        FINGERPRINT: fingerprint(config),
    }


MISSING, STALE, CURRENT = "missing", "stale", "current"


def _state(storage: Storage, bucket: str, key: str, etag: str, print_: str) -> str:
    try:
        info = storage.head(bucket, key)
    except TransientError:
        raise
    except NotFound:
        return MISSING
    except StorageError:
        return STALE  # a 403: it may exist; redo the work rather than skip it
    meta = info.metadata
    if meta.get(ETAG, "").upper() == etag.upper() and meta.get(FINGERPRINT) == print_:
        return CURRENT
    return STALE


@dataclass(frozen=True)
class Check:
    """What the HEADs found: the current keys, if any, and what else exists.

    The handler uses the rest to delete only what is there: the old variants
    when an image is overwritten by a non-image, the old rejection record
    when a non-image is overwritten by an image (a DeleteObject costs a
    request like a PUT; most uploads have neither).
    """

    outputs: tuple[str, ...] | None
    variants_exist: bool
    rejection_exists: bool


def check_outputs(
    storage: Storage,
    *,
    target_bucket: str,
    source_prefix: str,
    rejected_prefix: str,
    config: Config,
    key: str,
    etag: str,
) -> Check:
    """HEAD the first variant, then the others or the rejection record."""
    relative = relative_to(source_prefix, key)
    print_ = fingerprint(config)
    keys = variant_keys(config, relative)
    first = _state(storage, target_bucket, keys[0], etag, print_)
    if first == CURRENT:
        if all(_state(storage, target_bucket, k, etag, print_) == CURRENT for k in keys[1:]):
            return Check(tuple(keys), variants_exist=True, rejection_exists=False)
        return Check(None, variants_exist=True, rejection_exists=False)
    record = rejection_key(rejected_prefix, relative)
    state = _state(storage, target_bucket, record, etag, print_)
    if state == CURRENT:
        return Check((record,), variants_exist=first != MISSING, rejection_exists=True)
    return Check(None, variants_exist=first != MISSING, rejection_exists=state != MISSING)


def current_outputs(
    storage: Storage,
    *,
    target_bucket: str,
    source_prefix: str,
    rejected_prefix: str,
    config: Config,
    key: str,
    etag: str,
) -> tuple[str, ...] | None:
    """The keys that make the work for (key, etag) current, or None if it is not.

    Stops at the first variant that is missing or stale, so an object that
    was never processed costs one HEAD (plus one for the rejection record).
    """
    return check_outputs(
        storage,
        target_bucket=target_bucket,
        source_prefix=source_prefix,
        rejected_prefix=rejected_prefix,
        config=config,
        key=key,
        etag=etag,
    ).outputs
