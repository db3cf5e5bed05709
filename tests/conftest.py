"""Shared fixtures: the corpus copied into tests/data (see PROVENANCE.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

DATA = Path(__file__).parent / "data"
IMAGES = DATA / "images"
BENCH = DATA / "bench"


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
