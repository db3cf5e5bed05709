"""`make mutate`: mutmut over function_src/, build.py, the local tools (imgpipe/) and the
CI scripts (.github/scripts/), one module at a time.

mutmut names a mutant after its file's path (`function_src/fc_handler/x.py`
-> `function_src.fc_handler.x`) but our tests import `fc_handler.x` (pytest's
`pythonpath = ["function_src", "."]`, as FC imports the zip's root), and
mutmut only knows the `./` and `src/` layouts. So each module runs in a
staging copy, `$TMPDIR/imgpipe-mutmut-<id>/<module>/`, where the function's packages sit
at the top level beside `build.py`; pytest's pythonpath there is `.` only,
and the staged conftest takes `function_src/` back off `sys.path` after
`import imgpipe` has put it there, so every import reaches the mutated copy.
The repository itself is never touched.

The local tools (`imgpipe.jobs.backfill`, ...) are mutated where they are,
`imgpipe/` being a top-level package already. The CI scripts are imported
by their tests as top-level modules (`import verify_plan`, with
`.github/scripts` put on `sys.path`), so for a module marked `script` in
mutmut.toml every script is staged at the top level and taken out of the
staged `.github/scripts/`, and the tests' imports reach the mutated copy.
A module may name `mutants` patterns (`imgproc.ops.x_fit_size__mutmut_*`):
only those mutants run and count, for some functions of a large module.

Per module, only the test files listed in tests/mutations/mutmut.toml run;
mutmut then runs, per mutant, only the tests that reached the mutated
function. Score = (killed + timeout) / (all mutants checked); mutants no
listed test reaches ("no tests") count as survivors.

    python tests/mutations/mutmut_run.py                       # every module
    python tests/mutations/mutmut_run.py fc_handler.storage_oss build
    python tests/mutations/mutmut_run.py MODULE --resume       # keep earlier results
    python tests/mutations/mutmut_run.py MODULE --diffs 50     # print 50 survivor diffs
    python tests/mutations/mutmut_run.py MODULE --mutants NAME...  # recheck some, staged apart
    python tests/mutations/mutmut_run.py --group tools         # imgpipe/ and .github/scripts/

A mutant that hangs (a retry loop that never ends, a wait never woken) is
stopped after (its tests' clean time + 1 s) x `timeout_multiplier` of wall
clock and counts as caught. mutmut's 15 makes each such mutant of the
backfill's tests cost about 6 minutes; the tools' modules set 4 in
mutmut.toml's `[prefixes."imgpipe."]` (a surviving mutant runs the same
tests in the same time, so 4x leaves room for a busy machine), and
`--timeout-multiplier` overrides.
They also set `process_isolation = "forkserver"`: mutmut's default forks
each mutant from the process that ran the whole suite once, threads and
their held locks included, and the tools' tests (thread pools, stand-in
servers) then hang a mutant that any clean process kills in seconds.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

# The targeted runner's copy rule (what is left out), so both copy alike;
# this script runs as `python tests/mutations/mutmut_run.py`, so run.py is importable.
from run import REPO, copy_repo, skipped

HERE = Path(__file__).resolve().parent
# Outside the checkout: the staged copy holds *.tf and tests that the
# repository's own checks (checkov, the stray-Terraform test) would pick up.
_CHECKOUT_ID = hashlib.sha256(bytes(REPO)).hexdigest()[:8]
STAGES = Path(tempfile.gettempdir()) / f"imgpipe-mutmut-{_CHECKOUT_ID}"
MUTMUT = Path(sys.executable).parent / "mutmut"
FUNCTION_TOP = ("fc_handler", "imgproc", "index.py")
CONFTEST_FIX = """
# --- added by tests/mutations/mutmut_run.py in the staging copy only ---
import sys as _sys

import imgpipe as _imgpipe

