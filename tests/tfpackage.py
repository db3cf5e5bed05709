"""Packages for the Terraform tests, the size `make package` really builds (test helper).

The offline plans used to be fed a 159-byte zip, so nothing saw that the
real 20 MiB package, sent inline, is five times the provider's 4 MiB gRPC
message limit (issue 21). Every plan now gets a package of the real one's
size at least: a zip of incompressible bytes (random bytes do not shrink, as
the real wheels barely do) and its manifest written by build.py's own
`digests`, so the sha256, CRC-64 and Content-MD5 Terraform reads are
the ones build.py would write for those bytes.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import build

MIB = 1024 * 1024
# What `make package` built for python3.10 at the time of writing (19.94 MiB,
# docs/development.md), rounded up: the plans must hold a package at least
# this large.
REAL_PACKAGE_BYTES = 21 * MIB


def write_package(dest: Path, zipped_bytes: int = REAL_PACKAGE_BYTES, seed: int = 0) -> Path:
    """dest/function.zip of exactly `zipped_bytes` and dest/function.json; returns dest."""
    dest.mkdir(parents=True, exist_ok=True)
    zip_path = dest / "function.zip"
    index = b"def handler(event, context):\n    return None\n"
    # A stored (uncompressed) member of random bytes, sized so the whole
    # file comes out at zipped_bytes: write once, measure the overhead, fix.
    overhead = _zip(zip_path, index, b"")
    filler = max(0, zipped_bytes - overhead)
    blob = random.Random(seed).randbytes(filler)
    size = _zip(zip_path, index, blob)
    if size != zipped_bytes and zipped_bytes >= overhead:
        raise AssertionError(f"package came out at {size} bytes, wanted {zipped_bytes}")
    data = zip_path.read_bytes()
    manifest = {"handler": "index.handler", "path": str(zip_path), **build.digests(data)}
    manifest["_note"] = "a test package of the real one's size (tests/tfpackage.py)"
    (dest / "function.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dest


def _zip(path: Path, index: bytes, blob: bytes) -> int:
    fixed = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo("index.py", fixed), index)
        zf.writestr(zipfile.ZipInfo("filler.bin", fixed), blob)
    return path.stat().st_size
