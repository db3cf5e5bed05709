"""Every shell command in README.md and docs/ is run, or says why not.

Each line of a ```sh block (a line ending in `\\` continues on the next) is
one test, named by its page and line. It runs with bash in a scratch copy
of a fresh `make demo`: the repository's files linked in, `.venv/bin` on
PATH, `HOME` holding `~/Pictures/holiday` (two photos). The commands of one
block share one scratch directory, in order, as a reader typing them would.

A command that cannot run here is skipped, visibly, with the reason from
`NOT_RUN` (the cloud, the network, the whole suite); the commands after it
in the same block are skipped too, since they may need what it made. A
command matched by no rule must run, and must exit 0.

A comment `# => a: 1; b: 2` after a command is a claim about its output:
each `;`-separated phrase must appear in what it printed (spaces and
alignment aside). Write claims in the output's own words.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imgpipe import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?:sh|bash|shell)\b[^\n]*\n(.*?)^```", re.M | re.S)
HOLIDAY = ("hopper.jpg", "flower.jpg")  # tests/data/images, for ~/Pictures/holiday

# (pattern, why it is not run here): the first that matches a command decides.
NOT_RUN = [
    (r"^make test\b", "the whole test suite: this test is part of it"),
    (r"^make package(-host)?\b", "builds the deployment package: tests/test_build.py builds it"),
    (r"^terraform init -backend=false", "needs the Terraform registry (network); `make tf-test`"),
    (r"^(cd examples/|terraform |cp backend\.hcl)", "needs an Alibaba Cloud account"),
    (r"--outputs outputs\.json", "needs a deployed stack (`terraform output -json`)"),
    (r"^gh ", "needs GitHub"),
    (r"^host=|openssl s_client", "needs the network"),
    (r"^git ", "changes your repository"),
    (r"\bevent\.json\b", "needs an event file of your own (`imgpipe invoke --help`)"),
]


@dataclass
class Command:
    page: str
    line: int
    block: str
    text: str
    claims: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line} {self.text[:60]}"


def commands() -> list[Command]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(REPO_ROOT).as_posix()
        for block in FENCE.finditer(text):
            first = text[: block.start(1)].count("\n") + 1
            block_id = f"{name}:{first - 1}"
            lines = block.group(1).splitlines()
            i = 0
            while i < len(lines):
                start, joined = i, lines[i]
                while joined.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    joined = joined[:-1] + " " + lines[i].strip()
                i += 1
                command, _, comment = joined.partition("  #")
                command = command.strip()
                if not command or command.startswith("#"):
                    continue
                claims = []
                if comment.strip().startswith("=>"):
                    claims = [c.strip() for c in comment.strip()[2:].split(";") if c.strip()]
                found.append(Command(name, first + start, block_id, command, claims))
    return found


COMMANDS = commands()


def why_not(command: Command) -> str | None:
    for pattern, why in NOT_RUN:
        if re.search(pattern, command.text):
            return why
    return None


def _link_repository(into: Path) -> None:
    """The repository's top-level entries, linked (what a fresh clone holds), and .venv."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    names = {line.split("/")[0] for line in listed.stdout.splitlines()} if listed.stdout else set()
    names = names or {p.name for p in REPO_ROOT.iterdir() if p.name not in (".git", ".demo")}
    for name in sorted(names | {".venv"}):
        (into / name).symlink_to(REPO_ROOT / name)


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory) -> Path:
    """A scratch directory where `make demo` has just run."""
    root = tmp_path_factory.mktemp("fresh-demo")
    _link_repository(root)
    holiday = root / "home" / "Pictures" / "holiday"
    holiday.mkdir(parents=True)
    for name in HOLIDAY:
        shutil.copy(REPO_ROOT / "tests" / "data" / "images" / name, holiday / name)
    done = _bash("make demo", root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


_BLOCKS: dict[str, Path] = {}
_SKIPPED: dict[str, str] = {}


def _bash(text: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{cwd / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(cwd / "home")
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", text],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _workspace(command: Command, fresh: Path, tmp_root: Path) -> Path:
    """The block's scratch directory: a copy of the fresh demo, made once per block."""
    if command.block not in _BLOCKS:
        where = tmp_root / re.sub(r"\W+", "-", command.block)
        shutil.copytree(fresh, where, symlinks=True)
        _BLOCKS[command.block] = where
    return _BLOCKS[command.block]


def test_the_pages_have_commands_and_each_is_read_whole():
    assert len(COMMANDS) > 20
    assert all("\\" not in c.text.rstrip()[-1:] for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.id)
def test_documented_command(command, fresh_demo, tmp_path_factory):
    if why := why_not(command):
        _SKIPPED[command.block] = why
        pytest.skip(f"{command.id}: {why}")
    if command.block in _SKIPPED:
        pytest.skip(f"{command.id}: after a command not run here ({_SKIPPED[command.block]})")
    where = _workspace(command, fresh_demo, tmp_path_factory.getbasetemp())
    done = _bash(command.text, where)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"exit {done.returncode}:\n{output[-3000:]}"
    flat = re.sub(r"\s+", " ", output)
    for claim in command.claims:
        assert re.sub(r"\s+", " ", claim) in flat, f"{claim!r} not in:\n{output[-3000:]}"
