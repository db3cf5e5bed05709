"""build.py at its edges, each from a cold start.

- The CRC-64 (FC's `code.checksum`, the plan's `code_checksum`) on a machine
  without crcmod's C extension is the pure-Python one; the table it builds
  is cached for the process, so a test that runs after any other CRC would
  not exercise the building: each test here starts without it.
- The skip of an unchanged build must not keep a zip changed or deleted since.
- The manifest holds each key the Terraform module reads from it.
- A universal wheel (`py2.py3`) runs everywhere; each size limit holds on
  both sides of it.
"""

from __future__ import annotations

import json
import random
import sys

import pytest

from imgpipe import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))
import build  # the packer is a script at the repository root

CHECK = 0x995DC9BBDF1939FA  # CRC-64/XZ of b"123456789" (the catalogue's check value)


@pytest.fixture
def cold(monkeypatch):
    monkeypatch.setattr(build, "_CRC64_TABLE", [])


def _data() -> list[bytes]:
    rng = random.Random(64)
    return [b"", b"\x00", b"\xff" * 9, *(rng.randbytes(n) for n in (1, 7, 8, 255, 256, 4099))]


def test_the_pure_crc64_from_a_cold_start_is_crcmods(cold):
    import crcmod

    xz = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
    assert build._crc64_pure(b"123456789") == CHECK
    for data in _data():
        assert build._crc64_pure(data) == xz(data), data[:16]
    assert len(build._CRC64_TABLE) == 256


def test_without_crcmod_the_package_checksum_is_the_same(cold, monkeypatch):
    """A machine that cannot import crcmod: `crc64` falls back, same numbers."""
    expected = [build.crc64(data) for data in _data()]
    monkeypatch.setitem(sys.modules, "crcmod", None)  # `import crcmod` raises ImportError
    assert build.crc64(b"123456789") == CHECK
    assert [build.crc64(data) for data in _data()] == expected
    assert build.digests(b"123456789")["crc64"] == str(CHECK)


# ------------------------------------------- an output changed since it was built


@pytest.fixture
def stubbed(tmp_path, monkeypatch):
    """build.py's inputs as in tests/test_build.py's sandbox: pip stubbed."""
    from test_build import fake_pip

    monkeypatch.setattr(build, "install_dependencies", fake_pip)
    return build.REQUIREMENTS


@pytest.mark.parametrize(
    ("layer", "which"), [(False, "function.zip"), (True, "function.zip"), (True, "layer.zip")]
)
@pytest.mark.parametrize("harm", ["appended", "deleted"])
def test_an_output_changed_or_gone_since_the_build_is_built_again(
    stubbed, tmp_path, layer, harm, which
):
    """The skip trusts the manifest only while each zip is the one it describes:
    `terraform apply` would upload whatever lies in dist/."""
    out = tmp_path / "dist"
    target = build.target_for("python3.10", False)
    assert build.build(out, target, layer, requirements=stubbed)["skipped"] is False
    built = (out / which).read_bytes()
    assert build.build(out, target, layer, requirements=stubbed)["skipped"] is True
    if harm == "appended":
        (out / which).write_bytes(built + b"\0")
    else:
        (out / which).unlink()
    again = build.build(out, target, layer, requirements=stubbed)
    assert again["skipped"] is False and (out / which).read_bytes() == built


# ------------------------------------------- the manifest Terraform reads


