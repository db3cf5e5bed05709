"""The layers of .importlinter hold, and a planted import that breaks one is caught.

`lint-imports` (import-linter) reads the imports of `imgpipe/` and
`function_src/` without running them; each planted breach below is one line
a developer could write, in a copy of the code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{root / 'function_src'}{os.pathsep}{root}"}
    return subprocess.run(
        [str(LINT), "--config", str(root / ".importlinter"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_code_keeps_every_contract():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "imgpipe/commands/backfill.py",
            "from imgpipe.commands.smoke import SmokeError",
            "No command imports another command BROKEN",
        ),
        (
            "imgpipe/cloud/fc.py",
            "from imgpipe.jobs.backfill import Backfill",
            "the jobs above\nthe cloud BROKEN",
        ),
        (
            "imgpipe/cloud/stack.py",
            "from imgpipe.commands.demo import run",
            "the jobs above\nthe cloud BROKEN",
        ),
        (
            "function_src/imgproc/keys.py",
            "from imgpipe.cloud.events import cloudevent",
            "never imports the local tools BROKEN",
        ),
        (
            "function_src/fc_handler/storage.py",
            "from fc_handler.handle import handle_event",
            "the parts above the processor BROKEN",
        ),
    ],
)
def test_a_planted_import_is_caught(tmp_path, module, line, contract):
    for part in ("imgpipe", "function_src"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    path = tmp_path / module
    text = path.read_text()
    head, sep, rest = text.partition("\nfrom __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest)
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout
    assert contract in done.stdout, done.stdout
