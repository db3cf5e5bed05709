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

The keys are computed once per source (`outputs_for`): the check HEADs
them, and the handler writes, deletes and reports the same `Outputs`. The
check sends its HEADs at once (`HEAD_WORKERS`): the first variant's and the
rejection record's together, then the other variants' together, so a new
upload costs one round trip and a duplicate delivery two, whatever the
number of variants.

A HEAD that fails for a reason other than "not there" (a 403, say) counts as
"not current": the work is redone, which costs time, never correctness. A
transient failure propagates, like every other storage call.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from imgproc import output_key
from imgproc.config import Config, fingerprint

from .keys import relative_to
from .storage import NotFound, Storage, StorageError, TransientError

ETAG = "source-etag"
FINGERPRINT = "config-fingerprint"


@dataclass(frozen=True)
class Outputs:
    """Every key the handler may write for one source object, in write order."""

    relative: str  # the source key below the source prefix
    variants: tuple[tuple[str, str, str], ...]  # (key, variant name, format)
    rejection: str  # the rejection record's key
    ready: str  # the "ready" manifest's key, written after the variants (manifest.py)

    @property
    def variant_keys(self) -> tuple[str, ...]:
        return tuple(key for key, _, _ in self.variants)

    @property
    def all_keys(self) -> tuple[str, ...]:
        """What a deleted source loses: its variants, its rejection record, its manifest."""
        return (*self.variant_keys, self.rejection, self.ready)

    def key_for(self, variant: str, fmt: str) -> str:
        """The key of one processed output (`imgproc` names it by variant and format)."""
        for key, name, form in self.variants:
            if (name, form) == (variant, fmt):
                return key
        raise KeyError(f"the configuration has no variant {variant!r} in {fmt!r}")


def outputs_for(config: Config, source_prefix: str, rejected_prefix: str, key: str) -> Outputs:
    """The `Outputs` of the source object `key`."""
    relative = relative_to(source_prefix, key)
    variants = tuple(
        (output_key(config.key_template, relative, v.name, fmt), v.name, fmt)
        for v in config.variants
        for fmt in v.formats
    )
    return Outputs(
        relative,
        variants,
        rejection_key(rejected_prefix, relative),
        manifest_key(config, relative),
    )


def rejection_key(rejected_prefix: str, relative: str) -> str:
    return f"{rejected_prefix}{relative}.json"


MANIFEST_FOLDER = "_ready/"


def manifest_key(config: Config, relative: str) -> str:
    """Where the "ready" manifest of the source `relative` goes (manifest.py says why):
    under the key template's literal prefix, where the function may write."""
    return config.key_template.split("{", 1)[0] + MANIFEST_FOLDER + relative + ".json"


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


# HEADs in flight at once: the default six variants in one wave (OSS takes
# thousands of requests a second).
HEAD_WORKERS = 6


def check_outputs(
    storage: Storage,
    *,
    target_bucket: str,
    outputs: Outputs,
    config: Config,
    etag: str,
) -> Check:
    """HEAD the first variant with the rejection record, then the other variants.

    The rejection record's answer (or error) is used only when the first
    variant is not current; the other variants are judged in order, so one
    that is missing or stale decides before a later one's error is raised.
    """
    print_ = fingerprint(config)
    keys = outputs.variant_keys

    def state(key: str) -> str:
        return _state(storage, target_bucket, key, etag, print_)

    with ThreadPoolExecutor(max_workers=HEAD_WORKERS, thread_name_prefix="head") as pool:
        record: Future[str] = pool.submit(state, outputs.rejection)
        first = state(keys[0])
        if first == CURRENT:
            rest = [pool.submit(state, key) for key in keys[1:]]
            for future in rest:
                if future.result() != CURRENT:
                    return Check(None, variants_exist=True, rejection_exists=False)
            return Check(tuple(keys), variants_exist=True, rejection_exists=False)
        found = record.result()
    if found == CURRENT:
        return Check((outputs.rejection,), variants_exist=first != MISSING, rejection_exists=True)
    return Check(None, variants_exist=first != MISSING, rejection_exists=found != MISSING)


def current_outputs(
    storage: Storage,
    *,
    target_bucket: str,
    outputs: Outputs,
    config: Config,
    etag: str,
) -> tuple[str, ...] | None:
    """The keys that make the work for (the source, etag) current, or None if it is not."""
    return check_outputs(
        storage, target_bucket=target_bucket, outputs=outputs, config=config, etag=etag
    ).outputs
