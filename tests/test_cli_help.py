"""`imgpipe --help`, `imgpipe COMMAND --help`, `--version`, and `process`'s summary line."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys

import pytest
from conftest import IMAGES

import imgpipe
from imgpipe.cli import COMMANDS, parser

IMGPIPE = [sys.executable, "-m", "imgpipe"]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_every_command_is_described_with_examples():
    subs = _subparsers()
    assert set(subs) == set(COMMANDS)
    for name, sub in subs.items():
        assert sub.description and len(sub.description) > 40, name
        examples = sub.epilog.split("examples:\n", 1)[1]
        assert f"imgpipe {name}" in examples or f"make {name}" in examples, name


def test_the_top_level_help_has_examples_too():
    """The README promises examples in every --help, `imgpipe --help` included."""
    shown = subprocess.run([*IMGPIPE, "--help"], capture_output=True, text=True, check=True)
    examples = shown.stdout.split("examples:\n", 1)[1]
    assert "imgpipe demo" in examples and "imgpipe process" in examples


@pytest.mark.parametrize(
    ("argv", "blamed"),
    [
        (["process", "x.jpg", "--out", "o", "--bogus"], "imgpipe process"),
        (["demo", "--bogus"], "imgpipe demo"),
        (["--bogus", "demo"], "imgpipe"),
    ],
)
def test_an_unknown_flag_points_at_the_help_of_the_command_it_was_given_to(argv, blamed):
    done = subprocess.run([*IMGPIPE, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == (
        f"{blamed}: error: unrecognized arguments: --bogus (see {blamed} --help)\n"
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_flag_and_argument_has_help(name):
    sub = _subparsers()[name]
    undocumented = [
        a.option_strings or [a.dest]
        for a in sub._actions
        if not isinstance(a, argparse._HelpAction) and not a.help
    ]
    assert undocumented == []


def test_invoke_help_names_the_environment_it_needs():
    done = subprocess.run(
        [*IMGPIPE, "invoke", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("SOURCE_BUCKET", "TARGET_BUCKET", "IMGPIPE_CONFIG"):
        assert name in done.stdout
    assert "SOURCE_BUCKET                bucket users upload to (required)" in done.stdout


def test_version():
    done = subprocess.run([*IMGPIPE, "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, f"imgpipe {imgpipe.__version__}\n")


def test_process_ends_with_a_summary_for_people_unless_quiet(tmp_path):
    good = tmp_path / "a.jpg"
    shutil.copy(IMAGES / "hopper.jpg", good)
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"<html>not a photo</html>")
    out = tmp_path / "out"
    args = [*IMGPIPE, "process", str(good), str(broken), "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0  # a rejection is an answer, not a failure
    records = [json.loads(line) for line in done.stdout.splitlines()]  # stdout: JSON only
    written = sum(o["bytes"] for r in records for o in r["outputs"])
    assert done.stderr == (
        "imgpipe process: 2 inputs: 1 ok, 1 rejected (unsupported: not one of the "
        "supported input formats); "
        f"6 variants, {written:,} bytes written under {out}\n"
    )
    quiet = subprocess.run([*args, "--quiet"], capture_output=True, text=True, check=False)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert quiet.stdout.count("\n") == 2
