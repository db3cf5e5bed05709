"""`imgproc.allocator`: glibc takes the settings, and the environment can say no.

Each case runs in a fresh interpreter: the settings are applied once per
process, as in FC.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "function_src"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def _run(code: str, **env: str) -> str:
    """What `code` prints in a fresh interpreter, with only `env`'s malloc settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "IMGPIPE_MALLOC"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, "PYTHONPATH": str(SRC), **env},
    )
    return done.stdout.strip()


def _tune(**env: str) -> str:
    return _run("from imgproc import allocator; print(allocator.tune())", **env)


def test_glibc_accepts_both_settings():
    """mallopt returns 0 for a value glibc refuses (glibc 2.28 refuses an
    mmap threshold over 32 MiB on 64-bit): True means both took effect."""
    assert _tune() == "True"


def test_explicit_malloc_environment_wins():
    assert _tune(MALLOC_MMAP_THRESHOLD_="131072") == "False"
    assert _tune(MALLOC_TRIM_THRESHOLD_="131072") == "False"


def test_switch_off():
    assert _tune(IMGPIPE_MALLOC_TUNING="off") == "False"
    assert _tune(IMGPIPE_MALLOC_TUNING="on") == "True"


def test_process_applies_it():
    code = (
        "from imgproc import allocator, default_config, process\n"
        "assert allocator._tuned is None\n"
        "try:\n    process(b'', default_config())\nexcept Exception:\n    pass\n"
        "print(allocator._tuned)"
    )
    assert _run(code) == "True"
