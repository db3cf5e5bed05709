#!/usr/bin/env python3
"""Refuse to apply through a GitHub environment that protects nothing, and say which gate holds.

GitHub creates an environment the first time a job names it, unprotected
(GitHub docs, "Managing environments for deployment": "Running a workflow
that references an environment that does not exist will create an
environment with the referenced name", and "the newly created environment
will not have any protection rules or secrets configured"). Before any
credentials are fetched, this reads the environment
(`GET /repos/{repo}/environments/{name}`, `actions: read`) and decides which
of two gates stands between a merge and the apply role (docs/ci.md, "Which
gate protects an apply"):

- `environment-reviewers` (public repositories, or GitHub Enterprise): the
  environment has required reviewers. They must be set, self-review must be
  prevented (`prevent_self_review`: "Whether deployments to this environment
  can be approved by the user who created the deployment") and
  administrators must not be able to bypass the rules (`can_admins_bypass`).
- `pull-request-approval` (private repositories on GitHub Pro or Team, where
  "other deployment protection rules, such as a wait timer or required
  reviewers, are only available for public repositories"): a branch ruleset
  must require a pull request approved by a code owner, approvals must be
  dismissed by a new push and the last push approved by someone else
  (`GET /repos/{repo}/rules/branches/{branch}`); approval_gate.py then
  checks the approval of this very merge.

Both need a deployment branch policy naming only the deploy branch, so the
environment's OIDC subject (and with it the apply role) is reachable from
that branch alone (the smoke job's `<env>-smoke` too), and a CODEOWNERS
file that gives everything the CI jobs execute an owner
(codeowners.EXECUTED) and no longer has its placeholder.
Prints `gate=<name>` for `$GITHUB_OUTPUT`. Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from pathlib import Path

import codeowners
from github_api import ApiError, call

REVIEWERS, APPROVAL = "environment-reviewers", "pull-request-approval"
HOW = (
    'Set it up once (docs/ci.md, steps 6 and 7, and "Which gate protects an apply"): '
    "Settings -> Environments -> {env} -> `Deployment branches and tags` -> `Selected "
    "branches` -> {branch} only; on a public or Enterprise repository `Required reviewers` "
    "with `Prevent self-review` and without `Allow administrators to bypass`; on a private "
    "repository on Pro or Team a branch ruleset for {branch} as step 7 says; real owners in "
    ".github/CODEOWNERS. Then re-run this job."
)
WORKFLOW = ".github/workflows/terraform.yml"


def branch_policy_problems(
    environment: dict, policies: list[dict] | None, branch: str
) -> list[str]:
    policy = environment.get("deployment_branch_policy")
    if not policy:
        return ["every branch may deploy to it (no deployment branch policy)"]
    if policy.get("protected_branches"):
        return ["any protected branch may deploy to it: choose `Selected branches` instead"]
    names = sorted((p.get("name"), p.get("type", "branch")) for p in policies or [])
    if names != [(branch, "branch")]:
        listed = ", ".join(f"{t} {n}" for n, t in names) or "none"
        return [f"its deployment branches must be exactly the branch {branch} (they are: {listed})"]
    return []


def reviewer_problems(environment: dict) -> list[str]:
    rules = [
        r
        for r in environment.get("protection_rules") or []
        if r.get("type") == "required_reviewers"
    ]
    found = []
    if not any(r.get("reviewers") for r in rules):
        found.append("no required reviewers")
    elif not all(r.get("prevent_self_review") for r in rules):
        found.append("whoever merges may approve their own deployment (tick `Prevent self-review`)")
    if environment.get("can_admins_bypass", True):
        found.append(
            "administrators can bypass its protection rules (untick `Allow administrators to "
            "bypass configured protection rules`)"
        )
    return found


def ruleset_problems(rules: list[dict], branch: str) -> list[str]:
    """The pull request rule a branch needs when no environment reviewer gates the apply."""
    wanted = {
        "required_approving_review_count": ("at least one approval", lambda v: (v or 0) >= 1),
        "require_code_owner_review": ("review from code owners", bool),
        "dismiss_stale_reviews_on_push": ("dismiss stale approvals on push", bool),
        "require_last_push_approval": ("approval of the most recent push", bool),
    }
    pull_rules = [r.get("parameters") or {} for r in rules if r.get("type") == "pull_request"]
    if not pull_rules:
        return [f"no branch ruleset requires a pull request before merging into {branch}"]
    missing = [
        label
        for key, (label, ok) in wanted.items()
        if not any(ok(params.get(key)) for params in pull_rules)
    ]
    if missing:
        return [f"the ruleset of {branch} does not require: " + ", ".join(missing)]
    return []


def codeowners_problems(root: Path, path: Path, *, gate: str) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [f"{path} is missing"]
    found = []
    rules = codeowners.parse(text)
    if any("@OWNER" in owners for _, owners in rules):
        found.append(f"{path} still names the placeholder @OWNER")
    unowned = codeowners.unowned(root, text)
    if unowned:
        shown = ", ".join(unowned[:5]) + (
            f" and {len(unowned) - 5} more" if len(unowned) > 5 else ""
        )
        found.append(f"{path} gives no owner to what CI executes: {shown}")
    if gate == APPROVAL and not codeowners.individual_owners(WORKFLOW, text):
        found.append(
            f"{path} names no person (only teams) as owner of {WORKFLOW}: the approval of a "
            "merge is checked against people, since the job's token cannot read team membership"
        )
    return found


def read_environment(api: str, repo: str, name: str, token: str):
    """(the environment, its custom deployment branch policies or None); ApiError if unreadable."""
    base = f"{api}/repos/{repo}/environments/{urllib.parse.quote(name)}"
    environment = call("GET", base, token)
    policies = None
    if (environment.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
        policies = call("GET", f"{base}/deployment-branch-policies?per_page=100", token)[
            "branch_policies"
        ]
    return environment, policies


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    name, branch = env["TF_ENV"], env.get("GITHUB_REF_NAME", "main")
    api = env.get("GITHUB_API_URL", "https://api.github.com")
    repo, token = env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"]
    how = HOW.format(env=name, branch=branch)
    try:
        environment, policies = read_environment(api, repo, name, token)
    except ApiError as exc:
        raise SystemExit(
            f"environment_guard: cannot read the GitHub environment `{name}` "
            f"(HTTP {exc.status}). " + how
        ) from None
    has_reviewers = any(
        r.get("type") == "required_reviewers" for r in environment.get("protection_rules") or []
    )
    gate = REVIEWERS if has_reviewers else APPROVAL
    found = branch_policy_problems(environment, policies, branch)
    # The smoke job's environment: its role writes test objects into the
    # stack's buckets and deletes dead-letter messages, so it too must be
    # reachable from the deploy branch alone.
    try:
        smoke, smoke_policies = read_environment(api, repo, f"{name}-smoke", token)
        found += [
            f"`{name}-smoke`: {problem}"
            for problem in branch_policy_problems(smoke, smoke_policies, branch)
        ]
    except ApiError as exc:
        found.append(f"cannot read the GitHub environment `{name}-smoke` (HTTP {exc.status})")
    if gate == REVIEWERS:
        found += reviewer_problems(environment)
    else:
        rules = call(
            "GET", f"{api}/repos/{repo}/rules/branches/{urllib.parse.quote(branch)}", token
        )
        found += ruleset_problems(rules, branch)
    root = Path(env.get("REPO_ROOT", "."))
    found += codeowners_problems(
        root, Path(env.get("CODEOWNERS_FILE", root / ".github" / "CODEOWNERS")), gate=gate
    )
    if found:
        raise SystemExit(
            f"environment_guard: refusing to apply through the GitHub environment `{name}` "
            f"(gate: {gate}): " + "; ".join(found) + ". " + how
        )
    out = env.get("GITHUB_OUTPUT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(f"gate={gate}\n")
    print(f"environment_guard: `{name}` is gated by {gate}; only {branch} may deploy to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
