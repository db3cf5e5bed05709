"""Which plan the apply job takes, and when it refuses (issue 17, point 3).

A local stand-in for GitHub's REST API answers as GitHub documents it:
`GET /repos/{repo}/commits/{sha}/pulls` "Lists the merged pull request that
introduced the commit to the repository. If the commit is not present in
the default branch, it will return merged and open pull requests associated
with the commit", and it is filled asynchronously after a merge, so the
first answers can be empty. Workflow runs are listed newest first.
"""

from __future__ import annotations

import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import ClassVar

import pytest

from imgpipe import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / ".github" / "scripts"))
import environment_guard
import reviewed_plan
from ci_standin import JsonApi, serve

MERGE = "a" * 40
HEAD = "b" * 40


def pull(number: int, *, merged: bool, base: str, merge_sha: str | None, head: str = HEAD):
    return {
        "number": number,
        "state": "closed" if merged else "open",
        "merged_at": "2026-11-27T10:00:00Z" if merged else None,
        "merge_commit_sha": merge_sha,
        "base": {"ref": base},
        "head": {"sha": head, "ref": "feature", "repo": {"full_name": "o/r"}},
        "user": {"login": "author"},
    }


def workflow_run(run_id: int, head_sha: str = HEAD, *, repo: str = "o/r", branch: str = "feature"):
    """A `pull_request` run as GitHub lists it; a fork's run has the fork as head_repository."""
    return {
        "id": run_id,
        "event": "pull_request",
        "head_sha": head_sha,
        "head_branch": branch,
        "repository": {"full_name": "o/r"},
        "head_repository": {"full_name": repo},
        "pull_requests": [{"number": 7}, {"number": 8}] if repo == "o/r" else [],
    }


class GitHub(JsonApi):
    pulls: ClassVar[list[list[dict]]] = []  # one answer per call; the last one repeats
    calls: ClassVar[int] = 0
    runs: ClassVar[list[dict]] = []
    artifacts: ClassVar[dict[int, list[dict]]] = {}
    environments: ClassVar[dict[str, dict]] = {}
    branch_policies: ClassVar[list[dict]] = []
    rules: ClassVar[list[dict]] = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        if self.headers.get("Authorization") != "Bearer t":  # the job's token, as GitHub checks it
            return self._send(401, {"message": "Bad credentials"})
        if url.path == f"/repos/o/r/commits/{MERGE}/pulls":
            answer = self.pulls[min(GitHub.calls, len(self.pulls) - 1)]
            GitHub.calls += 1
            return self._send(200, answer)
        if url.path == "/repos/o/r/actions/workflows/terraform.yml/runs":
            assert query["event"] == ["pull_request"] and query["status"] == ["success"]
            wanted = query["head_sha"][0]
            # GitHub filters by head_sha; a stale run of another commit is kept
            # here to prove the script checks it too.
            runs = [r for r in self.runs if r["head_sha"] in (wanted, "stale")]
            return self._send(200, {"workflow_runs": runs})
        if url.path.startswith("/repos/o/r/actions/runs/"):
            run_id = int(url.path.split("/")[-2])
            return self._send(200, {"artifacts": self.artifacts.get(run_id, [])})
        if url.path.endswith("/deployment-branch-policies"):
            return self._send(200, {"branch_policies": self.branch_policies})
        if url.path == "/repos/o/r/rules/branches/main":
            return self._send(200, self.rules)
        if url.path.startswith("/repos/o/r/environments/"):
            name = urllib.parse.unquote(url.path.rsplit("/", 1)[1])
            if name in self.environments:
                return self._send(200, self.environments[name])
        return self._send(404, {"message": "Not Found"})


@pytest.fixture
def api():
    GitHub.calls = 0
    GitHub.runs = [workflow_run(43, "stale"), workflow_run(42), workflow_run(41)]
    GitHub.artifacts = {
        43: [{"name": f"tfplan-prod-{HEAD}", "expired": False}],
        42: [{"name": f"package-{HEAD}", "expired": False}],
        41: [{"name": f"tfplan-prod-{HEAD}", "expired": False}],
    }
    with serve(GitHub) as url:
        yield url


