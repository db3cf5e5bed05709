"""Shared fixtures: the corpus copied into tests/data (see PROVENANCE.md)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from PIL import Image

DATA = Path(__file__).parent / "data"
IMAGES = DATA / "images"
BENCH = DATA / "bench"

# Property tests: `make test` runs the "ci" profile, derandomized and with no
# example database, so two runs draw the same examples and a failure from an
# earlier run is never replayed from .hypothesis/. `make fuzz` runs "fuzz":
# random, FUZZ_EXAMPLES examples per test; what it finds becomes an
# explicit @example. Neither prints a reproduction blob (inputs are drawn as
# short descriptions that print themselves).
_COMMON = {"deadline": None, "print_blob": False, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("fuzz", derandomize=False, database=None, **_COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def budget(ci_examples: int) -> int:
    """max_examples for a property test: its own CI count, or FUZZ_EXAMPLES."""
    if PROFILE == "fuzz":
        return int(os.environ.get("FUZZ_EXAMPLES", "10000"))
    return ci_examples


def manifest() -> list[dict[str, str]]:
    with (DATA / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def image_bytes(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.fixture
def corpus_dir() -> Path:
    return IMAGES


@pytest.fixture(autouse=True)
def _pillow_pixel_limit():
    """`process()` sets Pillow's global MAX_IMAGE_PIXELS from its config (as
    the function's one configuration should); a test's small limit must not
    reach the next test's Pillow calls (a 4 MP fuzz config made the memory
    probe's 12 MP image a "decompression bomb" when run after it)."""
    before = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = before
