"""The README leads into docs/: every page linked, every relative link resolving.

Links are Markdown's `[text](target)`; a target may carry `#anchor`, which
must name a heading of that file as GitHub slugs it (lower case, spaces to
hyphens, punctuation dropped). Web links are not fetched (no network in the
tests).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imgpipe import REPO_ROOT

README = REPO_ROOT / "README.md"
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _text(path: Path) -> str:
    """The page without fenced code blocks (a link in code is not a link)."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)


def slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", _text(path), re.M)}


def links(path: Path) -> list[str]:
    return LINK.findall(_text(path))


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / t.split("#")[0]).resolve() for t in links(README)}
    assert DOCS, "docs/ is empty"
    unlinked = [p.relative_to(REPO_ROOT).as_posix() for p in DOCS if p.resolve() not in linked]
    assert unlinked == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.name}")
    assert broken == []


def test_the_first_screen_has_the_two_commands_and_the_deploy_lines():
    first = README.read_text(encoding="utf-8").splitlines()[:60]
    text = "\n".join(first)
    assert "make demo" in text and "make test" in text
    assert "terraform init -backend-config=" in text
    assert "-backend=false" in text  # what to do without a state bucket
    assert '"bucket": required field is not set' in text  # what fails, in its own words
    assert "report.html" in text
    assert "make tf-test" in text  # the offline route, not only the registry's
    assert "On a fresh clone `make test` takes about" in text  # how long, measured
