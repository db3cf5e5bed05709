#!/usr/bin/env python3
"""Build the Function Compute deployment package: `dist/function.zip`.

Run by `make package`. What it guarantees, and why:

- Dependencies are installed for the function's runtime, not for the
  machine that builds: CPython 3.10 (or 3.12) manylinux x86_64 binary
  wheels only (`pip --platform ... --only-binary=:all:`), from the pinned,
  hashed `requirements/function.txt`. A Mac or an ARM laptop therefore
  builds the same package as x86_64 Linux CI.
- Deterministic: entries sorted, timestamps fixed, permissions normalised,
  no `__pycache__`, `.pyc`, tests or install-time noise (`RECORD`,
  `INSTALLER`, `direct_url.json`, which holds the build path). The same
  inputs give a byte-identical zip whatever the checkout's path, the files'
  times or the umask, so Terraform redeploys only when code changes.
- A content hash of the inputs is stored in the manifest; when nothing
  changed the build is skipped (in well under a second).
- FC's limits are checked (500 MB zipped through OSS, the module's route;
  500 MiB unzipped), and a wheel missing for the target names the package.
  The inline route's much lower limit is the provider's, checked by
  Terraform at plan (modules/function, docs/limits.md).

oss2 is not bundled: both Python runtimes ship it (python3.10: 2.16.0,
python3.12: 2.18.6) and bundling it with its dependency tree (cryptography,
pycryptodome, the Aliyun core SDK) adds about 40 MiB unzipped. The tests run
against oss2 2.16.0, the oldest of the two. Pillow *is* bundled: the
runtime's 9.3.0 lacks AVIF and the scalable default font, and code in the
package comes first on `sys.path`.

Usage:
    python build.py [--runtime python3.10|python3.12] [--layer] [--force]
    python build.py --host --out build/host   # for this machine's CPython (tests)
    python build.py lock                      # re-pin requirements/function.txt
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "function_src"
REQUIREMENTS_IN = ROOT / "requirements" / "function.in"
REQUIREMENTS = ROOT / "requirements" / "function.txt"

FORMAT_VERSION = 1  # bump when the packing rules change: forces a rebuild
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
# FC 3.0 "Limits": "Size of a code package (ZIP/JAR file uploaded through the
# Function Compute console, a developer tool, or OSS) | 500 MB". The module
# uploads the package to OSS (code_upload = "oss"); FC's 100 MB for a base64
# package in the API request never applies there, and inline code meets the
# provider's 4 MiB gRPC limit long before it (docs/limits.md).
MAX_ZIPPED = 500 * 1000 * 1000
# FC 3.0's limits page gives no unzipped size; 500 MiB is the figure this
# check has always used (FC 2.0's), kept as a guard.
MAX_UNZIPPED = 500 * 1024 * 1024

# manylinux tags each runtime's glibc accepts (python3.10: Debian 10, glibc
# 2.28; python3.12: Debian 11, glibc 2.31), newest first.
_MANYLINUX_228 = [f"manylinux_2_{n}_x86_64" for n in range(28, 16, -1)] + ["manylinux2014_x86_64"]
RUNTIMES = {
    "python3.10": {"python_version": "3.10", "platforms": _MANYLINUX_228},
    "python3.12": {
        "python_version": "3.12",
        "platforms": [
            "manylinux_2_31_x86_64",
            "manylinux_2_30_x86_64",
            "manylinux_2_29_x86_64",
            *_MANYLINUX_228,
        ],
    },
}

# What never belongs in the package.
_SKIP_DIRS = {"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_SKIP_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


class BuildError(Exception):
    """A build that cannot produce a correct package; the message says why."""


@dataclass(frozen=True)
class Target:
    """What the dependencies are built for."""

    name: str  # "python3.10", "python3.12" or "host"
    python_version: str
    platforms: tuple[str, ...]  # empty: the host's own platform

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    def pip_args(self) -> list[str]:
        args = ["--only-binary=:all:", "--python-version", self.python_version]
        if self.platforms:
            args += ["--implementation", "cp", "--abi", self.abi, "--abi", "abi3", "--abi", "none"]
            for platform in self.platforms:
                args += ["--platform", platform]
        return args

    def accepts(self, tag: str) -> bool:
        """Whether a wheel tag (`cp310-cp310-manylinux_2_28_x86_64`) runs on the target."""
        python, abi, platform = tag.split("-")
        if python not in (self.abi, "py3", "py2.py3") and not (
            abi == "abi3" and python.startswith("cp3")
        ):
            return False
        if platform == "any":
            return True
        if not self.platforms:  # host build: whatever pip chose for this machine
            return True
        return platform in self.platforms

    def describe(self) -> dict[str, object]:
        return {
            "runtime": self.name,
            "python_version": self.python_version,
            "implementation": "cp",
            "abi": self.abi,
            "platforms": list(self.platforms) or [sysconfig.get_platform()],
        }


def target_for(runtime: str, host: bool) -> Target:
    if host:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return Target("host", version, ())
    spec = RUNTIMES[runtime]
    return Target(runtime, spec["python_version"], tuple(spec["platforms"]))


# ---------------------------------------------------------------- checksums


def crc64(data: bytes) -> int:
    """CRC-64/XZ (ECMA-182, reflected): what OSS and FC's `checksum` use."""
    try:
        import crcmod  # C-accelerated when its extension is built

        return crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)(
            data
        )
    except ImportError:
        return _crc64_pure(data)


