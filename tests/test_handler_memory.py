"""A failed invocation leaves nothing behind (issue 10, point 3).

When a record fails, `handle_event` logs it, goes on with the others and
raises the failure at the end so FC retries. The exception's traceback
holds the frames that raised it, and those frames held the decoded image:
on a warm instance every failed invocation kept its pixels until the cyclic
garbage collector happened to run, so FC's retries of one bad object could
push the next good ones out of memory.

The measurement runs in a fresh subprocess (the test suite's own heap would
blur it): one invocation, then 19 more, with peak RSS (VmHWM) and RSS
after the first and after the twentieth. Run it by hand to see the figures
(`pytest -s tests/test_handler_memory.py` prints them too):

    .venv/bin/python tests/test_handler_memory.py encode-fails [IMAGE.png]
    .venv/bin/python tests/test_handler_memory.py put-fails [IMAGE.png]

Without IMAGE it makes the test's own 12 MP PNG. Two failures, both after
the pixels are decoded:

- `encode-fails`: the WebP encoder raises inside `process()` (the real
  `ValueError` of an image past WebP's 16,383 px limit, forced with a
  failing WebP writer so that it does not depend on the processor's
  sizes), so the traceback runs through the frames holding the image;
- `put-fails`: every variant is made, then OSS answers 503 on the write
  (`TransientError`), so the traceback holds the source bytes and the
  encoded outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SRC, DST = "photos-src", "photos-dst"
INVOCATIONS = 20
# 4000 x 3000 is 34 MiB as RGB (46 as Pillow's RGBX) decoded, from a 12 MiB
# PNG: one noisy channel keeps the file big, since a failure may keep the
# object's bytes (put-fails) as well as its pixels (encode-fails).
SIZE = (4000, 3000)
DECODED_MIB = SIZE[0] * SIZE[1] * 3 / 2**20
# Peak RSS may grow a little after the first invocation (allocator arenas,
# lazily imported codecs); a kept source adds 12 MiB or more each time.
MARGIN_MIB = 40


def _vm(field: str) -> float:
    """A /proc/self/status figure in MiB (VmHWM: peak RSS, VmRSS: now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)  # pragma: no cover - Linux only


def make_image(path: Path, size: tuple[int, int] = SIZE) -> None:
    """A large, valid PNG: seeded noise in red, smooth gradients elsewhere."""
    import random

    from PIL import Image

    w, h = size
    r = Image.frombytes("L", size, random.Random(10).randbytes(w * h))
    g = Image.linear_gradient("L").resize(size)
    b = Image.radial_gradient("L").resize(size)
    Image.merge("RGB", (r, g, b)).save(path, compress_level=1)
    assert Image.open(path).size == (w, h)


