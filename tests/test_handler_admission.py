"""Refusing from the header: what is fetched, what is written (issue 22).

The handler's first GET asks for `HEADER_BYTES`; what the header gets
refused (too many pixels, too much memory for the instance, not an image)
is rejected with a record and nothing more is downloaded. An accepted
upload's remaining bytes come in a second GET. Every GET is counted here.
"""

from __future__ import annotations

import io
import json
import random
from types import SimpleNamespace

import pytest
from PIL import Image, ImageCms

import index
from fc_handler.handle import HEADER_BYTES, handle_event
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage
from imgpipe.cloud.events import cloudevent

SRC, DST = "photos-src", "photos-dst"


class CountingStorage(LocalStorage):
    """Local buckets that remember every GET and the bytes it returned."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.gets: list[tuple[int, int | None, int]] = []

    def get(self, bucket, key, *, first=0, last=None):
        data = super().get(bucket, key, first=first, last=last)
        self.gets.append((first, last, len(data)))
        return data

    @property
    def fetched(self) -> int:
        return sum(n for *_, n in self.gets)


def noisy_png(size: tuple[int, int], mode: str = "RGBA", seed: int = 1) -> bytes:
    """A PNG a few MiB large (noise does not compress), well over HEADER_BYTES."""
    rng = random.Random(seed)
    bands = len(mode)
    im = Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * bands))
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def handle(storage, data: bytes, key: str = "uploads/x.png", memory_mb=None, **env):
    storage.put(SRC, key, data, content_type="application/octet-stream")
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST, **env})
    storage.gets.clear()
    (outcome,) = handle_event(
        cloudevent(SRC, key, data),
        settings=settings,
        storage=storage,
        request_id="r",
        log=lambda _r: None,
        memory_mb=memory_mb,
    )
    return outcome


@pytest.fixture
def storage(tmp_path) -> CountingStorage:
    return CountingStorage(tmp_path)


@pytest.fixture(scope="module")
def big_png() -> bytes:
    data = noisy_png((1600, 1200))
    assert len(data) > 10 * HEADER_BYTES
    return data


def rejection_record(storage: LocalStorage, name: str) -> dict:
    return json.loads((storage.root / DST / "rejected" / f"{name}.json").read_text())


def test_too_large_for_the_memory_is_refused_after_the_header_only(storage, big_png):
    outcome = handle(storage, big_png, memory_mb=160)
    assert (outcome.outcome, outcome.reason) == ("rejected", "too-large")
    assert storage.gets == [(0, HEADER_BYTES - 1, HEADER_BYTES)]
    assert storage.fetched <= HEADER_BYTES < len(big_png)
    # The detail names the memory needed, the instance's and what would fit.
    detail = outcome.detail
    assert detail.startswith("1600x1200 PNG RGBA (1.9 MP) needs about ")
    assert "more than the function's 160 MB: it fits in memory_mb = " in detail
    fits_mp = float(detail.split("images like it fit up to ")[1].removesuffix(" MP"))
    assert 0.1 < fits_mp < 1.9
    needed = int(detail.split("memory_mb = ")[1].split(";")[0])
    assert needed > 160 and needed % 64 == 0
    record = rejection_record(storage, "x.png")
    assert (record["reason"], record["detail"], record["size"]) == (
        "too-large",
        detail,
        len(big_png),
    )
    # ... and at the size it names, the same upload is processed.
    storage.gets.clear()
    outcome = handle(storage, big_png, key="uploads/y.png", memory_mb=needed)
    assert outcome.outcome == "processed", outcome


def test_accepted_upload_is_fetched_in_two_ranges_and_processed(storage, big_png):
    outcome = handle(storage, big_png, memory_mb=1024)
    assert outcome.outcome == "processed" and len(outcome.outputs) == 6
    assert storage.gets == [
        (0, HEADER_BYTES - 1, HEADER_BYTES),
        (HEADER_BYTES, None, len(big_png) - HEADER_BYTES),
    ]
    assert storage.fetched == len(big_png)


def test_pixel_limit_is_refused_after_the_header_only(storage, big_png):
    config = json.dumps({"max_megapixels": 1})
    outcome = handle(storage, big_png, IMGPIPE_CONFIG=config)
    assert (outcome.outcome, outcome.reason) == ("rejected", "too-large")
    assert outcome.detail == "1600x1200 is 1.9 MP, over the 1 MP limit"
    assert storage.fetched == HEADER_BYTES


def test_not_an_image_is_refused_after_the_header_only(storage):
    data = b"%PDF-1.7\n" + random.Random(3).randbytes(3 * HEADER_BYTES)
    # a PDF named like a photo (a .pdf key is ignored unread: IMAGE_SUFFIXES)
    outcome = handle(storage, data, key="uploads/x.jpg")
    assert (outcome.outcome, outcome.reason) == ("rejected", "unsupported")
    assert storage.fetched == HEADER_BYTES


def test_a_key_without_an_image_ending_is_not_fetched_at_all(storage):
    data = b"%PDF-1.7\n" + random.Random(3).randbytes(3 * HEADER_BYTES)
    outcome = handle(storage, data, key="uploads/x.pdf")
    assert (outcome.outcome, outcome.reason) == ("ignored", "not-an-image-suffix")
    assert storage.fetched == 0


def test_small_upload_comes_in_one_get(storage):
    data = noisy_png((64, 48))
    assert len(data) <= HEADER_BYTES
    outcome = handle(storage, data, memory_mb=1024)
    assert outcome.outcome == "processed"
    assert storage.gets == [(0, None, len(data))]


def test_header_longer_than_the_first_get_is_decided_with_every_byte(storage):
    """A JPEG with 300 KiB of ICC profile before its frame header: the first
    GET cannot hold the header, so nothing is refused from it; the whole
    upload is fetched and the pipeline decides (here: processed)."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    profile += b"\0" * (300 * 1024)  # a valid profile followed by padding lcms ignores
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 100, 50)).save(buf, "JPEG", icc_profile=profile)
    data = buf.getvalue()
    assert len(data) > HEADER_BYTES
    outcome = handle(storage, data, key="uploads/icc.jpg", memory_mb=256)
    assert outcome.outcome == "processed", outcome
    assert storage.fetched == len(data)