def run(api: str, branch: str = "main", env_name: str = "prod", attempts: int = 3, out=None):
    env = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_SHA": MERGE,
        "GITHUB_REF_NAME": branch,
        "TF_ENV": env_name,
        "GITHUB_TOKEN": "t",
        "LINK_ATTEMPTS": str(attempts),
        "LINK_DELAY_SECONDS": "0",
    }
    if out:
        env["GITHUB_OUTPUT"] = str(out)
    return reviewed_plan.main(env)


def test_a_merge_on_main_finds_the_reviewed_plan_of_its_last_commit(api, tmp_path):
    GitHub.pulls = [[pull(7, merged=True, base="main", merge_sha=MERGE)]]
    run(api, out=tmp_path / "out")
    # run 43 is of another commit, run 42 has no prod plan: 41 is the reviewed one
    assert (tmp_path / "out").read_text().splitlines() == [
        "run_id=41",
        f"artifact=tfplan-prod-{HEAD}",
        "pr=7",
    ]


def test_an_open_pull_request_listed_for_the_commit_is_never_taken(api, tmp_path):
    """On staging the API lists open pull requests that contain the commit, first."""
    GitHub.pulls = [
        [
            pull(9, merged=False, base="main", merge_sha="c" * 40, head="d" * 40),
            pull(8, merged=True, base="staging", merge_sha=MERGE),
        ]
    ]
    run(api, branch="staging", out=tmp_path / "out")
    assert "pr=8" in (tmp_path / "out").read_text()
    GitHub.calls = 0
    GitHub.pulls = [[pull(9, merged=False, base="staging", merge_sha="c" * 40)]]
    with pytest.raises(SystemExit, match=r"#9 \(open into staging.*A direct push is never applied"):
        run(api, branch="staging")
    GitHub.calls = 0  # open is open, whatever its (test) merge commit is
    GitHub.pulls = [[pull(9, merged=False, base="staging", merge_sha=MERGE)]]
    with pytest.raises(SystemExit, match=r"#9 \(open into staging"):
        run(api, branch="staging")


def test_a_pull_request_merged_elsewhere_or_as_another_commit_is_refused(api):
    GitHub.pulls = [[pull(5, merged=True, base="develop", merge_sha=MERGE)]]
    with pytest.raises(SystemExit, match="not the merge commit of a pull request merged into main"):
        run(api)
    GitHub.calls = 0
    GitHub.pulls = [[pull(5, merged=True, base="main", merge_sha="e" * 40)]]
    with pytest.raises(SystemExit, match=r"#5 \(merged into main, merge commit eeee"):
        run(api)


def test_the_link_is_waited_for_while_it_lags(api, tmp_path):
    GitHub.pulls = [[], [], [pull(7, merged=True, base="main", merge_sha=MERGE)]]
    run(api, attempts=3, out=tmp_path / "out")
    assert GitHub.calls == 3 and "run_id=41" in (tmp_path / "out").read_text()
    GitHub.calls = 0
    with pytest.raises(SystemExit, match="asked 2 times"):
        run(api, attempts=2)


def test_a_forks_run_with_the_same_commit_is_never_taken(api, tmp_path):
    """Gap 9: a fork's pull request with the same head SHA runs the fork's workflow."""
    GitHub.pulls = [[pull(7, merged=True, base="main", merge_sha=MERGE)]]
    GitHub.runs = [
        workflow_run(50, repo="mallory/r"),  # newest, same SHA and branch name, a fork
        workflow_run(49, branch="other"),  # this repository, another branch with that commit
        workflow_run(41),
    ]
    GitHub.artifacts[50] = [{"name": f"tfplan-prod-{HEAD}", "expired": False}]
    GitHub.artifacts[49] = [{"name": f"tfplan-prod-{HEAD}", "expired": False}]
    run(api, out=tmp_path / "out")
    assert "run_id=41" in (tmp_path / "out").read_text()
    GitHub.runs = [workflow_run(50, repo="mallory/r")]
    with pytest.raises(SystemExit, match="no plan artifact"):
        run(api)


