#!/usr/bin/env python3
"""Refuse to apply through a GitHub environment that protects nothing.

GitHub creates an environment the first time a job names it, unprotected
(GitHub docs, "Managing environments for deployment": "Running a workflow
that references an environment that does not exist will create an
environment with the referenced name", and "the newly created environment
will not have any protection rules or secrets configured"), so a repository
where nobody set up `prod` would apply every merge unreviewed. Before any credentials are fetched,
this reads the environment (`GET /repos/{repo}/environments/{name}`, the
token needs `actions: read`) and requires a `required_reviewers` rule with
at least one reviewer and a deployment branch policy. It also refuses while
.github/CODEOWNERS still has its placeholder owner or does not cover
.github/: without a code owner's review, a pull request could change the
workflow that plans and the plan file that is applied.

Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.parse

from github_api import ApiError, call

HOW = (
    "Set it up once (docs/ci.md, steps 6 and 7): Settings -> Environments -> {env} -> "
    "`Required reviewers` (at least one person or team, and `Prevent self-review`), and "
    "`Deployment branches and tags` -> `Selected branches` -> {branch}; put the same "
    "reviewers in .github/CODEOWNERS in place of @OWNER. Then re-run this job."
)


def problems(environment: dict) -> list[str]:
    rules = environment.get("protection_rules") or []
    found = []
    reviewers = [r for r in rules if r.get("type") == "required_reviewers"]
    if not reviewers or not any(r.get("reviewers") for r in reviewers):
        found.append("no required reviewers")
    if not environment.get("deployment_branch_policy"):
        found.append("every branch may deploy to it (no deployment branch policy)")
    return found


def codeowners_problems(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            rules = [
                line.split() for line in fh if line.strip() and not line.lstrip().startswith("#")
            ]
    except FileNotFoundError:
        return [f"{path} is missing"]
    found = []
    if any("@OWNER" in rule[1:] for rule in rules):
        found.append(f"{path} still names the placeholder @OWNER")
    # GitHub docs, "About code owners", the example file: "Order is important;
    # the last matching pattern takes the most precedence", and a pattern
    # given no owners (its `/apps/github` line) leaves what it matches with
    # none. So the last rule for the whole of /.github/ decides, and a later
    # rule without owners inside it takes them off that part.
    whole = [i for i, rule in enumerate(rules) if rule[0] in ("/.github/", "/.github/**", "*")]
    if not whole or len(rules[whole[-1]]) < 2:
        found.append(f"{path} gives /.github/ no owner")
    else:
        unowned = [
            rule[0]
            for rule in rules[whole[-1] + 1 :]
            if len(rule) == 1 and rule[0].lstrip("/").startswith(".github/")
        ]
        if unowned:
            found.append(f"{path} leaves {', '.join(unowned)} without an owner")
    return found


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    name, branch = env["TF_ENV"], env.get("GITHUB_REF_NAME", "main")
    api = env.get("GITHUB_API_URL", "https://api.github.com")
    url = f"{api}/repos/{env['GITHUB_REPOSITORY']}/environments/{urllib.parse.quote(name)}"
    how = HOW.format(env=name, branch=branch)
    try:
        environment = call("GET", url, env["GITHUB_TOKEN"])
    except ApiError as exc:
        raise SystemExit(
            f"environment_guard: cannot read the GitHub environment `{name}` "
            f"(HTTP {exc.status}). " + how
        ) from None
    found = problems(environment) + codeowners_problems(
        env.get("CODEOWNERS_FILE", ".github/CODEOWNERS")
    )
    if found:
        raise SystemExit(
            f"environment_guard: refusing to apply through the GitHub environment `{name}`: "
            + "; ".join(found)
            + ". "
            + how
        )
    print(f"environment_guard: `{name}` requires a review and restricts its branches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