# imgpipe put function_src/ first on sys.path; the mutated copies are at the top.
_sys.path[:] = [p for p in _sys.path if Path(p).resolve() != _imgpipe.FUNCTION_SRC.resolve()]
"""


def module_path(module: str) -> str:
    """`fc_handler.storage_oss` -> `fc_handler/storage_oss.py` (staging-relative)."""
    return module.replace(".", "/") + ".py"


SCRIPTS = Path(".github") / "scripts"


def stage(
    name: str,
    tests: list[str],
    resume: bool,
    *,
    module: str | None = None,
    script: bool = False,
    timeout_multiplier: float | None = None,
    process_isolation: str | None = None,
) -> Path:
    """The staged copy for mutmut.toml's entry `name`, which mutates `module` (default: name)."""
    module = module or name
    root = STAGES / name
    if root.exists() and not resume:
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    for item in root.iterdir():  # refresh everything but mutmut's own results
        if item.name != "mutants":
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()

    copy_repo(root)
    for top in FUNCTION_TOP:
        src = REPO / "function_src" / top
        if src.is_dir():
            shutil.copytree(src, root / top, ignore=skipped)
        else:
            shutil.copy2(src, root / top)

    sources = [*FUNCTION_TOP, "build.py"]
    if module.startswith("imgpipe."):
        sources.append("imgpipe")
    if script:  # every CI script at the top level, none left where the tests look first
        for path in sorted((root / SCRIPTS).glob("*.py")):
            path.rename(root / path.name)
            sources.append(path.name)

    conftest = root / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text() + CONFTEST_FIX)

    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    text, n = re.subn(r"(?m)^pythonpath = \[.*\]$", 'pythonpath = ["."]', text)
    if n != 1:
        msg = (
            "pyproject.toml: expected one `pythonpath = [...]` line under [tool.pytest.ini_options]"
        )
        raise SystemExit(msg)
    also_copy = sorted(
        p.name
        for p in root.iterdir()
        if p.name not in {*sources, "tests", "pyproject.toml", "mutants"}
    )
    text += "\n[tool.mutmut]\n" + "\n".join(
        f"{key} = {json.dumps(value)}"
        for key, value in {
            "source_paths": sources,
            "only_mutate": [module_path(module)],
            "also_copy": also_copy,
            "pytest_add_cli_args_test_selection": tests,
            "pytest_add_cli_args": ["-p", "no:cacheprovider"],
            **({"timeout_multiplier": timeout_multiplier} if timeout_multiplier else {}),
            **({"process_isolation": process_isolation} if process_isolation else {}),
        }.items()
    )
    pyproject.write_text(text + "\n")
    return root


def mutmut(root: Path, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(MUTMUT), *args], cwd=root, capture_output=capture, text=True, check=False
    )


CAUGHT = ("killed", "timeout")
STATUSES = ("survived", "no tests", "suspicious", "not checked", "skipped")


def tally(lines: list[str], patterns: list[str]) -> tuple[dict[str, int], list[str]]:
    """Counts by status from `mutmut results --all true`, and the survivors' lines."""
    counts = dict.fromkeys((*CAUGHT, *STATUSES), 0)
    survivors = []
    for line in lines:
        name, _, status = line.strip().rpartition(": ")
        if not name or (patterns and not any(fnmatch.fnmatch(name, p) for p in patterns)):
            continue
        counts[status] = counts.get(status, 0) + 1
        if status not in CAUGHT:
            survivors.append(line.strip())
    return counts, survivors