def test_a_run_listed_for_another_pull_request_is_never_taken(api):
    GitHub.pulls = [[pull(9, merged=True, base="main", merge_sha=MERGE)]]
    with pytest.raises(SystemExit, match="#9"):  # runs 41/42 list pull requests 7 and 8
        run(api)


def test_no_plan_artifact_says_how_to_recover(api):
    GitHub.pulls = [[pull(7, merged=True, base="main", merge_sha=MERGE)]]
    GitHub.artifacts[41] = [{"name": f"tfplan-prod-{HEAD}", "expired": True}]
    with pytest.raises(SystemExit) as caught:
        run(api)
    message = str(caught.value)
    assert f"no plan artifact tfplan-prod-{HEAD}" in message and "#7" in message
    assert "Re-run all jobs" in message and "re-run this failed apply job" in message


# ------------------------------------------------------------ environment guard


def codeowners_text(owners: str = "@alice @bob") -> str:
    return (REPO_ROOT / ".github" / "CODEOWNERS").read_text().replace("@OWNER", owners)


def guard(api: str, name: str = "prod", codeowners: str | None = None, tmp=None, out=None) -> int:
    path = Path(tmp or tempfile.mkdtemp()) / "CODEOWNERS"
    if codeowners is None:
        codeowners = codeowners_text()
    if codeowners is not False:
        path.write_text(codeowners)
    env = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_TOKEN": "t",
        "GITHUB_REF_NAME": "main",
        "TF_ENV": name,
        "CODEOWNERS_FILE": str(path),
        "REPO_ROOT": str(REPO_ROOT),
    }
    if out:
        env["GITHUB_OUTPUT"] = str(out)
    return environment_guard.main(env)


REVIEWERS = {
    "type": "required_reviewers",
    "prevent_self_review": True,
    "reviewers": [{"type": "User", "reviewer": {"login": "alice"}}],
}
BRANCHES = {"protected_branches": False, "custom_branch_policies": True}
PROTECTED = {
    "protection_rules": [REVIEWERS],
    "deployment_branch_policy": BRANCHES,
    "can_admins_bypass": False,
}
SMOKE = {"protection_rules": [], "deployment_branch_policy": BRANCHES}
PULL_RULE = {
    "type": "pull_request",
    "parameters": {
        "required_approving_review_count": 1,
        "require_code_owner_review": True,
        "dismiss_stale_reviews_on_push": True,
        "require_last_push_approval": True,
        "required_review_thread_resolution": False,
    },
}


@pytest.fixture
def protected(api):
    GitHub.environments = {"prod": dict(PROTECTED), "prod-smoke": dict(SMOKE)}
    GitHub.branch_policies = [{"name": "main", "type": "branch"}]
    GitHub.rules = []
    return api


def test_apply_refuses_an_environment_github_created_unprotected(api):
    # what GitHub creates when a job first names an environment
    GitHub.environments = {
        "prod": {"name": "prod", "protection_rules": [], "deployment_branch_policy": None}
    }
    GitHub.rules = []
    with pytest.raises(SystemExit) as caught:
        guard(api)
    message = str(caught.value)
    assert "no deployment branch policy" in message
    assert "no branch ruleset requires a pull request" in message  # and no approval gate either
    assert "Settings -> Environments -> prod" in message and "Selected branches" in message


def test_apply_refuses_a_wait_timer_alone_or_a_missing_environment(protected):
    GitHub.environments["staging-smoke"] = dict(SMOKE)
    GitHub.environments["staging"] = {
        **PROTECTED,
        "protection_rules": [{**REVIEWERS, "reviewers": []}],
    }
    with pytest.raises(SystemExit, match="no required reviewers"):
        guard(protected, "staging")
    with pytest.raises(SystemExit, match="cannot read the GitHub environment `dev` \\(HTTP 404"):
        guard(protected, "dev")


