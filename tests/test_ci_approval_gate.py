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
    raw_codeowners: ClassVar[dict[str, bytes]] = {}  # the same, as bytes not UTF-8
    pull_user: ClassVar[dict | None] = None  # who opened the pull request

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        path = url.path
        if self.headers.get("Authorization") != "Bearer t":  # the job's token, as GitHub checks it
            return self._send(401, {"message": "Bad credentials"})
        query = urllib.parse.parse_qs(url.query)
        if path == "/repos/o/r/contents/.github/CODEOWNERS":
            ref = urllib.parse.parse_qs(url.query)["ref"][0]
            if ref not in self.codeowners:
                return self._send(404, {"message": "Not Found"})
            raw = self.raw_codeowners.get(ref) or self.codeowners[ref].encode()
            content = base64.b64encode(raw).decode()
            return self._send(200, {"encoding": "base64", "content": content})
        answers = {
            "/repos/o/r/pulls/7": {
                "number": 7,
                "user": self.pull_user,
                "head": {"sha": HEAD},
                "base": {"sha": BASE},
            },
            "/repos/o/r/pulls/7/reviews": self.reviews,
            "/repos/o/r/pulls/7/commits": self.commits,
            "/repos/o/r/issues/7/comments": self.comments,
        }
        if path in answers and isinstance(answers[path], list):
            # GitHub's pages: `per_page` (default 30, at most 100) from `page` 1
            per_page = min(int(query.get("per_page", ["30"])[0]), 100)
            page = max(int(query.get("page", ["1"])[0]), 1)
            return self._send(200, answers[path][(page - 1) * per_page : page * per_page])
        if path in answers:
            return self._send(200, answers[path])
        return self._send(404, {"message": "Not Found"})


@pytest.fixture
def api(tmp_path):
    GitHub.reviews = [review("alice")]
    GitHub.commits = [{"author": {"login": "author"}, "committer": {"login": "web-flow"}}]
    GitHub.pull_user, GitHub.raw_codeowners = {"login": "author"}, {}
    body = plan_comment.render("prod", "Plan: 1 to add.\n", "x", "u")
    GitHub.comments = [
        {
            "id": 1,
            "user": BOT,
            "body": body,
            "created_at": "2026-11-27T09:00:00Z",
            "updated_at": "2026-11-27T11:00:00Z",  # the plan of the last commit
        }
    ]
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


# ------------------------------------------- each branch, on GitHub's shapes


def refusal(api, tmp_path=None) -> str:
    with pytest.raises(SystemExit) as caught:
        gate(api, tmp_path)
    return str(caught.value)


def test_the_refusal_names_each_approval_and_why_it_did_not_count(api):
    GitHub.reviews = [review("carol"), review("alice", commit=OLD)]
    assert refusal(api) == (
        "approval_gate: pull request #7 has no approval that gates an apply (carol is not a "
        "code owner of .github/workflows/terraform.yml; alice approved cccccccccccc, not the "
        f"last commit). {approval_gate.RECOVER}"
    )
    GitHub.reviews = []
    assert refusal(api) == (
        "approval_gate: pull request #7 has no approval that gates an apply (no approving "
        f"review). {approval_gate.RECOVER}"
    )


@pytest.mark.parametrize(
    ("pages_of_others", "withdrawn"), [(1, False), (2, False), (1, True)], ids=str
)
def test_reviews_and_commits_on_every_page_are_read(api, pages_of_others, withdrawn):
    """GitHub lists at most 100 per page: alice's approval after 100 or 200
    comments of others counts; her "changes requested" on a later page withdraws
    it; an author on the commits' second page is still an author."""
    others = [review(f"user{i}", "COMMENTED") for i in range(100 * pages_of_others + 17)]
    GitHub.reviews = [*others, review("alice")]
    if withdrawn:
        GitHub.reviews = [review("alice"), *others, review("alice", "CHANGES_REQUESTED")]
        assert "no approving review" in refusal(api)
        return
    assert gate(api) == 0
    GitHub.reviews = [review("alice"), *others]  # on the first page, then more
    assert gate(api) == 0
    theirs = [{"author": {"login": "author"}, "committer": {"login": "web-flow"}}] * 150
    alices = {"author": {"login": "alice"}, "committer": {"login": "web-flow"}}
    for commits in ([*theirs, alices], [alices, *theirs]):
        GitHub.commits = commits
        assert "alice wrote part of the change" in refusal(api)


