"""Targeted mutations: put a named bug into a copy of the repository, run the tests for it.

Each entry of `tests/mutations/*.toml` names one behaviour a user would hit
if it broke (a 12 MP photo on its side, GPS leaked into an AVIF, a 403
logged as "missing") as an exact text patch, and the tests that must fail
when it is applied. The general mutation tester (`make mutate`, mutmut)
measures every line; this list measures the behaviours we promised, and
stays the same from change to change so scores can be compared.

    [[mutation]]
    id = "exif-rotation-skipped-when-drafted"     # unique, kebab-case
    behaviour = "a 12 MP orientation-6 JPEG comes out on its side"
    file = "function_src/imgproc/pipeline.py"     # repository-relative
    find = "..."                                   # exact text, must occur exactly once
    replace = "..."
    tests = ["tests/test_orientation_real_size.py"]  # pytest arguments (node ids allowed)

A bug that needs more than one edit lists them instead of file/find/replace:

    patches = [{file = "...", find = "...", replace = "..."}, ...]

The repository (working tree, without .git, virtualenvs and outputs) is
copied once into a temporary directory; each patch is applied there, its
tests run with this interpreter's pytest, and the file restored. Every
distinct test selection is first run unpatched: a selection that fails on
the clean copy makes its entries an error, not a "kill". A `find` that no
longer occurs exactly once is an error too ("stale"), so the list follows
the code instead of silently testing nothing.

    python tests/mutations/run.py                 # every *.toml
    python tests/mutations/run.py python.toml     # one list
    python tests/mutations/run.py --only ID ...   # some entries

Exit status: 0 when the score (killed / applied) reaches --min-score
(default 0.9) and nothing errored, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# Not copied: VCS, environments, caches and outputs (large, irrelevant, or regenerated).
SKIP = {
    ".git",
    ".venv",
    ".venv-checkov",
    ".demo",
    "build",
    "dist",
    "mutants",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "__pycache__",
    ".terraform",
}


@dataclass
class Patch:
    file: str
    find: str
    replace: str


@dataclass
class Mutation:
    id: str
    behaviour: str
    patches: list[Patch]
    tests: list[str]
    source: str  # which list it came from
    status: str = "pending"  # killed | survived | stale | error
    detail: str = ""
    seconds: float = 0.0

    @property
    def files(self) -> str:
        return ", ".join(sorted({p.file for p in self.patches}))


def load(paths: list[Path]) -> list[Mutation]:
    out: list[Mutation] = []
    seen: set[str] = set()
    for path in paths:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for raw in data.get("mutation", []):
            where = f"{path.name}: entry {raw.get('id', '?')}"
            missing = {"id", "behaviour", "tests"} - raw.keys()
            if missing:
                msg = f"{where} lacks {sorted(missing)}"
                raise SystemExit(msg)
            if raw["id"] in seen:
                msg = f"{where}: duplicate id"
                raise SystemExit(msg)
            seen.add(raw["id"])
            single = {k: raw[k] for k in ("file", "find", "replace") if k in raw}
            raw_patches = raw.get("patches", [single] if single else [])
            try:
                patches = [Patch(p["file"], p["find"], p["replace"]) for p in raw_patches]
            except KeyError as exc:
                msg = f"{where}: a patch lacks {exc}"
                raise SystemExit(msg) from None
            if not patches or (single and "patches" in raw):
                msg = f"{where}: give file/find/replace or patches, not both or neither"
                raise SystemExit(msg)
            out.append(Mutation(raw["id"], raw["behaviour"], patches, raw["tests"], path.name))
    return out


def skipped(_dir: str, names: list[str]) -> set[str]:
    """`shutil.copytree`'s ignore: the SKIP names (mutmut_run.py copies with it too)."""
    return {n for n in names if n in SKIP}


def copy_repo(dest: Path) -> None:
    shutil.copytree(REPO, dest, ignore=skipped, symlinks=True, dirs_exist_ok=True)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def write_all(root: Path, texts: dict[str, str]) -> None:
    for rel, text in texts.items():
        (root / rel).write_text(text, encoding="utf-8")


def run_tests(root: Path, tests: list[str], timeout: float) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(
            cmd, cwd=root, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s"
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    return proc.returncode, " | ".join(tail)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lists", nargs="*", help="list files under tests/mutations (default: all)")
    ap.add_argument("--only", nargs="+", default=[], help="run only these ids")
    ap.add_argument("--min-score", type=float, default=0.9)
    ap.add_argument("--timeout", type=float, default=600, help="seconds per test run")
    ap.add_argument("--list", action="store_true", help="print the entries and exit")
    args = ap.parse_args(argv)

    paths = [HERE / name for name in args.lists] or sorted(HERE.glob("*.toml"))
    mutations = load(paths)
    if args.only:
        unknown = set(args.only) - {m.id for m in mutations}
        if unknown:
            print(f"unknown ids: {sorted(unknown)}", file=sys.stderr)
            return 1
        mutations = [m for m in mutations if m.id in args.only]
    if args.list:
        for m in mutations:
            print(f"{m.id:45} {m.files}: {m.behaviour}")
        return 0

    with tempfile.TemporaryDirectory(prefix="imgpipe-mutations-") as tmp:
        root = Path(tmp) / "repo"
        copy_repo(root)
        baseline: dict[tuple[str, ...], tuple[int, str]] = {}
        for m in mutations:
            originals = {p.file: read(root / p.file) for p in m.patches}
            mutated = dict(originals)
            for p in m.patches:
                n = mutated[p.file].count(p.find)
                if n != 1:
                    m.status, m.detail = "stale", f"`find` occurs {n} times in {p.file}"
                    break
                mutated[p.file] = mutated[p.file].replace(p.find, p.replace)
            if m.status == "stale":
                print(f"STALE    {m.id}: {m.detail}", flush=True)
                continue
            key = tuple(m.tests)
            if key not in baseline:
                baseline[key] = run_tests(root, m.tests, args.timeout)
            code, tail = baseline[key]
            if code != 0:
                m.status, m.detail = "error", f"tests fail without the mutation: {tail}"
                print(f"ERROR    {m.id}: {m.detail}", flush=True)
                continue
            started = time.perf_counter()
            write_all(root, mutated)
            try:
                code, tail = run_tests(root, m.tests, args.timeout)
            finally:
                write_all(root, originals)
            m.seconds = time.perf_counter() - started
            if code == 1:
                m.status, m.detail = "killed", tail
            elif code == 0:
                m.status, m.detail = "survived", tail
            else:  # 2-5: interrupted, internal error, usage error, nothing collected; -1 timeout
                m.status, m.detail = "error", f"pytest exit {code}: {tail}"
            print(f"{m.status.upper():8} {m.id} ({m.seconds:.1f} s)", flush=True)

    applied = [m for m in mutations if m.status in ("killed", "survived")]
    killed = [m for m in applied if m.status == "killed"]
    broken = [m for m in mutations if m.status in ("stale", "error")]
    print()
    for m in mutations:
        if m.status != "killed":
            print(f"{m.status}: {m.id} [{m.source}] {m.files}\n    {m.behaviour}\n    {m.detail}")
    score = len(killed) / len(applied) if applied else 0.0
    print(
        f"\ntargeted mutation score: {len(killed)}/{len(applied)} killed ({score:.0%}); "
        f"{len(broken)} stale or erroring"
    )
    return 0 if score >= args.min_score and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