def test_apply_proceeds_behind_reviewers_and_a_branch_policy(protected, tmp_path):
    assert guard(protected, out=tmp_path / "out") == 0
    assert (tmp_path / "out").read_text() == "gate=environment-reviewers\n"


def test_apply_refuses_protection_an_administrator_or_the_merger_can_bypass(protected):
    """Gap 11: `Allow administrators to bypass` on, or self-review allowed."""
    GitHub.environments["prod"]["can_admins_bypass"] = True
    with pytest.raises(SystemExit, match="administrators can bypass"):
        guard(protected)
    GitHub.environments["prod"] = {
        **PROTECTED,
        "protection_rules": [{**REVIEWERS, "prevent_self_review": False}],
    }
    with pytest.raises(SystemExit, match="Prevent self-review"):
        guard(protected)
    del GitHub.environments["prod"]["can_admins_bypass"]  # GitHub's default is true
    with pytest.raises(SystemExit, match="administrators can bypass"):
        guard(protected)


def test_apply_refuses_an_unrestricted_smoke_environment(protected):
    """The smoke role writes into prod's buckets: `prod-smoke` must be main's alone too."""
    GitHub.environments["prod-smoke"] = {"protection_rules": [], "deployment_branch_policy": None}
    with pytest.raises(SystemExit, match="`prod-smoke`: every branch may deploy"):
        guard(protected)
    del GitHub.environments["prod-smoke"]
    with pytest.raises(SystemExit, match="cannot read the GitHub environment `prod-smoke`"):
        guard(protected)


def test_apply_refuses_branches_other_than_the_deploy_branch(protected):
    GitHub.branch_policies = [
        {"name": "main", "type": "branch"},
        {"name": "release/*", "type": "branch"},
    ]
    with pytest.raises(SystemExit, match="exactly the branch main"):
        guard(protected)
    GitHub.environments["prod"]["deployment_branch_policy"] = {"protected_branches": True}
    with pytest.raises(SystemExit, match="any protected branch"):
        guard(protected)


def test_private_repository_gate_needs_a_strict_branch_ruleset(protected, tmp_path):
    """No required reviewers (private, Pro or Team): a ruleset must ask a code owner to approve."""
    GitHub.environments["prod"] = {**PROTECTED, "protection_rules": [], "can_admins_bypass": True}
    GitHub.rules = [PULL_RULE]
    assert guard(protected, out=tmp_path / "out") == 0
    assert (tmp_path / "out").read_text() == "gate=pull-request-approval\n"
    for key in (
        "require_code_owner_review",
        "dismiss_stale_reviews_on_push",
        "require_last_push_approval",
    ):
        GitHub.rules = [{**PULL_RULE, "parameters": {**PULL_RULE["parameters"], key: False}}]
        with pytest.raises(SystemExit, match="does not require"):
            guard(protected)
    GitHub.rules = [PULL_RULE]
    with pytest.raises(SystemExit, match="names no person"):
        guard(protected, codeowners=codeowners_text("@acme/platform"))


def test_apply_refuses_until_codeowners_owns_everything_ci_executes(protected, tmp_path):
    """Gap 10: imgpipe/ and requirements/ run in CI; a placeholder or a gap is refused."""
    shipped = (REPO_ROOT / ".github" / "CODEOWNERS").read_text()
    with pytest.raises(SystemExit, match="still names the placeholder @OWNER"):
        guard(protected, codeowners=shipped, tmp=tmp_path)
    assert guard(protected, codeowners=codeowners_text(), tmp=tmp_path) == 0
    for line in ("/imgpipe/", "/requirements/", "/*.tf", "/.github/", "/function_src/"):
        text = "\n".join(r for r in codeowners_text().splitlines() if not r.startswith(line))
        with pytest.raises(SystemExit, match="gives no owner to what CI executes") as caught:
            guard(protected, codeowners=text, tmp=tmp_path)
        assert line.strip("/*") in str(caught.value)
    # a later rule without owners takes ownership away again
    with pytest.raises(SystemExit, match=r"imgpipe/commands/smoke\.py"):
        unowned = codeowners_text() + "\n/imgpipe/commands/smoke.py\n"
        guard(protected, codeowners=unowned, tmp=tmp_path)
    (tmp_path / "CODEOWNERS").unlink()
    with pytest.raises(SystemExit, match="CODEOWNERS is missing"):
        guard(protected, codeowners=False, tmp=tmp_path)


