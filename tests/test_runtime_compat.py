"""The function's code must run on FC's python3.10 (this machine has 3.11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERMIN = Path(sys.executable).with_name("vermin")


def test_function_src_needs_nothing_newer_than_python_3_10():
    done = subprocess.run(
        [
            str(VERMIN),
            "-t=3.10-",
            "--no-tips",
            "--violations",
            "--eval-annotations",
            str(ROOT / "function_src"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Target versions not met" not in done.stdout


def test_function_src_never_imports_the_local_tools():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "function_src").rglob("*.py")
        if "import imgpipe" in p.read_text() or "from imgpipe" in p.read_text()
    ]
    assert offenders == []