def probe(mode: str, image: Path) -> dict[str, float]:
    """Invoke the handler 20 times on one failing upload; RSS figures in MiB."""
    sys.path.insert(0, str(REPO / "function_src"))
    sys.path.insert(0, str(REPO))
    from PIL import Image

    from fc_handler.handle import handle_event
    from fc_handler.settings import Settings
    from fc_handler.storage import LocalStorage, TransientError
    from imgpipe.cloud.events import native_event

    data = image.read_bytes()

    class FailingStorage(LocalStorage):
        """Local buckets whose writes to the target fail like an OSS 503."""

        def put(self, bucket, key, body, **kw):
            if mode == "put-fails" and bucket == DST:
                raise TransientError(f"oss://{bucket}/{key}: HTTP 503 ServiceUnavailable")
            super().put(bucket, key, body, **kw)

    if mode == "encode-fails":
        Image.init()

        def webp_fails(im, fp, filename):
            msg = "encoding error 5: Image size exceeds WebP limit of 16383 pixels"
            raise ValueError(msg)

        Image.SAVE["WEBP"] = webp_fails
    elif mode != "put-fails":
        raise SystemExit(f"unknown mode {mode!r}")

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        storage = FailingStorage(tmp)
        storage.put(SRC, "uploads/big.png", data, content_type="image/png")
        del data
        # One small variant: the decode is what is measured, and it stays whole.
        config = {"variants": [{"name": "t", "width": 320, "formats": ["jpeg", "webp"]}]}
        settings = Settings.from_env(
            {"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST, "IMGPIPE_CONFIG": json.dumps(config)}
        )
        event = json.dumps(native_event([(SRC, "uploads/big.png", image.read_bytes())]))
        logged: list[dict] = []
        figures: dict[str, float] = {"before_mib": _vm("VmRSS")}
        # The caller keeps the last error, as FC's runtime does while it
        # reports it and `imgpipe demo` does for the dead-letter record.
        last_error: Exception | None = None
        for n in range(1, INVOCATIONS + 1):
            try:
                handle_event(
                    event, settings=settings, storage=storage, request_id=f"r{n}", log=logged.append
                )
            except Exception as exc:  # noqa: BLE001 - FC catches it the same way
                last_error = exc
            else:
                raise AssertionError("the invocation was meant to fail")
            if n == 1:
                figures["peak_after_1_mib"] = _vm("VmHWM")
                figures["rss_after_1_mib"] = _vm("VmRSS")
        figures["peak_after_20_mib"] = _vm("VmHWM")
        figures["rss_after_20_mib"] = _vm("VmRSS")
        figures["error"] = f"{type(last_error).__name__}: {last_error}"  # type: ignore[assignment]
    outcomes = {(r["outcome"], r["reason"]) for r in logged}
    figures["outcomes"] = sorted(map(list, outcomes))  # type: ignore[assignment]
    figures["invocations"] = INVOCATIONS
    return figures


CHILD = "IMGPIPE_MEMORY_PROBE_CHILD"


def _summary(mode: str, fig: dict) -> str:
    return (
        f"{mode}: peak RSS after 1 invocation {fig['peak_after_1_mib']:.0f} MiB, "
        f"after {fig['invocations']} {fig['peak_after_20_mib']:.0f} MiB "
        f"(RSS {fig['before_mib']:.0f} before, {fig['rss_after_1_mib']:.0f} after 1, "
        f"{fig['rss_after_20_mib']:.0f} after {fig['invocations']})"
    )


def _run_probe(mode: str, image: Path) -> dict:
    # glibc raises its mmap threshold after a large free, so a freed image
    # may stay in the heap, reusable but counted in RSS; a fixed threshold
    # gives large blocks back at once, and RSS then counts what is alive.
    env = {
        **os.environ,
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_TRIM_THRESHOLD_": "131072",
        CHILD: "1",
    }
    done = subprocess.run(
        [sys.executable, __file__, mode, str(image)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def big_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("memory") / "big.png"
    make_image(path)
    return path


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("encode-fails", ["failed", "ValueError"]),
        ("put-fails", ["failed", "TransientError"]),
    ],
)
def test_failed_invocations_keep_no_memory(big_png, mode, outcome):
    fig = _run_probe(mode, big_png)
    print("\n" + _summary(mode, fig))
    assert fig["outcomes"] == [outcome]  # every invocation failed the same way
    assert fig["peak_after_1_mib"] - fig["before_mib"] > DECODED_MIB  # it was decoded
    assert fig["peak_after_20_mib"] - fig["peak_after_1_mib"] < MARGIN_MIB, fig
    assert fig["rss_after_20_mib"] - fig["rss_after_1_mib"] < MARGIN_MIB, fig
    # Even the error the caller still holds keeps no image alive.
    assert fig["rss_after_20_mib"] - fig["before_mib"] < MARGIN_MIB, fig


def test_the_raised_failure_keeps_its_type_message_and_stack_but_no_locals(tmp_path):
    """What FC sees and logs is unchanged; only the frames' locals are gone."""
    import traceback

    from PIL import Image

    from fc_handler.handle import handle_event
    from fc_handler.settings import Settings
    from fc_handler.storage import LocalStorage
    from imgpipe.cloud.events import native_event

    data = (REPO / "tests" / "data" / "images" / "hopper.jpg").read_bytes()
    storage = LocalStorage(tmp_path)
    storage.put(SRC, "uploads/x.jpg", data, content_type="image/jpeg")
    settings = Settings.from_env({"SOURCE_BUCKET": SRC, "TARGET_BUCKET": DST})

    def webp_fails(im, fp, filename):
        raise ValueError("encoding error 5")

    Image.init()
    saved = Image.SAVE["WEBP"]
    Image.SAVE["WEBP"] = webp_fails
    logged: list[dict] = []
    try:
        with pytest.raises(ValueError, match=r"^encoding error 5$") as info:
            handle_event(
                native_event([(SRC, "uploads/x.jpg", data)]),
                settings=settings,
                storage=storage,
                request_id="r1",
                log=logged.append,
            )
    finally:
        Image.SAVE["WEBP"] = saved
    (line,) = logged
    assert (line["outcome"], line["reason"], line["detail"]) == (
        "failed",
        "ValueError",
        "encoding error 5",
    )
    stack = "".join(traceback.format_exception(info.value))
    for function in ("handle_record", "process", "webp_fails"):
        assert f"in {function}" in stack  # the logged stack is whole
    frames = traceback.walk_tb(info.value.__traceback__)
    kept = {
        f.f_code.co_name: sorted(f.f_locals)
        for f, _ in frames
        if f.f_code.co_name not in ("handle_event", "raises")  # still running / pytest's
        and "test_" not in f.f_code.co_name
    }
    assert kept and all(names == [] for names in kept.values()), kept


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(f"usage: {sys.argv[0]} encode-fails|put-fails [IMAGE.png]")
    if os.environ.get(CHILD):  # the measured process, started by _run_probe
        print(json.dumps(probe(sys.argv[1], Path(sys.argv[2]))))
    elif len(sys.argv) == 3:
        print(_summary(sys.argv[1], _run_probe(sys.argv[1], Path(sys.argv[2]))))
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            make_image(Path(tmp) / "big.png")
            print(_summary(sys.argv[1], _run_probe(sys.argv[1], Path(tmp) / "big.png")))
