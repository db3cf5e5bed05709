"""The project's development tools (tests/devtools/), run as `make` runs them.

They left the user's `imgpipe` command (issue 24) but kept its manners: a bad
flag is one line and exit status 2, before any work.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tests" / "devtools" / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--zip", "{tmp}"], "not a zip file"),
        (["--zip", "{tmp}/event.json"], "not a zip file"),
        (["--repeat", "-3"], "--repeat"),
        (["--repeat", "0"], "--repeat"),
    ],
)
def test_package_stats_refuses_bad_flags_in_one_line(tmp_path, args, needle):
    (tmp_path / "event.json").write_text("{}")
    done = _run("package_stats.py", *(a.format(tmp=tmp_path) for a in args))
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_package_stats_says_how_to_build_a_missing_package(tmp_path):
    done = _run("package_stats.py", "--zip", str(tmp_path / "function.zip"))
    assert done.returncode != 0 and "make package-host" in done.stderr
    assert "Traceback" not in done.stderr


def test_tf_check_finds_no_deprecated_argument_in_the_module():
    done = _run("tf_check.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tf-check: 0 deprecated" in done.stderr


@pytest.mark.parametrize("gone", ["tf-check", "package-stats"])
def test_the_users_cli_no_longer_offers_them(gone):
    done = subprocess.run(
        [sys.executable, "-m", "imgpipe", gone], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "invalid choice" in done.stderr