def test_the_manifest_holds_what_the_terraform_module_reads(stubbed, tmp_path):
    """modules/imgpipe/main.tf reads dist/function.json (`local.manifest.<key>`) for
    the upload's Content-MD5 (OSS refuses a body that does not match) and FC's
    checksum: each key it names is there, describing the zip beside it."""
    import base64
    import hashlib
    import re

    from imgpipe import REPO_ROOT

    read = set()
    for tf in (REPO_ROOT / "modules").rglob("*.tf"):
        read |= set(re.findall(r"local\.manifest\.(\w+)", tf.read_text()))
    assert read == {"content_md5", "crc64", "sha256", "size"}
    out = tmp_path / "dist"
    build.build(out, build.target_for("python3.10", False), requirements=stubbed)
    manifest = json.loads((out / "function.json").read_text())
    data = (out / "function.zip").read_bytes()
    assert {key: manifest[key] for key in read} == {
        "content_md5": base64.b64encode(hashlib.md5(data).digest()).decode(),
        "crc64": str(build.crc64(data)),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def test_a_universal_wheel_runs_on_every_target():
    """`py2.py3-none-any` (six, one of oss2's dependencies, is tagged so)."""
    for target in (build.target_for("python3.10", False), build.target_for("", True)):
        assert target.accepts("py2.py3-none-any") and target.accepts("py3-none-any")
        assert not target.accepts("py2-none-any")


def test_each_size_limit_on_both_sides_of_it():
    """Exactly at a limit is accepted, one byte over is refused (with the size shown)."""
    mib = 1024 * 1024
    build.check_limits(build.MAX_ZIPPED, build.MAX_UNZIPPED, "dist/function.zip")
    with pytest.raises(build.BuildError) as zipped:
        build.check_limits(build.MAX_ZIPPED + 1, 10 * mib, "dist/function.zip")
    assert str(zipped.value) == (
        "dist/function.zip is 500.0 MB zipped; FC accepts at most 500 MB through OSS"
    )
    with pytest.raises(build.BuildError) as unzipped:
        build.check_limits(10 * mib, build.MAX_UNZIPPED + 1, "dist/function.zip")
    assert str(unzipped.value) == (
        "dist/function.zip is 500.0 MiB unzipped; FC accepts at most 500 MiB"
    )


# ------------------------------------------------------------ the command line


def test_a_dependency_shadowing_the_functions_code_is_refused(stubbed, tmp_path, monkeypatch):
    """A wheel with a top-level `index.py` would replace FC's handler in the zip."""
    from test_build import fake_pip

    def shadowing_pip(target, into, requirements):
        fake_pip(target, into, requirements)
        (into / "index.py").write_text("def handler(event, context): ...\n")

    monkeypatch.setattr(build, "install_dependencies", shadowing_pip)
    with pytest.raises(build.BuildError) as caught:
        build.build(tmp_path / "dist", build.target_for("python3.10", False), requirements=stubbed)
    assert str(caught.value) == "the code and a dependency both provide ['index.py']"


def test_lock_locks_and_builds_nothing(monkeypatch, tmp_path):
    locked = []
    monkeypatch.setattr(build, "lock", lambda: locked.append(True))
    monkeypatch.setattr(build, "build", lambda *a, **k: pytest.fail("lock must not build"))
    assert build.main(["lock"]) == 0 and locked == [True]


def test_make_package_writes_dist_and_reports_its_sizes(stubbed, tmp_path, monkeypatch, capsys):
    """`python build.py` (what `make package` runs) writes dist/ at the repository's
    root, where the Terraform module looks, and reports what it wrote in MiB."""
    monkeypatch.setattr(build, "ROOT", tmp_path)
    assert build.main(["--layer"]) == 0
    manifest = json.loads((tmp_path / "dist" / "function.json").read_text())
    assert (tmp_path / "dist" / "function.zip").stat().st_size == manifest["size"]
    zip_line, layer_line = capsys.readouterr().out.splitlines()
    mib = 1024 * 1024
    seconds = float(zip_line.split(" in ", 1)[1].split("s;", 1)[0])
    assert 0 <= seconds < 60, zip_line  # the stubbed build takes well under a second
    assert (
        f"; {manifest['size'] / mib:.2f} MiB zipped, {manifest['unzipped_size'] / mib:.2f} MiB "
        f"unzipped, {manifest['files']} files, target python3.10, crc64 {manifest['crc64']}"
    ) in zip_line
    layer = manifest["layer"]
    assert layer_line.endswith(
        f"layer.zip: {layer['size'] / mib:.2f} MiB zipped, "
        f"{layer['unzipped_size'] / mib:.2f} MiB unzipped"
    )


def test_a_source_without_the_handler_is_refused(stubbed, tmp_path, monkeypatch):
    import shutil

    src = tmp_path / "function_src"
    shutil.copytree(build.SOURCE, src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "index.py").unlink()
    monkeypatch.setattr(build, "SOURCE", src)
    with pytest.raises(build.BuildError) as caught:
        build.build(tmp_path / "dist", build.target_for("python3.10", False), requirements=stubbed)
    assert str(caught.value) == "function_src/index.py is missing: FC's handler is index.handler"


def test_a_package_over_fcs_limit_is_named(stubbed, tmp_path, monkeypatch):
    monkeypatch.setattr(build, "MAX_UNZIPPED", 64 * 1024)  # the code alone is more
    with pytest.raises(build.BuildError) as caught:
        build.build(tmp_path / "dist", build.target_for("python3.10", False), requirements=stubbed)
    assert str(caught.value).startswith("dist/function.zip is ")
    assert " MiB unzipped; FC accepts at most " in str(caught.value)


@pytest.mark.parametrize(
    "argv", [["--runtime", "python3.9"], ["deploy"]], ids=["unknown-runtime", "unknown-command"]
)
def test_an_unknown_runtime_or_command_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        build.main(argv)
    assert caught.value.code == 2 and "invalid choice" in capsys.readouterr().err
