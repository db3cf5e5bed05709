"""A private repository without required reviewers: a code owner must approve each merge.

GitHub Pro and Team offer no required reviewers on a private repository's
environments ("For access to other environment protection rules in private
or internal repositories, you must use GitHub Enterprise": GitHub docs,
"Managing environments for deployment"). approval_gate.py then requires,
before any credentials, one review of the merged pull request by a person
CODEOWNERS names for the workflow, on its last commit, after its plan
comment, from someone who wrote none of it. A stand-in for GitHub's REST API
answers the calls it makes ("List reviews for a pull request", "List commits
on a pull request", "Get a pull request", issue comments).
"""

from __future__ import annotations

import base64
import sys
import urllib.parse
from typing import ClassVar

import pytest
from ci_standin import JsonApi, serve

from imgpipe import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / ".github" / "scripts"))
import approval_gate
import plan_comment

HEAD, OLD, BASE = "b" * 40, "c" * 40, "d" * 40
BOT = {"login": "github-actions[bot]", "type": "Bot"}


def review(
    login: str, state: str = "APPROVED", commit: str = HEAD, at: str = "2026-11-27T12:00:00Z"
):
    return {"user": {"login": login}, "state": state, "commit_id": commit, "submitted_at": at}


class GitHub(JsonApi):
    reviews: ClassVar[list[dict]] = []
    commits: ClassVar[list[dict]] = []
    comments: ClassVar[list[dict]] = []
    codeowners: ClassVar[dict[str, str]] = {}  # commit -> .github/CODEOWNERS there

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        path = url.path
        if path == "/repos/o/r/contents/.github/CODEOWNERS":
            ref = urllib.parse.parse_qs(url.query)["ref"][0]
            if ref not in self.codeowners:
                return self._send(404, {"message": "Not Found"})
            content = base64.b64encode(self.codeowners[ref].encode()).decode()
            return self._send(200, {"encoding": "base64", "content": content})
        answers = {
            "/repos/o/r/pulls/7": {
                "number": 7,
                "user": {"login": "author"},
                "head": {"sha": HEAD},
                "base": {"sha": BASE},
            },
            "/repos/o/r/pulls/7/reviews": self.reviews,
            "/repos/o/r/pulls/7/commits": self.commits,
            "/repos/o/r/issues/7/comments": self.comments,
        }
        if path in answers:
            return self._send(200, answers[path])
        return self._send(404, {"message": "Not Found"})


@pytest.fixture
def api(tmp_path):
    GitHub.reviews = [review("alice")]
    GitHub.commits = [{"author": {"login": "author"}, "committer": {"login": "web-flow"}}]
    body = plan_comment.render("prod", "Plan: 1 to add.\n", "x", "u")
    GitHub.comments = [{"id": 1, "user": BOT, "body": body, "updated_at": "2026-11-27T11:00:00Z"}]
    shipped = (REPO_ROOT / ".github" / "CODEOWNERS").read_text()
    GitHub.codeowners = {BASE: shipped.replace("@OWNER", "@alice @acme/team")}
    with serve(GitHub) as url:
        yield url


def gate(api: str, tmp_path=None, gate: str = "pull-request-approval") -> int:
    return approval_gate.main(
        {
            "GITHUB_API_URL": api,
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_TOKEN": "t",
            "GATE": gate,
            "PR_NUMBER": "7",
            "TF_ENV": "prod",
        }
    )


def test_a_code_owners_approval_of_the_last_commit_after_the_plan_passes(api, tmp_path, capsys):
    assert gate(api, tmp_path) == 0
    assert "approved by alice" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("reviews", "commits", "why"),
    [
        ([], None, "no approving review"),
        ([review("carol")], None, "carol is not a code owner"),
        ([review("alice", commit=OLD)], None, "not the last commit"),
        ([review("alice", at="2026-11-27T10:00:00Z")], None, "before the plan comment"),
        ([review("alice"), review("alice", "CHANGES_REQUESTED")], None, "no approving review"),
        ([review("alice"), review("alice", "DISMISSED")], None, "no approving review"),
        ([review("alice")], [{"author": {"login": "alice"}}], "alice wrote part of the change"),
    ],
    ids=["none", "not-an-owner", "stale", "before-plan", "withdrawn", "dismissed", "self-review"],
)
def test_anything_less_is_refused_before_credentials(api, tmp_path, reviews, commits, why):
    GitHub.reviews = reviews
    if commits is not None:
        GitHub.commits = commits
    with pytest.raises(SystemExit, match=why) as caught:
        gate(api, tmp_path)
    assert "Nothing was applied" in str(caught.value)


def test_a_comment_copied_by_someone_else_does_not_stand_for_the_plan(api, tmp_path):
    """A person can paste the marker; only github-actions[bot]'s comment dates the plan."""
    GitHub.comments = [{**GitHub.comments[0], "user": {"login": "alice", "type": "User"}}]
    with pytest.raises(SystemExit, match="no `prod` plan comment"):
        gate(api, tmp_path)


def test_the_environment_reviewers_gate_needs_no_pull_request_approval(api, tmp_path, capsys):
    GitHub.reviews = []
    assert gate(api, tmp_path, gate="environment-reviewers") == 0
    assert "the environment's reviewers approve" in capsys.readouterr().out


def test_owners_are_read_from_the_base_not_from_the_change(api, tmp_path):
    """A pull request naming its approver as a new code owner does not make that approval count."""
    GitHub.reviews = [review("carol")]
    with pytest.raises(SystemExit, match="carol is not a code owner"):
        gate(api, tmp_path)
    # the same CODEOWNERS at the base would let carol approve
    GitHub.codeowners[BASE] = GitHub.codeowners[BASE].replace("@alice", "@carol")
    assert gate(api, tmp_path) == 0