def test_truncated_after_the_header_is_corrupt_not_refused_early(storage, big_png):
    cut = big_png[: len(big_png) // 2]
    outcome = handle(storage, cut, memory_mb=1024)
    assert (outcome.outcome, outcome.reason) == ("rejected", "corrupt")
    assert storage.fetched == len(cut)


def test_instance_memory_comes_from_the_context_then_fcs_variable(monkeypatch):
    monkeypatch.delenv("FC_FUNCTION_MEMORY_SIZE", raising=False)
    context = SimpleNamespace(function=SimpleNamespace(memory=512))
    assert index.instance_memory_mb(context) == 512
    assert index.instance_memory_mb(SimpleNamespace()) is None  # local tools: no check
    monkeypatch.setenv("FC_FUNCTION_MEMORY_SIZE", "768")
    assert index.instance_memory_mb(SimpleNamespace()) == 768
    assert index.instance_memory_mb(context) == 512  # the context's figure first
    monkeypatch.setenv("FC_FUNCTION_MEMORY_SIZE", "lots")
    assert index.instance_memory_mb(SimpleNamespace(function=None)) is None


def test_webp_too_large_for_the_memory_is_refused_after_the_header_only(storage):
    """Pillow's WebP opener wants the whole file; the size comes from the
    RIFF header (`imgproc.headers`) instead."""
    rng = random.Random(5)
    im = Image.frombytes("RGB", (1600, 1200), rng.randbytes(1600 * 1200 * 3))
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=90, method=0)
    data = buf.getvalue()
    assert len(data) > HEADER_BYTES
    outcome = handle(storage, data, key="uploads/x.webp", memory_mb=128)
    assert (outcome.outcome, outcome.reason) == ("rejected", "too-large")
    assert outcome.detail.startswith("1600x1200 WEBP RGBA (1.9 MP) needs about ")
    assert storage.fetched == HEADER_BYTES
    storage.gets.clear()
    assert handle(storage, data, key="uploads/y.webp", memory_mb=512).outcome == "processed"
    assert storage.fetched == len(data)


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("WEBP", "RGB", {}),
        ("WEBP", "RGB", {"lossless": True}),
        ("WEBP", "RGBA", {}),  # VP8X
        ("WEBP", "RGBA", {"exif": b"Exif\0\0" + b"\0" * 20}),
        ("AVIF", "RGB", {"speed": 10}),
        ("HEIF", "RGB", {"enc_params": {"preset": "ultrafast"}}),
    ],
)
def test_container_headers_state_the_size(fmt, mode, options):
    from imgproc import headers

    for size in ((320, 122), (64, 2000)):  # even: HEIF's coded size is rounded up to it
        buf = io.BytesIO()
        Image.new(mode, size, (10, 20, 30)).save(buf, fmt, **options)
        kind = {"WEBP": "webp", "AVIF": "avif", "HEIF": "heif"}[fmt]
        assert headers.size(kind, buf.getvalue()[:4096]) == size
    assert headers.size("webp", b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 20) is None
    assert headers.size("avif", b"\0\0\0\x18ftypavif" + b"\0" * 40) is None


def test_an_object_of_exactly_max_object_bytes_is_processed_one_more_is_refused_unread(storage):
    """MAX_OBJECT_BYTES is the largest object taken (max_object_mb x 1,048,576): at the
    limit the upload is fetched and processed; one byte over, a too-large record and
    not one byte fetched."""
    data = noisy_png((64, 48))
    at = handle(storage, data, key="uploads/at.png", MAX_OBJECT_BYTES=str(len(data)))
    assert at.outcome == "processed" and storage.fetched == len(data)
    over = handle(storage, data, key="uploads/over.png", MAX_OBJECT_BYTES=str(len(data) - 1))
    assert (over.outcome, over.reason) == ("rejected", "too-large")
    assert storage.fetched == 0