@pytest.mark.parametrize(
    ("pull_author", "commit"),
    [
        ("alice", {"author": {"login": "dev"}, "committer": {"login": "web-flow"}}),
        ("dev", {"author": {"login": "dev"}, "committer": {"login": "alice"}}),
        # A commit whose e-mail matches no account: GitHub gives `author: null`.
        ("dev", {"author": None, "committer": {"login": "alice"}}),
    ],
    ids=["opened-the-pull-request", "committed-it", "committed-an-unlinked-authors-commit"],
)
def test_whoever_opened_or_committed_the_change_cannot_approve_it(api, pull_author, commit):
    GitHub.commits = [commit]
    GitHub.pull_user = {"login": pull_author}
    assert "alice wrote part of the change" in refusal(api)


def test_an_earlier_request_for_changes_by_someone_else_does_not_hide_an_approval(api):
    GitHub.reviews = [review("bob", "CHANGES_REQUESTED"), review("carol"), review("alice")]
    assert gate(api) == 0


@pytest.mark.parametrize(
    ("submitted_at", "counts"),
    [
        ("2026-11-27T11:00:01Z", True),  # the next second
        ("2026-11-27T11:00:00Z", False),  # the comment's own second: maybe before it
        ("2026-11-27T10:59:59Z", False),
        (None, False),  # GitHub always dates a submitted review; without, never after
    ],
)
def test_the_approval_must_come_after_the_plan_comments_last_update(api, submitted_at, counts):
    GitHub.reviews = [{**review("alice"), "submitted_at": submitted_at}]
    if counts:
        assert gate(api) == 0
    else:
        assert "alice approved before the plan comment was last written" in refusal(api)


def test_the_last_update_dates_the_plan_not_the_comments_creation(api):
    """The comment is created by the first commit's plan and updated by each later
    one: an approval between the two saw an older plan."""
    GitHub.reviews = [review("alice", at="2026-11-27T10:00:00Z")]  # after created, before updated
    assert "before the plan comment was last written" in refusal(api)


def test_a_review_by_a_deleted_account_never_counts(api):
    """GitHub shows a deleted account's review with `user: null`."""
    GitHub.reviews = [{**review("x"), "user": None}]
    GitHub.codeowners[BASE] += "\n/.github/workflows/ @alice @none @xxxx\n"
    assert "None is not a code owner" in refusal(api)


def test_codeowners_with_bytes_that_are_not_utf8_is_still_read(api):
    """A CODEOWNERS saved in Latin-1 (a name with ü in a comment) must not crash the gate."""
    text = GitHub.codeowners[BASE]
    GitHub.codeowners[BASE] = "# M\xfcller's team\n" + text
    GitHub.raw_codeowners = {BASE: GitHub.codeowners[BASE].encode("latin-1")}
    assert gate(api) == 0


def test_the_gate_of_the_environment_reviewers_says_so_and_asks_nothing(api, capsys):
    GitHub.reviews = []
    assert gate(api, gate="environment-reviewers") == 0
    assert capsys.readouterr().out == (
        "approval_gate: gate is environment-reviewers: the environment's reviewers approve\n"
    )


def test_as_a_step_it_reads_the_jobs_environment_and_githubs_api(monkeypatch, capsys):
    """`python3 .github/scripts/approval_gate.py`: main() with no argument reads
    os.environ, and GitHub's API is https://api.github.com unless the runner says."""
    asked: list[tuple[str, str]] = []

    def call(method, url, token, payload=None):
        asked.append((url.split("?")[0], token))
        path = urllib.parse.urlsplit(url).path
        if path.endswith("/contents/.github/CODEOWNERS"):
            content = GitHub.codeowners[BASE].encode()
            return {"content": base64.b64encode(content).decode()}
        if path.endswith("/comments"):
            return GitHub.comments
        if path.endswith("/reviews"):
            return [review("alice")]
        if path.endswith("/commits"):
            return []
        return {"number": 7, "user": {"login": "dev"}, "head": {"sha": HEAD}, "base": {"sha": BASE}}

    monkeypatch.setattr(approval_gate, "call", call)
    monkeypatch.setattr(plan_comment, "call", call)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    for key, value in {
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_TOKEN": "job-token",
        "GATE": "pull-request-approval",
        "PR_NUMBER": "7",
        "TF_ENV": "prod",
    }.items():
        monkeypatch.setenv(key, value)
    assert approval_gate.main() == 0
    assert capsys.readouterr().out == (
        "approval_gate: #7 approved by alice on its last commit, after its plan\n"
    )
    api = "https://api.github.com/repos/o/r"
    assert asked == [
        (f"{api}/pulls/7", "job-token"),
        (f"{api}/contents/.github/CODEOWNERS", "job-token"),
        (f"{api}/issues/7/comments", "job-token"),
        (f"{api}/pulls/7/reviews", "job-token"),
        (f"{api}/pulls/7/commits", "job-token"),
    ]
