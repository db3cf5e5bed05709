#!/usr/bin/env python3
"""Post the plan on the pull request as one comment, updated on every push.

The comment is found again by a hidden marker naming the environment, so a
pull request carries one plan per environment, not one per push. It also
carries the SHA-256 of the whole plan text: verify_plan.py, in the apply
job, checks `terraform show` of the plan file it is about to apply against
this comment (the text reviewers saw), since the plan file was made by the
pull request's own copy of the workflow. Reads the
plan text from a file and writes through the GitHub REST API with the job's
token (`pull-requests: write`); nothing from the pull request's title or
body is ever interpolated into a command.

Only comments written with a workflow's token count: their author is
`github-actions[bot]` (BOT), a name no person can take, since user names
cannot contain brackets. Anyone who can comment can copy the marker; such
a comment is neither updated nor ever verified.

A plan longer than a comment (GitHub: 65,536 characters) is posted cut,
saying so, and a cut comment never verifies (verify_plan.py): nobody could
have reviewed the part that was not shown.

Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import sys

from github_api import call

MAX_BODY = 65_000  # GitHub's comment limit is 65,536 characters


def marker(env_name: str) -> str:
    return f"<!-- imgpipe-terraform-plan:{env_name} -->"


FENCE_OPEN = "<details><summary>Full plan</summary>\n\n```\n"
FENCE_CLOSE = "\n```\n</details>"
TRUNCATED = (
    "\n... (truncated: this plan is longer than a comment can hold, so CI will not apply it; "
    "split the change into smaller pull requests)"
)
BOT = "github-actions[bot]"  # the author of comments written with GITHUB_TOKEN


def digest(plan_text: str) -> str:
    return hashlib.sha256(plan_text.encode()).hexdigest()


def render(env_name: str, plan_text: str, summary: str, run_url: str) -> str:
    head = (
        f"{marker(env_name)}\n### Terraform plan: `{env_name}`\n\n{summary}\n\n"
        f"Plan text SHA-256: `{digest(plan_text)}`\n\n"
    )
    tail = f"\n\n[Workflow run]({run_url}) · the plan file is kept as an artifact of that run."
    room = MAX_BODY - len(head) - len(tail) - len(FENCE_OPEN) - len(FENCE_CLOSE)
    if len(plan_text) > room:
        plan_text = plan_text[: room - len(TRUNCATED)] + TRUNCATED
    return head + FENCE_OPEN + plan_text + FENCE_CLOSE + tail


def parse(body: str) -> tuple[str, str, bool]:
    """(shown plan text, SHA-256 of the whole text, truncated?) of a rendered comment."""
    start = body.index(FENCE_OPEN) + len(FENCE_OPEN)
    shown = body[start : body.rindex(FENCE_CLOSE)]
    sha = body.split("Plan text SHA-256: `", 1)[1].split("`", 1)[0]
    truncated = shown.endswith(TRUNCATED)
    return (shown[: -len(TRUNCATED)] if truncated else shown), sha, truncated


def summarize(plan_text: str) -> str:
    for line in plan_text.splitlines():
        if line.startswith(("Plan:", "No changes.")):
            return f"**{line.strip()}**"
    return "**Plan produced (no summary line found).**"


def upsert(api: str, repo: str, pr: int, token: str, *, body: str, env_name: str) -> str:
    """Update this environment's plan comment, or create it. Returns the action taken."""
    comment = find(api, repo, pr, env_name, token)
    if comment is not None:
        call("PATCH", f"{api}/repos/{repo}/issues/comments/{comment['id']}", token, {"body": body})
        return "updated"
    call("POST", f"{api}/repos/{repo}/issues/{pr}/comments", token, {"body": body})
    return "created"


def written_by_ci(comment: dict) -> bool:
    user = comment.get("user") or {}
    return user.get("login") == BOT and user.get("type") == "Bot"


def find(api: str, repo: str, pr: int, env_name: str, token: str) -> dict | None:
    """This environment's plan comment on the pull request (every page read), or None.

    Only CI's own comments count (written_by_ci); if CI wrote more than one
    for the environment, the first (the one upsert keeps updating) is taken.
    """
    page = 1
    while True:
        comments = call(
            "GET", f"{api}/repos/{repo}/issues/{pr}/comments?per_page=100&page={page}", token
        )
        for comment in comments:
            if written_by_ci(comment) and marker(env_name) in (comment.get("body") or ""):
                return comment
        if len(comments) < 100:
            return None
        page += 1


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    with open(env["PLAN_TEXT_FILE"], encoding="utf-8") as fh:
        plan_text = fh.read()
    body = render(env["TF_ENV"], plan_text, summarize(plan_text), env["RUN_URL"])
    action = upsert(
        env.get("GITHUB_API_URL", "https://api.github.com"),
        env["GITHUB_REPOSITORY"],
        int(env["PR_NUMBER"]),
        env["GITHUB_TOKEN"],
        body=body,
        env_name=env["TF_ENV"],
    )
    print(f"plan comment {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
