"""build.py: deterministic, target-correct, importable packages."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import IMAGES
from devtools.package_stats import clean_python

ROOT = Path(__file__).resolve().parent.parent
# Tests that run pip (about 10 s each, wheels from PyPI or pip's cache) are
# marked slow; the rest check the packer's logic with pip stubbed out.
slow = pytest.mark.slow

sys.path.insert(0, str(ROOT))
import build  # noqa: E402  (the packer is a script at the repository root)

# What requirements/function.txt bundles, by distribution name as the wheels'
# METADATA spells it. pyvips-binary brings libvips for imgproc.pngdecode (as
# the cffi module `_libvips`, not the pyvips wrapper) and cffi its
# `_cffi_backend`; its one wheel is stable-ABI, for every CPython 3.
PINS = ["Pillow==12.3.0", "pillow-heif==1.8.1", "cffi==2.1.1", "pyvips-binary==8.18.7"]
BUNDLED = {"pillow", "pillow_heif", "cffi", "pyvips-binary"}
PYVIPS_BINARY_TAGS = ["cp37-abi3-manylinux_2_28_x86_64"]


def assert_runtime_tags(wheels: list[dict], abi: str) -> None:
    """Every wheel is built for the runtime's CPython, or is pyvips-binary's abi3 one."""
    for wheel in wheels:
        if wheel["name"] == "pyvips-binary":
            assert wheel["tags"] == PYVIPS_BINARY_TAGS, wheel
            continue
        assert wheel["tags"] and all(
            t.startswith(f"{abi}-{abi}-manylinux") and t.endswith("x86_64") for t in wheel["tags"]
        ), wheel


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


@slow
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


@slow
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

    # A pin edit is not skipped either: pip runs (and here refuses the wheel,
    # whose hash no longer matches), and the last good zip stays as it was.
    built = zip_path.read_bytes()
    reqs = repo / "requirements" / "function.txt"
    # every hash, since pip accepts a wheel matching any of a pin's hashes
    reqs.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, reqs.read_text()))
    done = run_build(repo)
    assert done.returncode == 1 and "skipped" not in done.stdout, done.stdout
    assert "does not match requirements/function.txt's hashes" in done.stderr, done.stderr
    assert zip_path.read_bytes() == built


@slow
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
    assert set(wheels) == BUNDLED
    assert_runtime_tags(manifest["wheels"], "cp310")
    assert "oss2" not in " ".join(names)  # the runtime's own oss2 is used
    # libvips as pyvips-binary ships it: the cffi module, and the library it
    # finds through its RPATH ($ORIGIN/pyvips_binary.libs)
    assert "_libvips.abi3.so" in names and "_cffi_backend.cpython-310-x86_64-linux-gnu.so" in names
    assert [n for n in names if re.fullmatch(r"pyvips_binary\.libs/libvips-\w+\.so\.42", n)]
    # neither the pyvips wrapper nor pycparser (cffi needs it only to compile)
    assert not [n for n in names if n.startswith(("pyvips/", "pycparser/"))]


@slow
def test_manifest_checksums_match_the_zip(fc_build):
    manifest = json.loads((fc_build / "dist" / "function.json").read_text())
    data = (fc_build / "dist" / "function.zip").read_bytes()
    assert manifest["size"] == len(data)
    assert manifest["crc64"] == str(build._crc64_pure(data))
    assert manifest["sha256"] == build.hashlib.sha256(data).hexdigest()
    assert manifest["requirements"] == PINS
    assert manifest["target"]["runtime"] == "python3.10"


def test_lock_file_pins_what_function_in_asks_for():
    """function.txt is function.in re-pinned (`make lock`), and holds what the tests expect."""
    asked = re.findall(r"^([A-Za-z0-9_.\-]+==[^\s#]+)", build.REQUIREMENTS_IN.read_text(), re.M)
    assert asked == build.pinned_requirements(build.REQUIREMENTS) == PINS


def test_crc64_is_the_ecma_182_xz_variant():
    assert build.crc64(b"123456789") == 0x995DC9BBDF1939FA
    assert build._crc64_pure(b"123456789") == 0x995DC9BBDF1939FA


@pytest.fixture(scope="module")
def host_package(tmp_path_factory) -> Path:
    """The package built for this machine's CPython, unzipped: what FC would see."""
    tmp = tmp_path_factory.mktemp("host")
    assert build.main(["--host", "--out", str(tmp / "dist")]) == 0
    root = tmp / "unzipped"
    with zipfile.ZipFile(tmp / "dist" / "function.zip") as zf:
        zf.extractall(root)
    return root


