"""What a built package costs at cold start (`make package-host` runs it).

The zip for FC's runtime cannot be imported on this machine (its wheels are
for CPython 3.10 on manylinux), so the timing uses a package built by
`build.py --host` from the same code and pins: unzipped into a temporary
directory and imported by a fresh interpreter that sees nothing else
(`-S -I`: no site-packages, no environment, no repository).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

from imgpipe import argtypes

IMPORT_PROBE = (
    "import sys, time; sys.path.insert(0, {root!r}); t = time.perf_counter(); "
    "import index; print((time.perf_counter() - t) * 1000)"
)


def clean_python(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run code in an interpreter with only the standard library on sys.path."""
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env or {},
    )
    if done.returncode != 0:
        raise RuntimeError(f"clean interpreter failed:\n{done.stderr[-2000:]}")
    return done.stdout


def import_ms(root: Path, repeat: int) -> list[float]:
    return [
        float(clean_python(IMPORT_PROBE.format(root=str(root)), root).strip())
        for _ in range(repeat)
    ]


def stats(zip_path: Path, repeat: int = 5) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="imgpipe-pkg-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(root)
            unzipped = sum(i.file_size for i in zf.infolist())
        times = import_ms(root, repeat)
    return {
        "zip": str(zip_path),
        "zipped_bytes": zip_path.stat().st_size,
        "unzipped_bytes": unzipped,
        "cold_import_index_ms_median": round(statistics.median(times), 1),
        "cold_import_index_ms_all": [round(t, 1) for t in times],
    }


def run(zip_path: Path, repeat: int) -> int:
    if not zip_path.exists():
        print(
            f"imgpipe package-stats: {zip_path} does not exist; run `make package-host`",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(stats(zip_path, repeat), indent=2))
    return 0


def _package_zip(text: str) -> Path:
    """A zip file, or a path not built yet (`run` says how to build it)."""
    path = Path(text)
    if path.exists() and not (path.is_file() and zipfile.is_zipfile(path)):
        raise argparse.ArgumentTypeError(f"{text}: not a zip file")
    return path


REPEAT = argtypes.integer(1, 1000, meaning="a whole number of runs")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="package_stats.py",
        description="Import the handler from a package built for this machine's Python, in a "
        "fresh interpreter each time, and report the cold import time and the package's size.",
    )
    p.add_argument(
        "--zip",
        type=_package_zip,
        default=Path("build/host/function.zip"),
        help="the package (default: build/host/function.zip, from make package-host)",
    )
    p.add_argument("--repeat", type=REPEAT, default=5, help="imports to time (1 to 1000)")
    args = p.parse_args(argv)
    return run(args.zip, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
