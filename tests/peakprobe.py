"""Peak memory of the real handler on one upload, in a fresh process.

What an FC instance holds at its worst is the process's peak resident
memory (the instance is killed when it passes the configured size), so this
is what is measured: the peak RSS (`vm_hwm_mib`) of a child interpreter
that imports `index` (the FC entry point) and oss2, as a cold instance
does, and runs `index.handler` on OSS-shaped events against local buckets
(`IMGPIPE_LOCAL_BUCKETS`). The child is given the function's code only
(`function_src/`, or `--package DIR`: the unzipped `dist/function.zip`) in
front of the virtualenv's packages.

Several uploads are handled in order in the same process, as a warm
instance handles them (the heap keeps what earlier invocations freed,
`imgproc.allocator`); the peak mark is reset before each (`reset_peak`), so
each run's `peak_mib` is its own peak, on a warm instance after the first,
and `process_peak_mib` the process's.

Used by `tests/bench_peaks.py` (the table in docs/operating.md) and
`tests/test_memory_fit.py` (every format and mode, capped). Images are
generated here (`make_upload`), seeded, so a measurement is repeatable.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
SRC, DST = "peaks-src", "peaks-dst"


# ------------------------------------------------------------- the uploads


def _canvas(size: tuple[int, int], seed: int):
    """RGB with smooth gradients and one noisy channel: a file size between
    a flat graphic's and a photo's, made fast at 100 MP."""
    from PIL import Image

    g = Image.linear_gradient("L").resize(size)
    r = Image.radial_gradient("L").resize(size)
    noise = Image.effect_noise((max(1, size[0] // 4), max(1, size[1] // 4)), 40 + seed % 7)
    noise = noise.resize(size, Image.Resampling.NEAREST)
    return Image.merge("RGB", (g, r, noise))


def make_upload(path: Path, fmt: str, mode: str, size: tuple[int, int], seed: int = 0) -> Path:
    """Write an image of `fmt` (a Pillow writer name) and `mode` to `path`.

    `mode` is the mode the file decodes to: "I;16" is a 16-bit grey PNG or
    TIFF, "P" a palette, "LA"/"RGBA" carry a real (non-opaque) alpha.
    `fmt` "JPEG-progressive" is a progressive JPEG.
    """
    from PIL import Image

    rgb = _canvas(size, seed)
    if mode in ("RGBA", "LA"):
        base = rgb if mode == "RGBA" else rgb.getchannel(0)
        base = base.copy()
        base.putalpha(Image.linear_gradient("L").rotate(90).resize(size))
        im = base
    elif mode == "I;16":
        im = rgb.getchannel(0).convert("I").point(lambda v: v * 257).convert("I;16")
    elif mode == "P":
        im = rgb.quantize(64, method=Image.Quantize.FASTOCTREE)
    else:
        im = rgb.convert(mode)
    kwargs: dict = {}
    if fmt == "PNG":
        kwargs["compress_level"] = 1
    elif fmt.startswith("JPEG"):
        kwargs["quality"] = 90
        if fmt == "JPEG-progressive":
            fmt, kwargs["progressive"] = "JPEG", True
    elif fmt == "WEBP":
        kwargs.update(quality=80, method=0)
    elif fmt == "AVIF":
        kwargs.update(quality=60, speed=10)
    elif fmt == "HEIF":  # x265's fastest preset: 5 s instead of 45 for 24 MP
        kwargs.update(quality=50, enc_params={"preset": "ultrafast"})
    elif fmt == "TIFF":
        kwargs["compression"] = "tiff_lzw" if mode != "I;16" else "raw"
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt, **kwargs)
    return path


# ------------------------------------------------------------- the child


def vm_rss_mib() -> float:
    """This process's resident memory now (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmRSS")  # pragma: no cover - Linux only