def test_an_api_refusal_is_one_clear_line(api):
    """A refused call (403 without the permission, 404 here) is one line, no traceback."""
    from github_api import ApiError

    GitHub.pulls = [[pull(7, merged=True, base="main", merge_sha=MERGE)]]
    with pytest.raises(ApiError, match=r"HTTP 404 .*permissions") as caught:
        run(api + "/nowhere")
    assert isinstance(caught.value, SystemExit) and caught.value.status == 404


def refusal(api: str, **kwargs) -> str:
    with pytest.raises(SystemExit) as caught:
        guard(api, **kwargs)
    return str(caught.value)


HOW = environment_guard.HOW.format(env="prod", branch="main")


def test_the_guards_refusal_word_for_word_names_each_setting_as_githubs_page_does(protected):
    """The settings are named by their labels on GitHub's pages (docs/ci.md step 6
    quotes the same), each problem once, then what to do."""
    GitHub.environments["prod"] = {
        **PROTECTED,
        "protection_rules": [{**REVIEWERS, "prevent_self_review": False}],
        "can_admins_bypass": True,
        "deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": False},
    }
    assert refusal(protected) == (
        "environment_guard: refusing to apply through the GitHub environment `prod` (gate: "
        "environment-reviewers): any protected branch may deploy to it: choose `Selected "
        "branches` instead; whoever merges may approve their own deployment (tick `Prevent "
        "self-review`); administrators can bypass its protection rules (untick `Allow "
        "administrators to bypass configured protection rules`). " + HOW
    )
    doc = " ".join((REPO_ROOT / "docs" / "ci.md").read_text().split())
    for label in ("Selected branches", "Prevent self-review", "Allow administrators to bypass"):
        assert label in doc and label in HOW


def test_the_person_the_approval_gate_needs_word_for_word(protected, tmp_path):
    GitHub.environments["prod"] = {**PROTECTED, "protection_rules": [], "can_admins_bypass": True}
    GitHub.rules = [PULL_RULE]
    path = tmp_path / "CODEOWNERS"
    assert refusal(protected, codeowners=codeowners_text("@acme/platform"), tmp=tmp_path) == (
        "environment_guard: refusing to apply through the GitHub environment `prod` (gate: "
        f"pull-request-approval): {path} names no person (only teams) as owner of "
        ".github/workflows/terraform.yml: the approval of a merge is checked against people, "
        "since the job's token cannot read team membership. " + HOW
    )


FIVE = ".terraform.lock.hcl, Makefile, build.py, imgpipe/x"


@pytest.mark.parametrize(
    ("left_out", "named"),
    [
        (5, f"{FIVE}, pyproject.toml"),
        (6, f"{FIVE}, modules/x and 1 more"),
        (7, f"{FIVE}, modules/x and 2 more"),
    ],
)
def test_the_unowned_paths_named_are_the_first_five_and_a_count(tmp_path, left_out, named):
    """Five named, the rest counted: none left out of the count at the edge."""
    unowned = ["/build.py", "/Makefile", "/pyproject.toml", "/.terraform.lock.hcl", "/imgpipe/"]
    unowned += ["/modules/", "/requirements/"]
    path = tmp_path / "CODEOWNERS"
    path.write_text("* @alice\n" + "".join(f"{rule}\n" for rule in unowned[:left_out]))
    root = tmp_path / "repo"
    root.mkdir()
    found = environment_guard.codeowners_problems(root, path, gate=environment_guard.REVIEWERS)
    assert found == [f"{path} gives no owner to what CI executes: {named}"]