def run_module(module: str, config: dict, args: argparse.Namespace) -> dict:
    tests, patterns = config["tests"], config.get("mutants", [])
    patterns = [patterns] if isinstance(patterns, str) else patterns
    label = module
    if args.mutants:  # a recheck beside the module's own run, which it leaves alone
        patterns, label = args.mutants, f"{module}.recheck"
    root = stage(
        label,
        tests,
        args.resume,
        module=config.get("module") or module,
        script=config.get("script", False),
        timeout_multiplier=args.timeout_multiplier or config.get("timeout_multiplier"),
        process_isolation=config.get("process_isolation"),
    )
    started = time.perf_counter()
    print(f"== {module}: mutmut run ({' '.join(tests)})", flush=True)
    log = root / "mutmut-run.log"
    with log.open("w") as fh:
        proc = subprocess.run(
            [str(MUTMUT), "run", "--max-children", str(args.max_children), *patterns],
            cwd=root,
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        print(f"   mutmut run failed (exit {proc.returncode}); {log}:\n{tail}")
        return {"module": module, "error": proc.returncode, "seconds": seconds}
    counts, survivors = tally(
        mutmut(root, "results", "--all", "true").stdout.splitlines(), patterns
    )
    caught = sum(counts[s] for s in CAUGHT)
    checked = sum(counts.values()) - counts["skipped"] - counts["not checked"]
    stats = {
        "module": module,
        "seconds": seconds,
        "caught": caught,
        "checked": checked,
        "survived": counts["survived"],
        "no_tests": counts["no tests"],
    }
    score = caught / checked if checked else 1.0
    print(f"   {module}: {caught}/{checked} caught ({score:.1%}) in {seconds:.0f} s")
    for line in survivors:
        print(f"     {line}")
    for line in survivors[: args.diffs]:
        name = line.split(":")[0]
        print(mutmut(root, "show", name).stdout.rstrip())
    return stats


def main(argv: list[str] | None = None) -> int:
    config = tomllib.loads((HERE / "mutmut.toml").read_text())
    modules: dict[str, dict] = config["modules"]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("modules", nargs="*", help=f"default: all of {', '.join(modules)}")
    ap.add_argument(
        "--group",
        choices=sorted({m.get("group", "function") for m in modules.values()}),
        help="every module of one group (mutmut.toml's `group`, default `function`)",
    )
    ap.add_argument("--resume", action="store_true", help="keep the results of an earlier run")
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--diffs", type=int, default=0, help="print this many survivor diffs")
    ap.add_argument(
        "--mutants",
        nargs="+",
        metavar="NAME",
        help="only these mutants (names or patterns, e.g. a run's survivors after new "
        "tests), staged apart as MODULE.recheck",
    )
    ap.add_argument(
        "--timeout-multiplier",
        type=float,
        help="a mutant's wall-clock limit is (its tests' clean time + 1 s) x this "
        "(mutmut's default 15; mutmut.toml may set one per module)",
    )
    args = ap.parse_args(argv)
    unknown = [m for m in args.modules if m not in modules]
    if unknown:
        print(f"unknown modules {unknown}; known: {', '.join(modules)}", file=sys.stderr)
        return 2
    chosen = args.modules or [
        m for m, c in modules.items() if args.group in (None, c.get("group", "function"))
    ]
    results = []
    for module in chosen:
        tests = [*config.get("defaults", {}).get("tests", []), *modules[module]["tests"]]
        settings = {
            key: value
            for prefix, by_prefix in config.get("prefixes", {}).items()
            if module.startswith(prefix)
            for key, value in by_prefix.items()
        }
        results.append(run_module(module, {**settings, **modules[module], "tests": tests}, args))
    ok = [r for r in results if "error" not in r]
    caught = sum(r["caught"] for r in ok)
    checked = sum(r["checked"] for r in ok)
    print("\nmodule                     caught/checked   score   survived  no-tests  seconds")
    for r in results:
        if "error" in r:
            print(f"{r['module']:26} mutmut failed (exit {r['error']})")
            continue
        score = r["caught"] / r["checked"] if r["checked"] else 1.0
        print(
            f"{r['module']:26} {r['caught']:>6}/{r['checked']:<7} {score:7.1%} "
            f"{r['survived']:>9} {r['no_tests']:>9} {r['seconds']:>8.0f}"
        )
    total = caught / checked if checked else 0.0
    print(f"\nmutmut score: {caught}/{checked} mutants caught ({total:.1%})")
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
