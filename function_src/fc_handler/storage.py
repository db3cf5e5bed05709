"""Where objects are read and written: OSS in the cloud, directories locally.

The handler only sees this small interface, so the local tools run the real
handler against `DIR/<bucket>/<key>` and the tests drive the real oss2
client against a local HTTP server. Errors are sorted into the two kinds the
handler must tell apart: `NotFound` (the object is gone: nothing to retry)
and `TransientError` (network, 5xx, throttling: raise so FC retries).

`get` takes an optional inclusive byte range (`first`, `last`), as HTTP's
`Range: bytes=first-last` does: the handler reads an upload's header before
it downloads the rest. Like OSS, a range past the end gives what there is.

`head` returns the object's user metadata too: the handler reads a variant's
`source-etag` and `config-fingerprint` to tell whether it is current
(`fc_handler.current`). `delete` of a key that is not there succeeds, as
OSS's DeleteObject does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .localfs import write_atomic


class StorageError(Exception):
    """A storage failure that is neither missing nor transient (e.g. 403)."""


class NotFound(StorageError):
    pass


class TransientError(StorageError):
    """Worth retrying: network errors, 5xx, throttling."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # upper-case hex, no quotes (as OSS events carry it)
    # x-oss-meta-* without the prefix, values decoded (what `put` was given)
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False)


class Storage(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo: ...

    def get(self, bucket: str, key: str, *, first: int = 0, last: int | None = None) -> bytes: ...

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None: ...

    def delete(self, bucket: str, key: str) -> None: ...


class LocalStorage:
    """Buckets as directories: `root/<bucket>/<key>`.

    Headers and metadata go to a sidecar under `root/.imgpipe-meta/` so the
    bucket directories hold exactly the objects. Writes are atomic.
    """

    META_DIR = ".imgpipe-meta"
    # `<key>.meta`, not `<key>.json`: a rejection record is itself JSON, and
    # `x.jpg.json.json` read as a mistake in the demo's folders.
    META_SUFFIX = ".meta"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, bucket: str, key: str, base: Path | None = None) -> Path:
        base = self.root if base is None else base
        bucket_dir = (base / bucket).resolve()
        path = (bucket_dir / key).resolve()
        if bucket_dir not in path.parents or key.endswith("/"):
            raise StorageError(f"key {key!r} does not name a file inside bucket {bucket!r}")
        return path

    def head(self, bucket: str, key: str) -> ObjectInfo:
        data = self._read(bucket, key)  # not `get`: a HEAD is not a download
        try:
            metadata = self.metadata(bucket, key)["metadata"]
        except (OSError, ValueError, KeyError, TypeError):
            metadata = {}  # written by hand, not through `put`: no metadata, like OSS
        return ObjectInfo(
            size=len(data), etag=hashlib.md5(data).hexdigest().upper(), metadata=metadata
        )

    def get(self, bucket: str, key: str, *, first: int = 0, last: int | None = None) -> bytes:
        return self._read(bucket, key, first, last)

    def _read(self, bucket: str, key: str, first: int = 0, last: int | None = None) -> bytes:
        try:
            with self._path(bucket, key).open("rb") as fh:
                fh.seek(first)
                return fh.read() if last is None else fh.read(max(0, last + 1 - first))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"oss://{bucket}/{key}") from None

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        cache_control: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        path = self._path(bucket, key)
        headers = {"Content-Type": content_type, "Cache-Control": cache_control}
        meta = {"headers": headers, "metadata": metadata or {}}
        sidecar = self._sidecar(bucket, key)
        write_atomic(sidecar, json.dumps(meta).encode())
        write_atomic(path, data)

    def delete(self, bucket: str, key: str) -> None:
        """Remove the object and its sidecar; a missing object is not an error."""
        for path in (
            self._path(bucket, key),
            self._sidecar(bucket, key),
        ):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                path.unlink()

    def _sidecar(self, bucket: str, key: str) -> Path:
        """Where `put` keeps an object's headers and metadata (OSS keeps them with it)."""
        return self._path(bucket, key + self.META_SUFFIX, self.root / self.META_DIR)

    def metadata(self, bucket: str, key: str) -> dict[str, Any]:
        """What `put` recorded for an object (local tools and tests)."""
        meta = self._sidecar(bucket, key)
        return json.loads(meta.read_text())