@slow
def test_host_package_imports_and_processes_in_a_clean_interpreter(host_package, tmp_path):
    root = host_package
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
    assert (buckets / "dst-b" / "resized" / "large" / "p.jpg.webp").exists()
    # the clean interpreter really could not see the repository or the venv
    with pytest.raises(RuntimeError, match="No module named 'imgproc'"):
        clean_python("import imgproc", tmp_path)


@slow
def test_host_package_loads_libvips_from_the_package_alone(host_package, tmp_path):
    """`_libvips` (pyvips-binary) imports and initialises libvips with nothing but the
    unzipped package on the path: its `_cffi_backend` from the bundled cffi, libvips
    itself from pyvips_binary.libs (the venv, which also has pyvips-binary, is out of
    sight), and without pycparser, which is not bundled."""
    root = str(host_package)
    code = (
        f"import sys, json; sys.path.insert(0, {root!r}); import _libvips, _cffi_backend; "
        "maps = open('/proc/self/maps').read().split(); "
        "print(json.dumps({'libvips': _libvips.__file__, 'backend': _cffi_backend.__file__, "
        "'so': sorted({m for m in maps if '/libvips-' in m}), "
        "'init': _libvips.lib.vips_init(b'imgpipe'), "
        "'version': [_libvips.lib.vips_version(i) for i in range(3)], "
        "'pycparser': 'pycparser' in sys.modules}))"
    )
    seen = json.loads(clean_python(code, tmp_path).strip().splitlines()[-1])
    assert seen["libvips"].startswith(root) and seen["backend"].startswith(root), seen
    (so,) = seen["so"]
    assert so.startswith(f"{root}/pyvips_binary.libs/libvips-"), so
    assert seen["init"] == 0
    assert seen["version"] == [8, 18, 7]
    assert seen["pycparser"] is False


@slow
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


@slow
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
    build.check_limits(500_000_000, 499 * mib, "x")  # FC's 500 MB through OSS, exactly
    with pytest.raises(build.BuildError, match=r"500\.0 MB zipped; FC accepts at most 500 MB"):
        build.check_limits(500_000_001, 200 * mib, "dist/function.zip")
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


