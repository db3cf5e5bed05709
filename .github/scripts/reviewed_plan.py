#!/usr/bin/env python3
"""Find the plan that was reviewed for the commit being applied.

On a push to a deploy branch, the commit came from a merged pull request.
This finds that pull request, the successful plan run for its last commit,
and the plan artifact of that run for this environment, and prints
`run_id=...`, `artifact=...` and `pr=...` for `$GITHUB_OUTPUT`. The apply
job then checks that plan against the comment the reviewers saw
(verify_plan.py) and applies exactly that file; Terraform refuses it if the
state has moved since (a stale plan).

Which pull request: `GET /repos/{repo}/commits/{sha}/pulls` "Lists the
merged pull request that introduced the commit to the repository. If the
commit is not present in the default branch, it will return merged and open
pull requests associated with the commit" (GitHub REST API, "List pull
requests associated with a commit"). On `staging` or `develop` an open pull
request that contains the commit is listed too, so the one taken must be
merged, into this branch, with `merge_commit_sha` equal to the pushed
commit. The link is made asynchronously after the merge: an empty answer is
retried (ATTEMPTS times, DELAY seconds apart) before giving up.

Which run: the runs GitHub lists for the head SHA include any run with that
SHA, a fork's pull request with the same commit among them, and a fork's
run executes the fork's copy of the workflow, which may upload anything
under any name. So a run counts only if it ran in this repository, for a
head in this repository (`head_repository`), on the pull request's own
head branch, for the `pull_request` event, and, when GitHub lists the run's
pull requests, for this one (`same_pull_request`).

Standard library only; the job's token needs `actions: read` and
`pull-requests: read`.
"""

from __future__ import annotations

import os
import sys
import time

from github_api import call

# The workflow whose pull request runs made the plans: the file the user's
# repository keeps at .github/workflows/terraform.yml (environment_guard.WORKFLOW).
WORKFLOW_FILE = "terraform.yml"
RECOVER = (
    "To recover: open the pull request's checks (Actions tab, workflow `terraform`, the run "
    "for its last commit), choose `Re-run all jobs` so its plan is made and commented again, "
    "check the comment, then re-run this failed apply job."
)


def artifact_name(env_name: str, head_sha: str) -> str:
    return f"tfplan-{env_name}-{head_sha}"


def merged_pull(
    api: str, repo: str, sha: str, branch: str, *, token: str, attempts: int, delay: float
) -> dict:
    """The pull request merged into `branch` as `sha`, waiting while GitHub links them."""
    pulls: list[dict] = []
    for attempt in range(attempts):
        pulls = call("GET", f"{api}/repos/{repo}/commits/{sha}/pulls", token)
        for pull in pulls:
            if (
                pull.get("merged_at")
                and pull.get("merge_commit_sha") == sha
                and (pull.get("base") or {}).get("ref") == branch
            ):
                return pull
        if attempt + 1 < attempts:
            time.sleep(delay)
    seen = ", ".join(
        f"#{p['number']} ({'merged' if p.get('merged_at') else p['state']} into "
        f"{(p.get('base') or {}).get('ref')}, merge commit {p.get('merge_commit_sha')})"
        for p in pulls
    )
    raise SystemExit(
        f"reviewed_plan: {sha} on {branch} is not the merge commit of a pull request merged "
        f"into {branch} (GitHub listed: {seen or 'none'}; asked {attempts} times). Nothing "
        "that was reviewed matches this commit, so nothing is applied. A direct push is "
        "never applied: open a pull request. If the pull request was merged just now, "
        "re-run this job in a minute."
    )


def same_pull_request(run: dict, pull: dict, repo: str) -> bool:
    """Is `run` a `pull_request` run of `pull`, in `repo`, from a head in `repo`?"""
    head = pull.get("head") or {}
    listed = [p.get("number") for p in run.get("pull_requests") or []]
    return (
        run.get("event") == "pull_request"
        and run.get("head_sha") == head.get("sha")
        and (run.get("repository") or {}).get("full_name") == repo
        and (run.get("head_repository") or {}).get("full_name") == repo
        and ((head.get("repo") or {}).get("full_name") == repo)
        and run.get("head_branch") == head.get("ref")
        and (not listed or pull.get("number") in listed)
    )


def find(
    api: str,
    repo: str,
    sha: str,
    env_name: str,
    *,
    branch: str,
    workflow: str,
    token: str,
    attempts: int,
    delay: float,
) -> dict:
    pull = merged_pull(api, repo, sha, branch, token=token, attempts=attempts, delay=delay)
    head = pull["head"]["sha"]
    runs = call(
        "GET",
        f"{api}/repos/{repo}/actions/workflows/{workflow}/runs?head_sha={head}"
        "&event=pull_request&status=success&per_page=20",
        token,
    )["workflow_runs"]
    wanted = artifact_name(env_name, head)
    for run in runs:  # newest first
        if not same_pull_request(run, pull, repo):
            continue
        arts = call("GET", f"{api}/repos/{repo}/actions/runs/{run['id']}/artifacts", token)[
            "artifacts"
        ]
        for art in arts:
            if art["name"] == wanted and not art.get("expired"):
                return {"run_id": run["id"], "artifact": wanted, "pr": pull["number"]}
    raise SystemExit(
        f"reviewed_plan: no plan artifact {wanted} from a successful `pull_request` run of "
        f"pull request #{pull['number']} (last commit {head}): its plan failed, was never "
        f"made for {env_name}, or expired (30 days). {RECOVER}"
    )


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    found = find(
        env.get("GITHUB_API_URL", "https://api.github.com"),
        env["GITHUB_REPOSITORY"],
        env["GITHUB_SHA"],
        env["TF_ENV"],
        branch=env["GITHUB_REF_NAME"],
        workflow=WORKFLOW_FILE,
        token=env["GITHUB_TOKEN"],
        attempts=int(env.get("LINK_ATTEMPTS", "6")),
        delay=float(env.get("LINK_DELAY_SECONDS", "10")),
    )
    lines = [f"run_id={found['run_id']}", f"artifact={found['artifact']}", f"pr={found['pr']}"]
    out = env.get("GITHUB_OUTPUT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