_CRC64_TABLE: list[int] = []


def _crc64_pure(data: bytes) -> int:
    if not _CRC64_TABLE:
        poly = 0xC96C5795D7870F42  # ECMA-182 reflected
        for i in range(256):
            crc = i
            for _ in range(8):
                crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
            _CRC64_TABLE.append(crc)
    crc = 0xFFFFFFFFFFFFFFFF
    table = _CRC64_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def digests(data: bytes) -> dict[str, object]:
    md5 = hashlib.md5(data).digest()
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "crc64": str(crc64(data)),  # FC `code.checksum`: decimal string
        "md5": md5.hex(),
        "content_md5": base64.b64encode(md5).decode(),  # OSS upload `Content-MD5`
        "size": len(data),
    }


# ---------------------------------------------------------------- inputs


def _wanted(rel: Path) -> bool:
    return not any(part in _SKIP_DIRS for part in rel.parts) and not rel.name.endswith(
        _SKIP_SUFFIXES
    )


def source_files() -> list[tuple[str, Path]]:
    """(archive name, path) of the function's own code, sorted."""
    files = []
    for path in SOURCE.rglob("*"):
        rel = path.relative_to(SOURCE)
        if path.is_file() and _wanted(rel):
            files.append((rel.as_posix(), path))
    return sorted(files)


def input_hash(target: Target, layer: bool, requirements: Path) -> str:
    """Everything the package is made from; the same hash means the same zip."""
    h = hashlib.sha256()
    meta = {
        "format": FORMAT_VERSION,
        "target": target.describe(),
        "layer": layer,
        "requirements": requirements.read_text(),
        "build.py": Path(__file__).read_text(),
    }
    h.update(json.dumps(meta, sort_keys=True).encode())
    for name, path in source_files():
        h.update(name.encode() + b"\0")
        h.update(b"x" if os.access(path, os.X_OK) else b"-")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def pinned_requirements(requirements: Path) -> list[str]:
    """`name==version` lines of the hashed lock file."""
    pins = re.findall(r"^([A-Za-z0-9_.\-]+==[^\s\\]+)", requirements.read_text(), re.M)
    if not pins:
        raise BuildError(f"{requirements} pins nothing; run `python build.py lock`")
    return pins


# ---------------------------------------------------------------- install


