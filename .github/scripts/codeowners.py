"""Who owns a path according to .github/CODEOWNERS, and what the apply job executes.

The apply job runs Terraform on the root module and modules/, the package
built from function_src/ by build.py with requirements/, the scripts and
workflow under .github/; the smoke job runs imgpipe/. A pull request that
changes any of them changes what reaches the cloud, so each must have a code
owner: with the branch rule "Require review from Code Owners" (docs/ci.md,
step 7) GitHub then asks that owner to approve it. EXECUTED lists them; the
environment guard refuses to apply while one is unowned.

CODEOWNERS uses "the same rules used in the .gitignore file, with some
exceptions", and "the last matching pattern takes the most precedence"; a
pattern without owners makes the path unowned (GitHub docs, "About code
owners", "CODEOWNERS syntax"). `owners_of` implements that subset: `/`
anchors at the root (as does a slash inside the pattern), a trailing `/`
means everything below, `*` and `?` match within one path segment, `**/`
as a whole segment any directories or none (`**/logs`, `a/**/b`), a
trailing `/**` everything below. One exception to gitignore,
from GitHub's own example file: "The `docs/*` pattern will match files
like `docs/getting-started.md` but not further nested files like
`docs/build-app/troubleshooting.md`": a pattern ending in `/*` owns one
level only, so `/.github/* @alice` leaves the workflow without an owner.
Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path

# Everything the plan, apply and smoke jobs execute or deploy, relative to
# the repository root. A directory ends with "/".
EXECUTED = (
    ".github/",
    "imgpipe/",
    "function_src/",
    "requirements/",
    "modules/",
    "build.py",
    "pyproject.toml",
    "Makefile",
    ".terraform.lock.hcl",
    "examples/ci-oidc/",
    "examples/bootstrap-state/",
)
ROOT_GLOBS = ("*.tf",)  # the root module: main.tf, variables.tf, versions.tf, ...


def parse(text: str) -> list[tuple[str, list[str]]]:
    """(pattern, owners) per rule line, in file order."""
    rules = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def _regex(pattern: str) -> re.Pattern[str]:
    anchored = "/" in pattern.rstrip("/")  # a slash at the start or in the middle
    body = pattern.strip("/")
    out = ""
    i = 0
    while i < len(body):
        if body.startswith("**/", i) and (i == 0 or body[i - 1] == "/"):
            out += "(?:.*/)?"  # `**/` as a whole segment: any directories, or none
            i += 3
        elif body[i] == "*":  # `a**b` is two of these (gitignore); a trailing `/**`
            # is everything below, which `below` adds anyway
            out += "[^/]*"
            i += 1
        elif body[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(body[i])
            i += 1
    if pattern.endswith("/"):
        below = "/.*"
    elif body.endswith("/*"):  # `docs/*`: the entries of docs/, not deeper (GitHub's example)
        below = ""
    else:
        below = "(?:/.*)?"
    return re.compile(("" if anchored else "(?:.*/)?") + out + below)


def owners_of(path: str, rules: list[tuple[str, list[str]]]) -> list[str]:
    """The owners of `path` (repository-relative, no leading slash): the last matching rule's."""
    found: list[str] = []
    for pattern, owners in rules:
        if _regex(pattern).fullmatch(path):
            found = owners
    return found


def executed_paths(root: Path) -> list[str]:
    """Every file (and each EXECUTED entry itself) that the CI jobs run or deploy."""
    paths: set[str] = set()
    for entry in EXECUTED:
        target = root / entry
        paths.add(entry.rstrip("/") + ("/x" if entry.endswith("/") else ""))
        if target.is_dir():
            paths.update(
                p.relative_to(root).as_posix()
                for p in target.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and ".terraform" not in p.parts
            )
    for pattern in ROOT_GLOBS:
        paths.update(p.name for p in root.glob(pattern))
    return sorted(paths)


def unowned(root: Path, text: str) -> list[str]:
    """The executed paths no CODEOWNERS rule gives an owner."""
    rules = parse(text)
    return [path for path in executed_paths(root) if not owners_of(path, rules)]


def individual_owners(path: str, text: str) -> list[str]:
    """The users (not teams, not e-mail addresses) who own `path`, without the @."""
    return [o[1:] for o in owners_of(path, parse(text)) if o.startswith("@") and "/" not in o]
