#!/usr/bin/env python3
"""Apply a merge only if a code owner other than its authors approved what is applied.

The gate of private repositories on GitHub Pro or Team, which have no
required reviewers on environments (docs/ci.md, "Which gate protects an
apply"). environment_guard.py printed `gate=pull-request-approval` after
checking the branch ruleset; this runs next, before any credentials, on
the pull request reviewed_plan.py found for the pushed merge commit, and
requires one review that:

- is APPROVED and is its author's latest approving or rejecting review
  (a later "changes requested" or a dismissal withdraws it);
- was given on the pull request's last commit (`commit_id` = head SHA): the
  commit whose plan the apply job is about to verify and apply;
- was submitted after the plan comment was last written, so the approver
  could have read the plan that is applied (strictly after: GitHub's times
  are whole seconds, and an approval in the same second as the comment's
  last update may have come before it);
- comes from a person CODEOWNERS names as owner of the workflow (teams
  cannot be checked with the job's token), who is neither the pull
  request's author nor the author or committer of one of its commits.
  CODEOWNERS is read as it was on the pull request's base commit, as GitHub
  reads it for the review it requires ("For code owners to receive review
  requests, the CODEOWNERS file must be on the base branch of the pull
  request": GitHub docs, "About code owners"): a pull request that names a
  new owner does not make that owner's approval of itself count.

GitHub REST: "List reviews for a pull request" (state, commit_id,
submitted_at), "List commits on a pull request", "Get a pull request";
`pull-requests: read`. With the gate `environment-reviewers` it does
nothing: the environment's required reviewers approve the job itself.
Standard library only.
"""

from __future__ import annotations

import base64
import os
import sys
import urllib.parse

import codeowners
import plan_comment
from environment_guard import APPROVAL, WORKFLOW
from github_api import call

RECOVER = (
    "Nothing was applied. Have a code owner who did not write the change approve the pull "
    "request's last commit after its plan comment (a new pull request if it is merged already: "
    'docs/ci.md, "Queued applies and stale plans"), then re-run this job.'
)


def pages(url: str, token: str) -> list[dict]:
    out: list[dict] = []
    page = 1
    while True:
        got = call("GET", f"{url}?per_page=100&page={page}", token)
        out += got
        if len(got) < 100:
            return out
        page += 1


def approver(
    pull: dict,
    reviews: list[dict],
    commits: list[dict],
    *,
    approvers: list[str],
    plan_written_at: str,
) -> tuple[str | None, list[str]]:
    """(the login whose approval counts, or None; why each other approval did not count)."""
    head = pull["head"]["sha"]
    writers = {(pull.get("user") or {}).get("login")}
    for commit in commits:
        for role in ("author", "committer"):
            writers.add((commit.get(role) or {}).get("login"))
    latest: dict[str, dict] = {}
    for review in reviews:  # oldest first
        if review.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[(review.get("user") or {}).get("login")] = review
    why = []
    allowed = {a.lower() for a in approvers}
    for login, review in latest.items():
        if review["state"] != "APPROVED":
            continue
        if (login or "").lower() not in allowed:
            why.append(f"{login} is not a code owner of {WORKFLOW}")
        elif login in writers:
            why.append(f"{login} wrote part of the change")
        elif review.get("commit_id") != head:
            why.append(f"{login} approved {str(review.get('commit_id'))[:12]}, not the last commit")
        elif (review.get("submitted_at") or "") <= plan_written_at:
            why.append(f"{login} approved before the plan comment was last written")
        else:
            return login, why
    return None, why


def codeowners_at(api: str, repo: str, ref: str, token: str) -> str:
    """.github/CODEOWNERS as it is at commit `ref` ("Get repository content", `contents: read`)."""
    path = urllib.parse.quote(".github/CODEOWNERS")
    got = call("GET", f"{api}/repos/{repo}/contents/{path}?ref={ref}", token)
    return base64.b64decode(got.get("content") or "").decode("utf-8", errors="replace")


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    if env.get("GATE") != APPROVAL:
        print(f"approval_gate: gate is {env.get('GATE')}: the environment's reviewers approve")
        return 0
    api = env.get("GITHUB_API_URL", "https://api.github.com")
    repo, token, number = env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"], int(env["PR_NUMBER"])
    pull = call("GET", f"{api}/repos/{repo}/pulls/{number}", token)
    text = codeowners_at(api, repo, pull["base"]["sha"], token)
    comment = plan_comment.find(api, repo, number, env["TF_ENV"], token)
    if comment is None:
        raise SystemExit(
            f"approval_gate: #{number} has no `{env['TF_ENV']}` plan comment. {RECOVER}"
        )
    login, why = approver(
        pull,
        pages(f"{api}/repos/{repo}/pulls/{number}/reviews", token),
        pages(f"{api}/repos/{repo}/pulls/{number}/commits", token),
        approvers=codeowners.individual_owners(WORKFLOW, text),
        plan_written_at=comment["updated_at"],  # always set: created_at until an edit
    )
    if login is None:
        raise SystemExit(
            f"approval_gate: pull request #{number} has no approval that gates an apply "
            f"({'; '.join(why) or 'no approving review'}). {RECOVER}"
        )
    print(f"approval_gate: #{number} approved by {login} on its last commit, after its plan")
    return 0


if __name__ == "__main__":
    sys.exit(main())
