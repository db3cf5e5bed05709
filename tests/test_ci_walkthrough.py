"""docs/ci.md's walkthrough and tables, checked against the workflow and the scripts.

The walkthrough ("a new private repository on GitHub Team") names jobs,
environments, steps, a concurrency group, an artifact and messages; each
name must be what terraform.yml and .github/scripts actually use, rendered
for `prod`, so the page cannot drift from the code it describes.
"""

from __future__ import annotations

import re
import sys

import pytest
import yaml

from imgpipe import REPO_ROOT

SCRIPTS = REPO_ROOT / ".github" / "scripts"
sys.path.insert(0, str(SCRIPTS))
import codeowners  # noqa: E402
import environment_guard  # noqa: E402

DOC = (REPO_ROOT / "docs" / "ci.md").read_text()
WORKFLOW_TEXT = (REPO_ROOT / ".github" / "workflows" / "terraform.yml").read_text()
JOBS = yaml.safe_load(WORKFLOW_TEXT)["jobs"]


def section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 3)
    return " ".join(DOC[start : end if end > 0 else None].split())


WALK = section("Walkthrough: a new private repository on GitHub Team")


def for_prod(template: str) -> str:
    return template.replace("${{ needs.env.outputs.env }}", "prod")


def test_the_walkthrough_names_every_job_as_github_shows_it():
    names = {for_prod(job["name"]) for job in JOBS.values()}
    assert names == {
        "pick environment",
        "fmt, tests, package",
        "plan (prod)",
        "apply (prod)",
        "smoke test (prod)",
    }
    for name in names:
        assert f"`{name}`" in WALK, name
    for quoted in re.findall(r"`([^`]*\(prod\))`", WALK):
        assert quoted in names, quoted


def test_the_walkthrough_names_the_environments_the_jobs_use():
    used = {for_prod(job["environment"]) for job in JOBS.values() if "environment" in job}
    assert used == {"prod-plan", "prod", "prod-smoke"}
    for name in used:
        assert f"`{name}`" in WALK, name


@pytest.mark.parametrize(
    ("job", "step"),
    [
        ("plan", "refuse a fork's pull request"),
        ("apply", "refuse an unprotected environment"),
        ("apply", "find the reviewed plan"),
        ("apply", "a code owner approved this merge"),
    ],
)
def test_each_step_the_walkthrough_quotes_exists_in_its_job(job, step):
    assert f"`{step}`" in WALK
    assert any(s.get("name", "").startswith(step) for s in JOBS[job]["steps"]), step


def test_the_apply_happens_in_the_order_the_walkthrough_tells():
    names = [s.get("name", s.get("uses", "")) for s in JOBS["apply"]["steps"]]

    def at(prefix: str) -> int:
        return next(i for i, n in enumerate(names) if n.startswith(prefix))

    told = ["refuse an unprotected environment", "find the reviewed plan"]
    told += ["a code owner approved this merge", "the plan file is the reviewed plan"]
    told += ["terraform apply"]
    assert [at(p) for p in told] == sorted(at(p) for p in told)
    positions = [WALK.index(f"`{p}`") for p in told[:3]]
    assert positions == sorted(positions)


def test_the_second_pull_request_waits_in_the_queue_the_walkthrough_describes():
    apply = JOBS["apply"]
    assert apply["needs"] == ["env"] and JOBS["env"]["name"] == "pick environment"
    assert "needs only `pick environment`" in WALK
    block = apply["concurrency"]
    assert f"`{for_prod(block['group'])}`" in WALK
    assert block["queue"] == "max" and block["cancel-in-progress"] is False
    assert "`queue: max`, `cancel-in-progress: false`" in WALK
    plan_runs = "\n".join(s.get("run", "") for s in JOBS["plan"]["steps"])
    assert "terraform plan -lock=false" in plan_runs and "`-lock=false`" in WALK


def test_the_plan_artifact_and_comment_are_named_as_the_walkthrough_says():
    (upload,) = [
        s["with"]
        for s in JOBS["plan"]["steps"]
        if "upload-artifact" in s.get("uses", "") and "tfplan" in s["with"]["path"]
    ]
    name = upload["name"].replace("${{ env.TF_ENV }}", "prod")
    assert name.replace("${{ env.HEAD_SHA }}", "<head SHA>") in WALK
    import plan_comment

    assert "Terraform plan: `prod`" in plan_comment.render("prod", "x", "s", "u")
    assert "Terraform plan: `prod`" in WALK and f"`{plan_comment.BOT}`" in WALK


def test_the_fork_message_quoted_is_the_one_the_plan_job_prints():
    run = JOBS["plan"]["steps"][0]["run"]
    for piece in (
        "This pull request comes from the fork",
        "A maintainer pushes the branch to",
        "and opens the pull request from there",
    ):
        assert piece in run and piece in WALK, piece


def test_a_change_to_github_dir_needs_a_code_owner_as_the_walkthrough_says():
    text = (REPO_ROOT / ".github" / "CODEOWNERS").read_text().replace("@OWNER", "@alice")
    assert codeowners.individual_owners(environment_guard.WORKFLOW, text) == ["alice"]
    assert "`/.github/ @alice`" in WALK
    applied = "\n".join(s.get("run", "") for s in JOBS["apply"]["steps"])
    for script in ("verify_plan.py", "approval_gate.py"):
        assert f"`{script}`" in WALK and script in applied and (SCRIPTS / script).exists()


def test_the_gate_table_names_the_gates_the_guard_decides_between():
    gates = section("Which gate protects an apply")
    for gate in (environment_guard.REVIEWERS, environment_guard.APPROVAL):
        assert f"`{gate}`" in gates
    rows = re.findall(r"^\| (GitHub [^|]+?) \| ([^|]+) \| ([^|]+) \|$", DOC, re.M)
    plans = {plan: (public, private) for plan, public, private in rows}
    assert set(plans) == {
        "GitHub Free",
        "GitHub Pro (personal accounts)",
        "GitHub Team",
        "GitHub Enterprise Cloud",
    }
    assert "`pull-request-approval`" in plans["GitHub Team"][1]
    assert "not supported" in plans["GitHub Free"][1]


def test_every_message_in_when_it_stops_is_printed_by_the_code():
    table = section("When it stops")
    code = WORKFLOW_TEXT + "".join(p.read_text() for p in SCRIPTS.iterdir() if p.is_file())
    terraform_own = {"Saved plan is stale"}  # Terraform's (tests/test_ci_plan_verify.py)
    rows = re.findall(r"\| ((?:`[^`]+`[^|]*?)+) \|", table)
    pieces = [p for row in rows for p in re.findall(r"`([^`]+)`", row)]
    assert len(pieces) >= 10
    for piece in pieces:
        if piece in terraform_own:
            continue
        for literal in piece.split("..."):  # "..." stands for what the message fills in
            assert literal.strip() in code, piece
