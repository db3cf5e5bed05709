"""The apply job refuses a plan file that is not the plan reviewers saw (issue 17, point 3).

The plan file is made by the pull request's copy of the workflow, so a pull
request that edits the workflow can upload a plan other than the text it
comments. Here real `terraform show` (the stand-in provider, tests/ci_standin.py)
renders two real plan files; the comment is what plan_comment.py posts for
one of them, and verify_plan.py must accept only that one.
"""

from __future__ import annotations

import shutil
import sys
from typing import ClassVar

import pytest
from ci_standin import TERRAFORM, JsonApi, ok, serve, standin, terraform

from imgpipe import REPO_ROOT

if TERRAFORM is None:
    pytest.skip("terraform not installed (README: Proving the Terraform)", allow_module_level=True)

sys.path.insert(0, str(REPO_ROOT / ".github" / "scripts"))
import plan_comment
import verify_plan

CONFIG = """
terraform {
  required_providers {
    alicloud = { source = "aliyun/alicloud" }
  }
}
variable "name" { type = string }
resource "alicloud_message_service_queue" "dlq" {
  queue_name               = var.name
  message_retention_period = 604800
}
"""


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`terraform show -no-color` of two plan files, as the plan job and the apply job see them."""
    tmp = tmp_path_factory.mktemp("verify")
    plan_dir, apply_dir = tmp / "plan-job", tmp / "apply-job"
    plan_dir.mkdir()
    (plan_dir / "main.tf").write_text(CONFIG)
    out: dict[str, str] = {}
    with standin(tmp) as env:
        ok(terraform(env, plan_dir, "init", "-input=false"))
        for name in ("reviewed", "other"):
            ok(terraform(env, plan_dir, "plan", f"-var=name=imgpipe-{name}", f"-out={name}.tfplan"))
            out[name] = ok(terraform(env, plan_dir, "show", "-no-color", f"{name}.tfplan")).stdout
        # The apply job: another checkout, its own init, the downloaded file.
        apply_dir.mkdir()
        (apply_dir / "main.tf").write_text(CONFIG)
        shutil.copy(plan_dir / "reviewed.tfplan", apply_dir / "tfplan")
        ok(terraform(env, apply_dir, "init", "-input=false"))
        out["reviewed, in the apply job"] = ok(
            terraform(env, apply_dir, "show", "-no-color", "tfplan")
        ).stdout
    return out


def comment_for(text: str) -> str:
    return plan_comment.render("prod", text, plan_comment.summarize(text), "https://run")


def test_show_is_the_same_text_in_the_plan_job_and_the_apply_job(shown):
    assert "imgpipe-reviewed" in shown["reviewed"] and "Plan: 1 to add" in shown["reviewed"]
    assert shown["reviewed, in the apply job"] == shown["reviewed"]


def test_the_reviewed_plan_is_accepted(shown):
    verify_plan.check(
        shown["reviewed, in the apply job"], comment_for(shown["reviewed"]), pr=7, env_name="prod"
    )


def test_a_plan_file_that_differs_from_its_comment_is_refused(shown):
    """The pull request's workflow commented one plan and uploaded another."""
    with pytest.raises(SystemExit, match=r"not the plan reviewed on #7 \(prod\).*Re-run"):
        verify_plan.check(shown["other"], comment_for(shown["reviewed"]), pr=7, env_name="prod")


def test_a_plan_too_long_for_its_comment_is_never_applied(shown, monkeypatch):
    """Gap 7: the comment shows the beginning; a hidden tail was never reviewed.

    The issue's case: a 65k-character plan whose last line attaches
    AdministratorAccess. The comment states the SHA-256 of the whole text,
    and the file matches it, but no reviewer saw the tail.
    """
    tail = '  + policy_name = "AdministratorAccess"\n'
    long_plan = shown["reviewed"] + "  # padding\n" * 6000 + tail
    comment = comment_for(long_plan)
    assert len(comment) <= plan_comment.MAX_BODY and "AdministratorAccess" not in comment
    assert plan_comment.digest(long_plan) in comment  # the hash does cover the tail...
    with pytest.raises(SystemExit, match="too long for its comment"):
        verify_plan.check(long_plan, comment, pr=7, env_name="prod")  # ...and still refused
    monkeypatch.setattr(plan_comment, "MAX_BODY", 900)  # any cut, even of a short plan
    with pytest.raises(SystemExit, match="never reviewed"):
        verify_plan.check(shown["reviewed"], comment_for(shown["reviewed"]), pr=7, env_name="prod")


def test_an_edited_comment_text_is_refused_even_with_the_right_hash(shown):
    comment = comment_for(shown["reviewed"]).replace("imgpipe-reviewed", "imgpipe-harmless")
    with pytest.raises(SystemExit, match="first differ at line"):
        verify_plan.check(shown["reviewed"], comment, pr=7, env_name="prod")


def test_a_comment_in_another_form_is_refused():
    with pytest.raises(SystemExit, match="not in the form"):
        verify_plan.check("Plan: 1 to add", "LGTM", pr=7, env_name="prod")


class Comments(JsonApi):
    """GitHub's issue comments endpoint, one page."""

    bodies: ClassVar[list[str]] = []

    def do_GET(self):
        assert self.path.startswith("/repos/o/r/issues/7/comments?per_page=100&page=1")
        bot = {"login": "github-actions[bot]", "type": "Bot"}
        self._send(200, [{"id": i, "body": b, "user": bot} for i, b in enumerate(self.bodies)])


def test_main_reads_the_comment_for_its_environment(shown, tmp_path):
    show_file = tmp_path / "shown.txt"
    show_file.write_text(shown["reviewed"])
    env = {
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_TOKEN": "t",
        "PR_NUMBER": "7",
        "TF_ENV": "prod",
        "SHOW_FILE": str(show_file),
    }
    with serve(Comments) as url:
        env["GITHUB_API_URL"] = url
        staging = plan_comment.render("staging", shown["other"], "x", "u")
        Comments.bodies = ["looks good", staging, comment_for(shown["reviewed"])]
        assert verify_plan.main(env) == 0
        Comments.bodies = ["looks good", staging]  # no prod plan was ever commented
        with pytest.raises(SystemExit, match="no `prod` plan comment"):
            verify_plan.main(env)
        Comments.bodies = [staging.replace("staging", "prod")]  # prod's comment, other plan
        with pytest.raises(SystemExit, match="not the plan reviewed"):
            verify_plan.main(env)


def test_a_plan_whose_state_moved_on_is_refused_by_terraform(tmp_path):
    """Two queued merges planned against the same state: the second apply is refused.

    This is what docs/ci.md promises for a queued apply whose plan predates
    the apply before it: Terraform itself refuses the saved plan, and
    nothing changes.
    """
    (tmp_path / "main.tf").write_text(CONFIG)
    with standin(tmp_path) as env:
        ok(terraform(env, tmp_path, "init", "-input=false"))
        for name in ("first", "second"):  # both pull requests planned before either merge
            ok(terraform(env, tmp_path, "plan", "-lock=false", f"-var=name={name}", f"-out={name}"))
        ok(terraform(env, tmp_path, "apply", "-auto-approve", "first"))
        state = (tmp_path / "terraform.tfstate").read_text()
        stale = terraform(env, tmp_path, "apply", "-auto-approve", "second")
    assert stale.returncode != 0
    assert "Saved plan is stale" in stale.stderr, stale.stderr[-2000:]
    assert (tmp_path / "terraform.tfstate").read_text() == state  # nothing changed
