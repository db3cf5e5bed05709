"""build.py: deterministic, target-correct, importable packages."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import IMAGES

from imgpipe.package_stats import clean_python

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

sys.path.insert(0, str(ROOT))
import build  # noqa: E402  (the packer is a script at the repository root)


def checkout(dest: Path, *, seed: int, mode: int) -> Path:
    """A copy of what build.py reads, with its own path, file times and modes."""
    for rel in ("build.py", "function_src", "requirements"):
        src = ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    rng = random.Random(seed)
    for path in dest.rglob("*"):
        if path.is_file():
            os.chmod(path, mode)
            stamp = rng.randint(1_000_000_000, 1_700_000_000)
            os.utime(path, (stamp, stamp))
    # a stray cache that must never reach the zip
    (dest / "function_src" / "__pycache__").mkdir(exist_ok=True)
    (dest / "function_src" / "__pycache__" / "index.cpython-311.pyc").write_bytes(b"junk")
    return dest


def run_build(repo: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    def set_umask():
        os.umask(umask)

    return subprocess.run(
        [sys.executable, str(repo / "build.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo,
        preexec_fn=set_umask,
    )


@pytest.fixture(scope="module")
def fc_build(tmp_path_factory):
    repo = checkout(tmp_path_factory.mktemp("one") / "checkout-a", seed=1, mode=0o644)
    done = run_build(repo)
    assert done.returncode == 0, done.stderr
    return repo


def test_two_checkouts_give_byte_identical_zips(fc_build, tmp_path):
    other = checkout(tmp_path / "deeper" / "checkout-b", seed=2, mode=0o600)
    done = run_build(other, umask=0o077)
    assert done.returncode == 0, done.stderr
    a = (fc_build / "dist" / "function.zip").read_bytes()
    b = (other / "dist" / "function.zip").read_bytes()
    assert a == b
    ma = json.loads((fc_build / "dist" / "function.json").read_text())
    mb = json.loads((other / "dist" / "function.json").read_text())
    assert ma == mb


def test_noop_rebuild_skips_and_content_change_rebuilds(fc_build, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(fc_build, repo)  # dist/ included: the last build is there
    zip_path = repo / "dist" / "function.zip"
    before = zip_path.read_bytes()
    os.utime(repo / "function_src" / "index.py", (1, 1))  # only the time changes
    done = run_build(repo)
    assert done.returncode == 0 and "up to date, skipped" in done.stdout, done.stdout
    seconds = float(done.stdout.split(" in ")[1].split("s;")[0])
    assert seconds < 1.0
    assert zip_path.read_bytes() == before

    index = repo / "function_src" / "index.py"
    index.write_text(index.read_text() + "\n# changed\n")
    done = run_build(repo)
    assert done.returncode == 0 and ": built in" in done.stdout
    assert zip_path.read_bytes() != before


def test_fc_zip_holds_the_handler_and_only_target_wheels(fc_build):
    manifest = json.loads((fc_build / "dist" / "function.json").read_text())
    with zipfile.ZipFile(fc_build / "dist" / "function.zip") as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
    assert "index.py" in names and "imgproc/pipeline.py" in names
    assert names == sorted(names)
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert {(i.external_attr >> 16) & 0o777 for i in infos} <= {0o644, 0o755}
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", "/RECORD"))]
    assert not [n for n in names if n.endswith(("INSTALLER", "direct_url.json"))]
    assert not [n for n in names if n.startswith(("tests/", "bin/"))]
    extensions = [n for n in names if n.endswith(".so") and ".cpython-" in n]
    assert extensions, "Pillow's compiled modules are in the zip"
    assert all("cpython-310-x86_64-linux-gnu" in n for n in extensions), extensions
    wheels = {w["name"].lower(): w for w in manifest["wheels"]}
    assert set(wheels) == {"pillow", "pillow_heif"}
    for wheel in wheels.values():
        assert wheel["tags"] and all(
            t.startswith("cp310-cp310-manylinux") and t.endswith("x86_64") for t in wheel["tags"]
        )
    assert "oss2" not in " ".join(names)  # the runtime's own oss2 is used


def test_manifest_checksums_match_the_zip(fc_build):
    manifest = json.loads((fc_build / "dist" / "function.json").read_text())
    data = (fc_build / "dist" / "function.zip").read_bytes()
    assert manifest["size"] == len(data)
    assert manifest["crc64"] == str(build._crc64_pure(data))
    assert manifest["sha256"] == build.hashlib.sha256(data).hexdigest()
    assert manifest["requirements"] == ["Pillow==12.3.0", "pillow-heif==1.8.1"]
    assert manifest["target"]["runtime"] == "python3.10"


def test_crc64_is_the_ecma_182_xz_variant():
    assert build.crc64(b"123456789") == 0x995DC9BBDF1939FA
    assert build._crc64_pure(b"123456789") == 0x995DC9BBDF1939FA


def test_host_package_imports_and_processes_in_a_clean_interpreter(tmp_path):
    out = tmp_path / "host"
    assert build.main(["--host", "--out", str(out)]) == 0
    root = tmp_path / "unzipped"
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(root)
    buckets = tmp_path / "buckets"
    (buckets / "src-b" / "uploads").mkdir(parents=True)
    shutil.copy(IMAGES / "hopper_orientation_6.jpg", buckets / "src-b" / "uploads" / "p.jpg")
    event = {
        "events": [
            {
                "eventName": "ObjectCreated:PutObject",
                "oss": {"bucket": {"name": "src-b"}, "object": {"key": "uploads/p.jpg"}},
            }
        ]
    }
    code = (
        f"import sys, json; sys.path.insert(0, {str(root)!r}); import index, PIL; "
        f"assert PIL.__file__.startswith({str(root)!r}), PIL.__file__; "
        f"r = index.handler(json.dumps({event!r}).encode(), None); print(json.dumps(r))"
    )
    env = {
        "SOURCE_BUCKET": "src-b",
        "TARGET_BUCKET": "dst-b",
        "IMGPIPE_LOCAL_BUCKETS": str(buckets),
    }
    out_text = clean_python(code, tmp_path, env)
    record = json.loads(out_text.strip().splitlines()[-1])["records"][0]
    assert record["outcome"] == "processed"
    assert (buckets / "dst-b" / "resized" / "large" / "p.webp").exists()
    # the clean interpreter really could not see the repository or the venv
    with pytest.raises(RuntimeError, match="No module named 'imgproc'"):
        clean_python("import imgproc", tmp_path)


def test_layer_moves_dependencies_under_python(tmp_path):
    assert build.main(["--layer", "--out", str(tmp_path)]) == 0
    with zipfile.ZipFile(tmp_path / "function.zip") as zf:
        code = zf.namelist()
    with zipfile.ZipFile(tmp_path / "layer.zip") as zf:
        layer = zf.namelist()
    assert "index.py" in code and not [n for n in code if n.startswith("PIL/")]
    assert "python/PIL/Image.py" in layer and all(n.startswith("python/") for n in layer)
    manifest = json.loads((tmp_path / "function.json").read_text())
    assert manifest["layer"]["size"] == (tmp_path / "layer.zip").stat().st_size


def test_missing_binary_wheel_names_the_package(tmp_path):
    reqs = tmp_path / "req.txt"
    # crcmod publishes only a source distribution
    reqs.write_text("crcmod==1.7 --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(
        build.BuildError, match=r"no binary wheel of crcmod==1\.7 for CPython 3\.10"
    ):
        build.build(tmp_path / "dist", build.target_for("python3.10", False), requirements=reqs)


def test_limits_are_checked_with_clear_errors():
    mib = 1024 * 1024
    build.check_limits(99 * mib, 499 * mib, "x")
    with pytest.raises(build.BuildError, match=r"101\.0 MiB zipped; FC accepts at most 100 MiB"):
        build.check_limits(101 * mib, 200 * mib, "dist/function.zip")
    with pytest.raises(build.BuildError, match=r"501\.0 MiB unzipped; FC accepts at most 500 MiB"):
        build.check_limits(50 * mib, 501 * mib, "dist/function.zip")


def test_wheel_for_the_wrong_platform_is_refused():
    target = build.target_for("python3.10", False)
    assert target.accepts("cp310-cp310-manylinux_2_28_x86_64")
    assert target.accepts("cp37-abi3-manylinux_2_28_x86_64")
    assert target.accepts("py3-none-any")
    assert not target.accepts("cp311-cp311-manylinux_2_28_x86_64")
    assert not target.accepts("cp310-cp310-macosx_11_0_arm64")
    assert not target.accepts("cp310-cp310-manylinux_2_31_x86_64")  # newer glibc than Debian 10
    with pytest.raises(build.BuildError, match="macosx"):
        build.check_wheels(
            [{"name": "pillow", "version": "1", "tags": ["cp310-cp310-macosx_11_0_arm64"]}],
            target,
        )