def install_dependencies(target: Target, into: Path, requirements: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--no-deps",
        "--require-hashes",
        "--target",
        str(into),
        *target.pip_args(),
        "-r",
        str(requirements),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(_explain_pip_failure(done.stdout + done.stderr, target))


def _explain_pip_failure(output: str, target: Target) -> str:
    missing = re.findall(r"No matching distribution found for ([^\s]+)", output)
    if missing:
        plats = ", ".join(target.platforms[:2]) + (", ..." if len(target.platforms) > 2 else "")
        return (
            f"no binary wheel of {', '.join(missing)} for CPython {target.python_version} "
            f"on {plats or 'this machine'}: the function needs wheels built for its runtime "
            "(sdists would compile for the machine that builds). Pin a version that publishes "
            "one, or drop the dependency."
        )
    if "THESE PACKAGES DO NOT MATCH THE HASHES" in output:
        return "a downloaded wheel does not match requirements/function.txt's hashes:\n" + output
    return "pip failed:\n" + output[-3000:]


def wheel_tags(site: Path) -> list[dict[str, object]]:
    """Name, version and tags of every installed distribution (from WHEEL)."""
    wheels = []
    for dist_info in sorted(site.glob("*.dist-info")):
        meta = (dist_info / "METADATA").read_text(errors="replace")
        name = re.search(r"^Name: (.+)$", meta, re.M)
        version = re.search(r"^Version: (.+)$", meta, re.M)
        wheel_file = dist_info / "WHEEL"
        tags = (
            re.findall(r"^Tag: (.+)$", wheel_file.read_text(), re.M) if wheel_file.exists() else []
        )
        wheels.append(
            {
                "name": name.group(1).strip() if name else dist_info.name,
                "version": version.group(1).strip() if version else "?",
                "tags": tags,
            }
        )
    return wheels


def check_wheels(wheels: list[dict[str, object]], target: Target) -> None:
    for wheel in wheels:
        tags = wheel["tags"]
        if not tags or not any(target.accepts(t) for t in tags):  # type: ignore[union-attr]
            raise BuildError(
                f"{wheel['name']} {wheel['version']} was installed with tags {tags}, "
                f"which do not run on {target.name} ({target.abi}, {', '.join(target.platforms)})"
            )


def dependency_files(site: Path) -> list[tuple[str, Path]]:
    files = []
    for path in site.rglob("*"):
        rel = path.relative_to(site)
        if not path.is_file() or not _wanted(rel):
            continue
        if rel.parts[0] == "bin":  # console scripts: useless in FC
            continue
        if rel.parent.name.endswith(".dist-info") and rel.name in _SKIP_DIST_INFO:
            continue
        files.append((rel.as_posix(), path))
    return sorted(files)


# ---------------------------------------------------------------- zip


def write_zip(entries: list[tuple[str, Path]], out: Path) -> int:
    """Deterministic zip; returns the unzipped size."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    total = 0
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, path in sorted(entries):
            data = path.read_bytes()
            total += len(data)
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so the mode bits below are honoured
            mode = 0o755 if path.stat().st_mode & 0o100 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=9)
    os.replace(tmp, out)
    return total


def check_limits(zipped: int, unzipped: int, what: str) -> None:
    mib = 1024 * 1024
    if zipped > MAX_ZIPPED:
        raise BuildError(
            f"{what} is {zipped / 1e6:.1f} MB zipped; FC accepts at most "
            f"{MAX_ZIPPED // 1_000_000} MB through OSS"
        )
    if unzipped > MAX_UNZIPPED:
        raise BuildError(
            f"{what} is {unzipped / mib:.1f} MiB unzipped; FC accepts at most "
            f"{MAX_UNZIPPED // mib} MiB"
        )


# ---------------------------------------------------------------- build


def build(
    out_dir: Path,
    target: Target,
    layer: bool = False,
    force: bool = False,
    requirements: Path = REQUIREMENTS,
) -> dict[str, object]:
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "function.json"
    zip_path = out_dir / "function.zip"
    layer_path = out_dir / "layer.zip"
    wanted_hash = input_hash(target, layer, requirements)

    if not force and _up_to_date(
        manifest_path, zip_path, layer_path if layer else None, wanted_hash
    ):
        manifest = json.loads(manifest_path.read_text())
        manifest["skipped"] = True
        return manifest

    with tempfile.TemporaryDirectory(prefix="imgpipe-build-") as tmp:
        site = Path(tmp) / "site"
        install_dependencies(target, site, requirements)
        wheels = wheel_tags(site)
        check_wheels(wheels, target)
        deps = dependency_files(site)
        code = source_files()

        manifest: dict[str, object] = {
            "format": FORMAT_VERSION,
            "input_hash": wanted_hash,
            "target": target.describe(),
            "handler": "index.handler",
            "requirements": pinned_requirements(requirements),
            "wheels": wheels,
            "oss2": "not bundled: the runtime's built-in oss2 is used",
        }
        if layer:
            layer_entries = [(f"python/{name}", path) for name, path in deps]
            layer_unzipped = write_zip(layer_entries, layer_path)
            layer_bytes = layer_path.read_bytes()
            check_limits(len(layer_bytes), layer_unzipped, "dist/layer.zip")
            manifest["layer"] = {
                "path": _display(layer_path),
                **digests(layer_bytes),
                "unzipped_size": layer_unzipped,
                "files": len(layer_entries),
            }
            entries = code
        else:
            layer_path.unlink(missing_ok=True)
            entries = code + deps

        names = [n for n, _ in entries]
        if "index.py" not in names:
            raise BuildError("function_src/index.py is missing: FC's handler is index.handler")
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise BuildError(f"the code and a dependency both provide {dupes}")
        unzipped = write_zip(entries, zip_path)
        zip_bytes = zip_path.read_bytes()
        check_limits(len(zip_bytes), unzipped, "dist/function.zip")
        manifest.update(
            {
                "path": _display(zip_path),
                **digests(zip_bytes),
                "unzipped_size": unzipped,
                "files": len(entries),
            }
        )
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    manifest["skipped"] = False
    return manifest


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _up_to_date(manifest: Path, zip_path: Path, layer_path: Path | None, wanted: str) -> bool:
    try:
        recorded = json.loads(manifest.read_text())
        if recorded.get("input_hash") != wanted:
            return False
        if hashlib.sha256(zip_path.read_bytes()).hexdigest() != recorded["sha256"]:
            return False
        if layer_path is not None:
            return (
                hashlib.sha256(layer_path.read_bytes()).hexdigest() == recorded["layer"]["sha256"]
            )
        return "layer" not in recorded
    except (OSError, ValueError, KeyError, TypeError):
        return False


# ---------------------------------------------------------------- lock


def lock() -> None:
    """Pin requirements/function.in with the hashes of every target's wheels."""
    pins = re.findall(r"^([A-Za-z0-9_.\-]+==[^\s#]+)", REQUIREMENTS_IN.read_text(), re.M)
    targets = [target_for(r, False) for r in RUNTIMES] + [target_for("", True)]
    hashes: dict[str, set[str]] = {pin: set() for pin in pins}
    with tempfile.TemporaryDirectory(prefix="imgpipe-lock-") as tmp:
        for i, target in enumerate(targets):
            dest = Path(tmp) / str(i)
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "--no-deps",
                "-d",
                str(dest),
                *target.pip_args(),
                *pins,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BuildError(_explain_pip_failure(done.stdout + done.stderr, target))
            for wheel in dest.glob("*.whl"):
                dist = wheel.name.split("-")[0].lower().replace("_", "-")
                pin = next(p for p in pins if p.split("==")[0].lower().replace("_", "-") == dist)
                hashes[pin].add(hashlib.sha256(wheel.read_bytes()).hexdigest())
    lines = [
        "# Generated by `python build.py lock` from requirements/function.in: do not edit.",
        "# Hashes of the wheels for python3.10 and python3.12 (manylinux x86_64) and for",
        "# the CPython that ran the lock (host builds, used by the tests).",
    ]
    for pin in pins:
        lines.append(f"{pin} \\")
        lines.extend(f"    --hash=sha256:{h} \\" for h in sorted(hashes[pin]))
        lines[-1] = lines[-1].rstrip(" \\")
    REQUIREMENTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {_display(REQUIREMENTS)} ({len(pins)} pins)")


# ---------------------------------------------------------------- cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["build", "lock"], default="build")
    parser.add_argument("--runtime", choices=sorted(RUNTIMES), default="python3.10")
    parser.add_argument("--host", action="store_true", help="build for this machine's CPython")
    parser.add_argument("--layer", action="store_true", help="also write dist/layer.zip")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.command == "lock":
            lock()
            return 0
        started = time.perf_counter()
        manifest = build(
            args.out, target_for(args.runtime, args.host), args.layer, args.force, args.requirements
        )
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    mib = 1024 * 1024
    state = "up to date, skipped" if manifest["skipped"] else "built"
    print(
        f"{manifest['path']}: {state} in {seconds:.2f}s; {manifest['size'] / mib:.2f} MiB zipped, "
        f"{manifest['unzipped_size'] / mib:.2f} MiB unzipped, {manifest['files']} files, "
        f"target {manifest['target']['runtime']}, crc64 {manifest['crc64']}"
    )
    if "layer" in manifest:
        layer = manifest["layer"]
        print(
            f"{layer['path']}: {layer['size'] / mib:.2f} MiB zipped, "
            f"{layer['unzipped_size'] / mib:.2f} MiB unzipped"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
