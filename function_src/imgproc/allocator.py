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

What is kept is not always reusable: after large uploads of assorted sizes
the heap holds freed pieces the next image's buffers do not fit, and a warm
instance peaked up to 120 MiB above a fresh one (a 16 MP BMP after a run of
24 MP uploads, issue 22). So after each upload `release` gives the free heap
back (after a garbage collection; `malloc_trim`) once the process holds more
than `KEEP_MIB` above what
it held before its first upload: a photo's buffers (20-50 MiB) stay, the
instance's warm peak stays within `imgproc.memory.WARM_MIB` of a fresh one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 128 * 1024 * 1024

KEEP_MIB = 32

_tuned: bool | None = None
_idle_mib: float | None = None


def tune() -> bool:
    """Apply the settings once per process; False where there is no glibc."""
    global _tuned, _idle_mib
    if _tuned is None:
        _idle_mib = _rss_mib()
        _tuned = _mallopt()
    return _tuned


def release() -> bool:
    """Free what the last upload left when more than `KEEP_MIB` above the
    idle instance is resident; True when it did.

    First the cyclic garbage: Pillow's image objects can sit in reference
    cycles that hold the upload's bytes (through the image's file object)
    until the collector runs; a run of large uploads kept 150 MiB that way.
    Then the free heap goes back to the kernel (`malloc_trim`).
    """
    if _idle_mib is None or not sys.platform.startswith("linux"):
        return False
    rss = _rss_mib()
    if rss is None or rss - _idle_mib <= KEEP_MIB:
        return False
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return False
    return True


def _rss_mib() -> float | None:
    """Resident memory now, MiB (Linux), else None."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


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
