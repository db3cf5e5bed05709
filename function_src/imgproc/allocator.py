"""glibc malloc settings that keep big pixel buffers between invocations.

Why: glibc serves every allocation above its mmap threshold (128 KiB at
start, raised on the fly up to 32 MiB) with a fresh `mmap`, and returns the
top of the heap to the kernel once more than the trim threshold is free.
A decoded photo is one 8-90 MiB buffer, and the resized copies are MiB-sized:
each invocation re-faulted them page by page. Keeping them costs nothing in
FC (memory is billed by the configured size, not by what the process holds)
and saves 6-12% of the processing time, measured with `make bench` on all three
benchmark photos (`docs/processor.md`, "Allocator").

The values: buffers up to 32 MiB (the largest fixed mmap threshold that
glibc 2.28, FC's python3.10 runtime, accepts on 64-bit: HEAP_MAX_SIZE / 2;
glibc 2.36 here accepts more) come from the heap and are reused; up to
128 MiB of free heap is kept before trimming. A 24 MP photo's full-size
decode (96 MiB) is still mmapped and given back at once.
An explicit `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` in the
environment wins: nothing is changed then; so does `IMGPIPE_MALLOC_TUNING=off`,
which leaves glibc's defaults (how the figures above were measured:
`IMGPIPE_MALLOC_TUNING=off .venv/bin/imgpipe bench` against `make bench`).
`tests/test_handler_memory.py` sets both MALLOC_ variables to make RSS count
only live memory, which is how it tells that a failed invocation keeps
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 128 * 1024 * 1024

_tuned: bool | None = None


def tune() -> bool:
    """Apply the settings once per process; False where there is no glibc."""
    global _tuned
    if _tuned is None:
        _tuned = _mallopt()
    return _tuned


def _mallopt() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    if any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    if os.environ.get("IMGPIPE_MALLOC_TUNING", "").lower() == "off":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl has no mallopt
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
