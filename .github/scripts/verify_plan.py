#!/usr/bin/env python3
"""Refuse to apply a plan file that is not the plan the reviewers saw.

The plan file comes from the pull request's run, made by the pull request's
own copy of the workflow: a pull request that edits the workflow could
upload a plan other than the one it posts. This runs in the apply job (the
deploy branch's copy of the workflow), after `terraform init`, and compares
`terraform show -no-color` of the downloaded file (SHOW_FILE) with the plan
comment CI wrote on the pull request (plan_comment.find: written by
github-actions[bot], never a copy by someone else): the text shown must be
the whole text of the comment and have the SHA-256 the comment states. A
comment cut because the plan was too long never verifies: a hidden tail
(say, a policy attachment after 65,000 characters) was never reviewed.
Anything else stops the job before any change is made.

Standard library only; the job's token needs `pull-requests: read`.
"""

from __future__ import annotations

import hashlib
import os
import sys

from plan_comment import find, parse

RECOVER = (
    "Nothing was applied. Re-run the pull request's plan (its run: `Re-run all jobs`), "
    "check the new comment, then re-run this apply; if the pull request's workflow was "
    "changed, review that change first (.github/ is owned by CODEOWNERS)."
)


def reviewed_comment(api: str, repo: str, pr: int, env_name: str, *, token: str) -> str:
    comment = find(api, repo, pr, env_name, token)
    if comment is None:
        raise SystemExit(
            f"verify_plan: pull request #{pr} has no `{env_name}` plan comment, so no "
            f"plan was reviewed. {RECOVER}"
        )
    return comment["body"]


def check(shown_now: str, comment_body: str, *, pr: int, env_name: str) -> None:
    try:
        reviewed, sha, truncated = parse(comment_body)
    except (ValueError, IndexError):
        raise SystemExit(
            f"verify_plan: the `{env_name}` plan comment on #{pr} is not in the form "
            f"plan_comment.py writes. {RECOVER}"
        ) from None
    if truncated:
        raise SystemExit(
            f"verify_plan: the `{env_name}` plan of #{pr} was too long for its comment and was "
            "shown cut: what was not shown was never reviewed, so it is not applied. Split the "
            'change into smaller pull requests (docs/ci.md, "When it stops").'
        )
    actual = hashlib.sha256(shown_now.encode()).hexdigest()
    if actual != sha or shown_now != reviewed:
        first = next(
            (
                i
                for i, (a, b) in enumerate(
                    zip(shown_now.splitlines(), reviewed.splitlines(), strict=False)
                )
                if a != b
            ),
            min(len(shown_now.splitlines()), len(reviewed.splitlines())),
        )
        raise SystemExit(
            f"verify_plan: the plan file to apply is not the plan reviewed on #{pr} "
            f"({env_name}): SHA-256 {actual} vs {sha} in the comment; the texts first "
            f"differ at line {first + 1}. {RECOVER}"
        )


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    with open(env["SHOW_FILE"], encoding="utf-8") as fh:
        shown_now = fh.read()
    pr = int(env["PR_NUMBER"])
    body = reviewed_comment(
        env.get("GITHUB_API_URL", "https://api.github.com"),
        env["GITHUB_REPOSITORY"],
        pr,
        env["TF_ENV"],
        token=env["GITHUB_TOKEN"],
    )
    check(shown_now, body, pr=pr, env_name=env["TF_ENV"])
    print(f"verify_plan: the plan file is the plan reviewed on #{pr} ({env['TF_ENV']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
