"""The README keeps up with the code: variables, outputs, commands, environment."""

from __future__ import annotations

import re

import hcl2
import pytest

from fc_handler.settings import VARIABLES
from imgpipe import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
# the function's page, where the README's "Function environment" moved
FUNCTION_DOC = (REPO_ROOT / "docs" / "function.md").read_text()


def _section(title: str, text: str = README, level: int = 3) -> str:
    """From a `### title` heading (`level` #s) to the next heading as high or higher."""
    start = text.index(f"{'#' * level} {title}\n")
    rest = text[start + level + 1 :]
    following = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return text[start : start + level + 1 + following.start()] if following else text[start:]


def _table_names(section: str) -> list[str]:
    return re.findall(r"^\| `([a-z0-9_]+)` \|", section, re.M)


def _hcl_names(path: str, kind: str) -> list[str]:
    with (REPO_ROOT / path).open() as fh:
        doc = hcl2.load(fh)
    return [name.strip('"') for block in doc.get(kind, []) for name in block]


def test_variables_table_matches_variables_tf():
    assert _table_names(_section("Variables")) == _hcl_names("variables.tf", "variable")


def test_outputs_table_matches_outputs_tf():
    assert _table_names(_section("Outputs")) == _hcl_names("outputs.tf", "output")


def test_function_environment_table_matches_the_handler():
    section = _section("Function environment", FUNCTION_DOC, level=2)
    documented = re.findall(r"^\| `([A-Z_]+)` \|", section, re.M)
    assert documented == list(VARIABLES)


def test_the_two_commands_and_make_help():
    assert "make demo" in README and "make test" in README
    makefile = (REPO_ROOT / "Makefile").read_text()
    for target in ("demo", "test", "setup", "package", "bench", "help", "tf-check"):
        assert re.search(rf"^{target}:.*## ", makefile, re.M), target
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_the_outcome_table_is_the_handlers_one_description():
    """docs/function.md's outcome table is `fc_handler.outcomes`, row for row
    (the handler logs these names; `imgpipe process` and the processor's
    table use the same words): one description of each outcome."""
    from fc_handler.outcomes import table_rows

    section = _section("Outcomes", FUNCTION_DOC, level=2)
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == table_rows()


def test_the_rejection_reasons_table_is_the_processors():
    from imgproc.errors import MEANINGS

    processor = (REPO_ROOT / "docs" / "processor.md").read_text()
    found = dict(re.findall(r"^\| `([a-z-]+)` \| ([^|]+) \|", processor, re.M))
    assert {k: found[k].strip() for k in MEANINGS} == MEANINGS
    operating = (REPO_ROOT / "docs" / "operating.md").read_text()
    assert "empty): a JSON record per object" in operating  # rejected, as the handler does


def test_what_the_deploy_lines_write_is_ignored_by_git():
    import subprocess

    paths = ["backend.hcl", "prod.tfplan", "outputs.json", "out/x.jpg.webp"]
    done = subprocess.run(
        ["git", "check-ignore", *paths], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode == 128:
        pytest.skip("not a git checkout (an unpacked archive): nothing to ignore")
    assert done.stdout.split() == paths


def test_make_help_lines_up_its_columns():
    import subprocess

    shown = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(shown) > 15
    starts = {re.match(r"  make \S+\s+", line).end() for line in shown}
    assert len(starts) == 1, shown  # every description starts in the same column
