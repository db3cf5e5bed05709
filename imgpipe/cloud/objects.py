"""Listing a bucket's objects: OSS (`list_oss`) or a local folder (`list_local`).

Both yield `Listed` in OSS's key order, one page in memory at a time, so a
command walks a deployed bucket and the demo's folder the same way.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oss2

from imgpipe.cloud.errors import ListingError


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    etag: str  # upper-case hex, no quotes


def list_local(root: Path, bucket: str, prefix: str, after: str = "") -> Iterator[Listed]:
    """Objects of a local bucket under `prefix` with keys after `after`, in key order.

    OSS lists keys in byte order; walking each directory with its entries
    sorted by name, a directory's name followed by "/", gives the same order
    (a key under `a/` sorts where "a/" sorts). Directories wholly before
    `after`, or beside the prefix, are not entered. The writer's temporary
    files (`.name.*.part`) are not objects.
    """
    base = root / bucket

    def walk(directory: Path, rel: str) -> Iterator[Listed]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        named = sorted((e.name + ("/" if e.is_dir() else ""), e) for e in entries)
        del entries
        for name, entry in named:
            key = rel + name
            if not (key.startswith(prefix) or prefix.startswith(key)):
                continue
            if name.endswith("/"):
                if after and after > key and not after.startswith(key):
                    continue  # everything in it sorts before `after`
                yield from walk(Path(entry.path), key)
            elif key > after and key.startswith(prefix):
                if name.startswith(".") and name.endswith(".part"):
                    continue
                data = Path(entry.path).read_bytes()
                yield Listed(key, len(data), hashlib.md5(data).hexdigest().upper())

    yield from walk(base, "")


def list_oss(
    bucket: Any,
    prefix: str,
    after: str = "",
    page: int = 1000,
    *,
    retries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Listed]:
    """ListObjects page by page from `marker=after`; one page in memory at a time.

    A page that fails with 5xx, 429 or no answer is asked again with backoff
    (0.5 s, 1, 2, 4, 8); after that the listing stops with a ListingError
    naming the marker, and the checkpoint lets a rerun resume there.
    """
    marker = after
    while True:
        for attempt in range(retries + 1):
            try:
                result = bucket.list_objects(prefix=prefix, marker=marker, max_keys=page)
                break
            except (oss2.exceptions.RequestError, oss2.exceptions.ServerError) as exc:
                status = getattr(exc, "status", 0) or 0
                transient = isinstance(exc, oss2.exceptions.RequestError) or (
                    status >= 500 or status == 429
                )
                if not transient or attempt == retries:
                    # oss2 gives a request that got no answer the status -2: not HTTP's
                    why = (
                        f"no answer ({type(exc).__name__})"
                        if isinstance(exc, oss2.exceptions.RequestError)
                        else f"HTTP {status} {getattr(exc, 'code', '') or type(exc).__name__}"
                    )
                    msg = (
                        f"listing oss://{bucket.bucket_name}/{prefix} after {marker!r} "
                        f"failed: {why}"
                    )
                    raise ListingError(msg) from None
                sleep(min(0.5 * 2**attempt, 8.0))
        for obj in result.object_list:
            if not obj.key.endswith("/"):  # folder markers
                yield Listed(obj.key, int(obj.size), obj.etag.strip('"').upper())
        if not result.is_truncated:
            return
        marker = result.next_marker