@slow
def test_python312_package_carries_cp312_wheels_and_the_same_code(fc_build, tmp_path):
    # 3.12 wheels are downloaded for the target; no 3.12 interpreter is needed
    # (or present here), so the check is the tags and the zip's contents.
    assert build.main(["--runtime", "python3.12", "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "function.json").read_text())
    assert manifest["target"]["runtime"] == "python3.12"
    assert manifest["target"]["python_version"] == "3.12"
    with zipfile.ZipFile(tmp_path / "function.zip") as zf:
        names = zf.namelist()
    extensions = [n for n in names if n.endswith(".so") and ".cpython-" in n]
    assert extensions and all("cpython-312-x86_64-linux-gnu" in n for n in extensions), extensions
    assert {w["name"].lower() for w in manifest["wheels"]} == BUNDLED
    assert_runtime_tags(manifest["wheels"], "cp312")
    with zipfile.ZipFile(fc_build / "dist" / "function.zip") as zf:
        py310 = zf.namelist()
    code = {n for n, _ in build.source_files()}
    assert code <= set(names) and code <= set(py310)
    assert (
        manifest["input_hash"]
        != json.loads((fc_build / "dist" / "function.json").read_text())["input_hash"]
    )


# ---------------------------------------------------------------- skip-if-unchanged (pip stubbed)


def fake_pip(target, into: Path, requirements: Path) -> None:
    """What pip would leave: one pure-Python distribution per pin, named after it."""
    for pin in build.pinned_requirements(requirements):
        name, version = pin.split("==")
        package = name.lower().replace("-", "_")
        (into / package).mkdir(parents=True, exist_ok=True)
        (into / package / "__init__.py").write_text(f"__version__ = {version!r}\n")
        info = into / f"{package}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py3-none-any\n")
        # install-time noise that must never reach the zip
        for noise in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
            (info / noise).write_text("noise")
        (into / package / "__pycache__").mkdir(exist_ok=True)
        (into / package / "__pycache__" / "__init__.cpython-310.pyc").write_bytes(b"pyc")
    (into / "bin").mkdir(exist_ok=True)
    (into / "bin" / "a-console-script").write_text("#!/bin/sh\n")


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """build.py's inputs as a temp copy (function_src, the lock file); pip stubbed."""
    src = tmp_path / "function_src"
    shutil.copytree(ROOT / "function_src", src, ignore=shutil.ignore_patterns("__pycache__"))
    reqs = tmp_path / "function.txt"
    shutil.copy(ROOT / "requirements" / "function.txt", reqs)
    monkeypatch.setattr(build, "SOURCE", src)
    monkeypatch.setattr(build, "install_dependencies", fake_pip)
    return src, reqs


def test_requirement_pin_change_rebuilds(sandbox, tmp_path):
    """A pin bump must not leave the old zip in place (the skip compares input hashes)."""
    _, reqs = sandbox
    target = build.target_for("python3.10", False)
    out = tmp_path / "dist"
    pins = build.pinned_requirements(reqs)
    first = build.build(out, target, requirements=reqs)
    assert first["skipped"] is False and first["requirements"] == pins
    assert build.build(out, target, requirements=reqs)["skipped"] is True

    old = pins[-1]
    new = old + ".post1"
    reqs.write_text(reqs.read_text().replace(old, new))
    bumped = build.build(out, target, requirements=reqs)
    assert bumped["skipped"] is False
    assert bumped["requirements"][-1] == new
    name, version = new.split("==")
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert f"{name.lower().replace('-', '_')}-{version}.dist-info/METADATA" in zf.namelist()


def _edit(kind: str, src: Path, reqs: Path) -> dict:
    """Apply one change to the package's inputs; return input_hash's other arguments."""
    args = {"target": build.target_for("python3.10", False), "layer": False}
    text = reqs.read_text()
    if kind == "pin":
        pin = build.pinned_requirements(reqs)[0]
        reqs.write_text(text.replace(pin, pin + ".post1"))
    elif kind == "wheel hash":
        digest = text.split("--hash=sha256:")[1][:64]
        reqs.write_text(text.replace(digest, "f" * 64))
    elif kind == "code":
        (src / "imgproc" / "ops.py").write_text((src / "imgproc" / "ops.py").read_text() + "#\n")
    elif kind == "new module":
        (src / "fc_handler" / "extra.py").write_text("X = 1\n")
    elif kind == "executable bit":
        os.chmod(src / "index.py", 0o755)
    elif kind == "runtime":
        args["target"] = build.target_for("python3.12", False)
    elif kind == "layer":
        args["layer"] = True
    elif kind == "file times":
        for path in src.rglob("*.py"):
            os.utime(path, (1, 1))
    elif kind == "bytecode cache":
        (src / "__pycache__").mkdir(exist_ok=True)
        (src / "__pycache__" / "index.cpython-310.pyc").write_bytes(b"junk")
    return args


@pytest.mark.parametrize(
    ("kind", "changes"),
    [
        ("pin", True),
        ("wheel hash", True),
        ("code", True),
        ("new module", True),
        ("executable bit", True),
        ("runtime", True),
        ("layer", True),
        ("file times", False),  # not in the zip: must not force a rebuild
        ("bytecode cache", False),
    ],
)
def test_input_hash_covers_everything_the_package_is_made_of(sandbox, kind, changes):
    src, reqs = sandbox
    os.chmod(src / "index.py", 0o644)
    target = build.target_for("python3.10", False)
    before = build.input_hash(target, False, reqs)
    assert build.input_hash(target, False, reqs) == before  # stable
    args = _edit(kind, src, reqs)
    after = build.input_hash(args["target"], args["layer"], reqs)
    assert (after != before) is changes


# ---------------------------------------------------------------- the command line (pip stubbed)


def test_main_reports_what_it_did(sandbox, tmp_path, capsys):
    out = tmp_path / "dist"
    line_re = (
        r"(?P<path>\S+function\.zip): (?P<state>built|up to date, skipped) in \d+\.\d\ds; "
        r"\d+\.\d\d MiB zipped, \d+\.\d\d MiB unzipped, (?P<files>\d+) files, "
        r"target (?P<target>\S+), crc64 (?P<crc>\d+)"
    )

    def run(*args: str) -> re.Match:
        assert build.main([*args, "--out", str(out)]) == 0
        lines = capsys.readouterr().out.splitlines()
        match = re.fullmatch(line_re, lines[0])
        assert match, lines
        return match

    first = run()
    manifest = json.loads((out / "function.json").read_text())
    assert first["state"] == "built" and first["target"] == "python3.10"
    assert first["crc"] == manifest["crc64"] and int(first["files"]) == manifest["files"]
    assert run()["state"] == "up to date, skipped"
    assert run("--force")["state"] == "built"
    assert run("--runtime", "python3.12")["target"] == "python3.12"
    assert run("--host")["target"] == "host"

    assert build.main(["--layer", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(line_re, lines[0])
    assert re.fullmatch(r"\S+layer\.zip: \d+\.\d\d MiB zipped, \d+\.\d\d MiB unzipped", lines[1])


def test_main_turns_build_errors_into_one_line_and_exit_1(sandbox, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing pinned\n")
    assert build.main(["--out", str(tmp_path / "d"), "--requirements", str(empty)]) == 1
    err = capsys.readouterr().err
    assert err == f"build.py: error: {empty} pins nothing; run `python build.py lock`\n"


def test_pip_is_asked_for_the_targets_binary_wheels_with_hashes(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(build.subprocess, "run", fake_run)
    reqs = tmp_path / "r.txt"
    build.install_dependencies(build.target_for("python3.10", False), tmp_path / "site", reqs)
    (cmd,) = calls
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    for flag in ("--no-deps", "--require-hashes", "--only-binary=:all:", "--no-compile"):
        assert flag in cmd
    assert cmd[cmd.index("--target") + 1] == str(tmp_path / "site")
    assert cmd[cmd.index("-r") + 1] == str(reqs)
    assert cmd[cmd.index("--python-version") + 1] == "3.10"
    assert cmd[cmd.index("--implementation") + 1] == "cp"
    abis = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--abi"]
    platforms = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--platform"]
    assert abis == ["cp310", "abi3", "none"]
    assert platforms[0] == "manylinux_2_28_x86_64" and "manylinux_2_31_x86_64" not in platforms
    assert platforms[-1] == "manylinux2014_x86_64"
    # a host build lets pip pick this machine's platform
    host = build.target_for("python3.10", True).pip_args()
    assert host == ["--only-binary=:all:", "--python-version", f"3.{sys.version_info.minor}"]

    monkeypatch.setattr(
        build.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: boom"),
    )
    with pytest.raises(build.BuildError, match=r"^pip failed:\nERROR: boom$"):
        build.install_dependencies(build.target_for("python3.10", False), tmp_path, reqs)


def test_pip_failures_are_explained():
    py310 = build.target_for("python3.10", False)
    missing = build._explain_pip_failure(
        "ERROR: No matching distribution found for crcmod==1.7\n", py310
    )
    assert missing.startswith(
        "no binary wheel of crcmod==1.7 for CPython 3.10 on "
        "manylinux_2_28_x86_64, manylinux_2_27_x86_64, ...: the function needs wheels"
    )
    host = build._explain_pip_failure(
        "No matching distribution found for x==1", build.Target("host", "3.11", ())
    )
    assert "for CPython 3.11 on this machine:" in host
    hashes = build._explain_pip_failure("THESE PACKAGES DO NOT MATCH THE HASHES ...", py310)
    assert hashes.startswith(
        "a downloaded wheel does not match requirements/function.txt's hashes:\n"
    )
    other = build._explain_pip_failure("x" * 5000 + "the end", py310)
    assert other == "pip failed:\n" + ("x" * 5000 + "the end")[-3000:]


def test_lock_pins_every_targets_wheel_hash(tmp_path, monkeypatch, capsys):
    """`build.py lock` downloads each pin for python3.10, python3.12 and the host, and
    writes one hash per distinct wheel (pip stubbed: each target gets its own bytes)."""
    requirements_in = tmp_path / "function.in"
    requirements_in.write_text(
        "# what the function imports\nPillow==12.3.0\npillow-heif==1.8.1  # HEIC\n"
    )
    out = tmp_path / "function.txt"
    monkeypatch.setattr(build, "REQUIREMENTS_IN", requirements_in)
    monkeypatch.setattr(build, "REQUIREMENTS", out)
    downloads = []

    def fake_download(cmd, **kwargs):
        assert cmd[3] == "download" and "--no-deps" in cmd
        dest = Path(cmd[cmd.index("-d") + 1])
        dest.mkdir(parents=True)
        version = cmd[cmd.index("--python-version") + 1]
        platform = cmd[cmd.index("--platform") + 1] if "--platform" in cmd else "host"
        pins = [a for a in cmd if "==" in a]
        for pin in pins:
            name, ver = pin.split("==")
            wheel = dest / f"{name.replace('-', '_')}-{ver}-cp{version}-{platform}.whl"
            wheel.write_bytes(f"{pin} {version} {platform}".encode())
        downloads.append((version, platform, pins))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(build.subprocess, "run", fake_download)
    build.lock()
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert downloads == [
        ("3.10", "manylinux_2_28_x86_64", ["Pillow==12.3.0", "pillow-heif==1.8.1"]),
        ("3.12", "manylinux_2_31_x86_64", ["Pillow==12.3.0", "pillow-heif==1.8.1"]),
        (host, "host", ["Pillow==12.3.0", "pillow-heif==1.8.1"]),
    ]

    def digest(text: str) -> str:
        return build.hashlib.sha256(text.encode()).hexdigest()

    expected = {
        pin: sorted(digest(f"{pin} {v} {p}") for v, p, _ in downloads)
        for pin in ("Pillow==12.3.0", "pillow-heif==1.8.1")
    }
    text = out.read_text()
    assert text.startswith("# Generated by `python build.py lock` from requirements/function.in")
    assert build.pinned_requirements(out) == ["Pillow==12.3.0", "pillow-heif==1.8.1"]
    for pin, hashes in expected.items():
        block = text.split(pin + " \\\n")[1].split("\n")[: len(hashes)]
        assert [line.strip(" \\") for line in block] == [f"--hash=sha256:{h}" for h in hashes]
    assert text.endswith(f"--hash=sha256:{expected['pillow-heif==1.8.1'][-1]}\n")
    assert capsys.readouterr().out == f"wrote {out} (2 pins)\n"


def test_zip_holds_code_and_dependencies_and_nothing_else(sandbox, tmp_path):
    src, reqs = sandbox
    os.chmod(src / "index.py", 0o755)
    target = build.target_for("python3.10", False)
    manifest = build.build(tmp_path / "dist", target, requirements=reqs)
    expected = [
        {"name": pin.split("==")[0], "version": pin.split("==")[1], "tags": ["py3-none-any"]}
        for pin in build.pinned_requirements(reqs)
    ]
    assert sorted(manifest["wheels"], key=str) == sorted(expected, key=str)
    with zipfile.ZipFile(tmp_path / "dist" / "function.zip") as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    code = [n for n, _ in build.source_files()]
    deps = [n for n in names if n not in code]
    assert names == sorted(names) and set(code) <= set(names)
    assert "index.py" in names and "imgproc/pipeline.py" in names
    for pin in build.pinned_requirements(reqs):
        name, version = pin.split("==")
        package = name.lower().replace("-", "_")
        assert f"{package}/__init__.py" in deps
        assert f"{package}-{version}.dist-info/METADATA" in deps
        assert f"{package}-{version}.dist-info/WHEEL" in deps
    noise = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", ".pyc")
    assert not [n for n in names if n.endswith(noise) or n.startswith("bin/")], names
    assert len(deps) == 3 * len(build.pinned_requirements(reqs))  # package, METADATA, WHEEL
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.create_system == 3
        mode = (info.external_attr >> 16) & 0o777
        assert mode == (0o755 if info.filename == "index.py" else 0o644), info.filename
        assert info.external_attr >> 16 & 0o170000 == 0o100000  # a regular file
    assert manifest["files"] == len(names)
    assert manifest["unzipped_size"] == sum(i.file_size for i in infos)