def vm_hwm_mib() -> float:
    """This process's peak RSS (VmHWM), MiB.

    Not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries that figure across
    `execve`, so a child started from a big parent (the test runner, after
    generating a 100 MP image) would report the parent's peak as its own.
    VmHWM belongs to the address space, which `execve` replaces.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmHWM")  # pragma: no cover - Linux only


def _child(args: dict) -> dict:
    code = args.get("package") or str(REPO / "function_src")
    sys.path.insert(0, code)
    if args.get("rlimit_as_mib"):
        limit = int(args["rlimit_as_mib"] * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.update(
        SOURCE_BUCKET=SRC,
        TARGET_BUCKET=DST,
        IMGPIPE_LOCAL_BUCKETS=args["buckets"],
        IMGPIPE_CONFIG=json.dumps(args.get("config") or {}),
        MAX_OBJECT_BYTES=str(args.get("max_object_bytes", 52428800)),
    )
    import oss2  # noqa: F401 - a real instance has it loaded by its first invocation

    import index

    def peak() -> float:
        return vm_hwm_mib()

    out: dict = {"idle_mib": peak(), "runs": []}
    memory = args.get("memory_mb")
    context = SimpleNamespace(
        request_id="probe",
        region="cn-hangzhou",
        function=SimpleNamespace(name="probe", memory=memory, timeout=60),
    )
    highest = 0.0
    for n, (key, size, etag) in enumerate(args["keys"]):
        event = {"events": [_oss_event(key, size, etag)]}
        highest = max(highest, peak())
        reset_peak()
        try:
            (record,) = index.handler(json.dumps(event).encode(), context)["records"]
        except MemoryError:
            record = {"outcome": "MemoryError"}
        out["runs"].append(
            {
                "key": key,
                "outcome": record.get("outcome"),
                "reason": record.get("reason"),
                "detail": record.get("detail"),
                "peak_mib": peak(),  # this upload's own: the mark was reset before it
                "rss_after_mib": vm_rss_mib(),
                "warm": n > 0,
            }
        )
    out["process_peak_mib"] = max([highest] + [r["peak_mib"] for r in out["runs"]])
    return out


def reset_peak() -> None:
    """Set VmHWM back to the current RSS (Linux >= 4.0, `clear_refs` 5), so
    the next peak read is that of what runs in between."""
    Path("/proc/self/clear_refs").write_text("5")


def _oss_event(key: str, size: int, etag: str) -> dict:
    """The native trigger's record, with the size and ETag OSS puts in it
    (so the handler makes no HEAD, as in the cloud)."""
    return {
        "eventName": "ObjectCreated:PutObject",
        "eventSource": "acs:oss",
        "region": "cn-hangzhou",
        "oss": {
            "bucket": {"name": SRC},
            "object": {"key": key, "size": size, "eTag": etag},
        },
    }


def measure(
    uploads: list[Path],
    *,
    memory_mb: int | None = None,
    config: dict | None = None,
    rlimit_as_mib: float | None = None,
    package: Path | None = None,
    buckets: Path,
    timeout: float = 300,
) -> dict:
    """Handle `uploads` in order in one fresh process; each run's outcome and
    the process's peak RSS (MiB) after it. A child killed by a signal, or
    one that ran out of address space, is reported as such, never raised."""
    keys = []
    for n, upload in enumerate(uploads):
        key = f"uploads/{n}-{upload.name}"
        target = buckets / SRC / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upload, target)
        etag = hashlib.md5(upload.read_bytes()).hexdigest().upper()
        keys.append((key, upload.stat().st_size, etag))
    args = {
        "keys": keys,
        "buckets": str(buckets),
        "memory_mb": memory_mb,
        "config": config,
        "rlimit_as_mib": rlimit_as_mib,
        "package": str(package) if package else None,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, __file__, json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=env,
    )
    if done.returncode != 0:
        return {"killed": done.returncode, "stderr": done.stderr[-2000:], "runs": []}
    return json.loads(done.stdout.splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
