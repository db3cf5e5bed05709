#!/usr/bin/env python3
"""Find the plan that was reviewed for the commit being applied.

On a push to the main branch, the commit came from a merged pull request.
This finds that pull request, the successful plan run for its last commit,
and the plan artifact of that run for this environment, and prints
`run_id=...` and `artifact=...` for `$GITHUB_OUTPUT`. The apply job then
applies exactly that plan file; Terraform refuses it if the state has moved
since (a stale plan), which means a new pull request and a new review.

Standard library only; the job's token needs `actions: read` and
`pull-requests: read`.
"""

from __future__ import annotations

import os
import sys

from github_api import call


def artifact_name(env_name: str, head_sha: str) -> str:
    return f"tfplan-{env_name}-{head_sha}"


def find(api: str, repo: str, sha: str, env_name: str, *, workflow: str, token: str) -> dict:
    pulls = call("GET", f"{api}/repos/{repo}/commits/{sha}/pulls", token)
    merged = [p for p in pulls if p.get("merged_at")]
    if not merged:
        raise SystemExit(
            f"reviewed_plan: {sha} did not come from a merged pull request; nothing was "
            "reviewed, so nothing is applied (open a pull request)"
        )
    head = merged[0]["head"]["sha"]
    runs = call(
        "GET",
        f"{api}/repos/{repo}/actions/workflows/{workflow}/runs?head_sha={head}"
        "&event=pull_request&status=success&per_page=20",
        token,
    )["workflow_runs"]
    wanted = artifact_name(env_name, head)
    for run in runs:
        arts = call("GET", f"{api}/repos/{repo}/actions/runs/{run['id']}/artifacts", token)[
            "artifacts"
        ]
        for art in arts:
            if art["name"] == wanted and not art.get("expired"):
                return {"run_id": run["id"], "artifact": wanted, "pr": merged[0]["number"]}
    raise SystemExit(
        f"reviewed_plan: no plan artifact {wanted} from a successful run of pull request "
        f"#{merged[0]['number']}; re-run its plan, review, and merge again"
    )


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    found = find(
        env.get("GITHUB_API_URL", "https://api.github.com"),
        env["GITHUB_REPOSITORY"],
        env["GITHUB_SHA"],
        env["TF_ENV"],
        workflow=env.get("WORKFLOW_FILE", "terraform.yml"),
        token=env["GITHUB_TOKEN"],
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
