"""plan_comment.py against a GitHub stand-in that checks what real GitHub would:
the job's token on every call, comments in pages of 100 (the plan comment
found on any page), one comment per environment updated in place, only a
comment CI wrote (author github-actions[bot]) taken as the plan comment, and
the comment's size limit at its edge.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from typing import ClassVar

import pytest
from ci_standin import JsonApi, serve

from imgpipe import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / ".github" / "scripts"))
import plan_comment

TOKEN = "ghs_job_token"
# GitHub names the author of a comment written with the job's token so.
BOT_USER = {"login": "github-actions[bot]", "type": "Bot"}


def by_person(cid: int, body: str) -> dict:
    return {"id": cid, "body": body, "user": {"login": f"user{cid}", "type": "User"}}


class GitHub(JsonApi):
    comments: ClassVar[list[dict]] = []
    calls: ClassVar[list[tuple[str, str]]] = []

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, {"message": "Bad credentials"})
            return False
        return True

    def _body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self):
        GitHub.calls.append(("GET", self.path))
        if not self._authorized():
            return
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        per_page, page = int(query["per_page"][0]), int(query["page"][0])
        assert url.path == "/repos/o/r/issues/7/comments" and per_page <= 100
        start = (page - 1) * per_page
        self._send(200, self.comments[start : start + per_page])

    def do_POST(self):
        GitHub.calls.append(("POST", self.path))
        if not self._authorized():
            return
        assert self.path == "/repos/o/r/issues/7/comments"
        comment = {"id": 1000 + len(self.comments), "body": self._body()["body"], "user": BOT_USER}
        GitHub.comments.append(comment)
        self._send(201, comment)

    def do_PATCH(self):
        GitHub.calls.append(("PATCH", self.path))
        if not self._authorized():
            return
        cid = int(self.path.rsplit("/", 1)[1])
        for comment in self.comments:
            if comment["id"] == cid:
                comment["body"] = self._body()["body"]
                return self._send(200, comment)
        return self._send(404, {"message": "Not Found"})


@pytest.fixture
def api():
    GitHub.comments, GitHub.calls = [], []
    with serve(GitHub) as url:
        yield url


def post(api, tmp_path, text: str, env_name: str = "prod", capsys=None) -> str:
    plan = tmp_path / "plan.txt"
    plan.write_text(text)
    env = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": "o/r",
        "PR_NUMBER": "7",
        "GITHUB_TOKEN": TOKEN,
        "TF_ENV": env_name,
        "PLAN_TEXT_FILE": str(plan),
        "RUN_URL": "https://github.com/o/r/actions/runs/99",
    }
    assert plan_comment.main(env) == 0
    return capsys.readouterr().out if capsys else ""


def test_the_plan_comment_is_found_on_any_page_and_updated_in_place(api, tmp_path, capsys):
    """230 other comments first: the plan comment is the 231st, on page 3. One of
    them, by a person, copies the plan comment's marker: it is not the one updated."""
    GitHub.comments = [by_person(i, f"chatter {i}") for i in range(230)]
    GitHub.comments[5] = by_person(5, plan_comment.marker("prod") + "\ncopied by a person")
    assert post(api, tmp_path, "Plan: 1 to add.\n", capsys=capsys) == "plan comment created\n"
    GitHub.calls.clear()
    assert post(api, tmp_path, "Plan: 2 to add.\n", capsys=capsys) == "plan comment updated\n"
    assert GitHub.calls == [
        ("GET", "/repos/o/r/issues/7/comments?per_page=100&page=1"),
        ("GET", "/repos/o/r/issues/7/comments?per_page=100&page=2"),
        ("GET", "/repos/o/r/issues/7/comments?per_page=100&page=3"),
        ("PATCH", "/repos/o/r/issues/comments/1230"),
    ]
    (ours,) = [c for c in GitHub.comments if c["user"] == BOT_USER]
    assert "**Plan: 2 to add.**" in ours["body"] and len(GitHub.comments) == 231
    assert GitHub.comments[5]["body"].endswith("copied by a person")
    assert "[Workflow run](https://github.com/o/r/actions/runs/99)" in ours["body"]


def test_exactly_100_comments_then_none_reads_the_empty_second_page(api, tmp_path):
    GitHub.comments = [by_person(i, "x") for i in range(100)]
    post(api, tmp_path, "Plan: 1 to add.\n")
    gets = [path for method, path in GitHub.calls if method == "GET"]
    assert gets[-1].endswith("page=2") and len(gets) == 2
    assert [m for m, _ in GitHub.calls] == ["GET", "GET", "POST"]


def test_each_environment_has_its_own_comment(api, tmp_path):
    post(api, tmp_path, "Plan: 1 to add.\n", "prod")
    post(api, tmp_path, "Plan: 3 to add.\n", "staging")
    post(api, tmp_path, "Plan: 4 to add.\n", "prod")
    bodies = {c["id"]: c["body"] for c in GitHub.comments}
    assert len(bodies) == 2
    assert "**Plan: 4 to add.**" in bodies[1000] and "`prod`" in bodies[1000]
    assert "**Plan: 3 to add.**" in bodies[1001] and "`staging`" in bodies[1001]


def test_every_call_carries_the_jobs_token(api, tmp_path):
    post(api, tmp_path, "Plan: 1 to add.\n")
    post(api, tmp_path, "Plan: 1 to add.\n")
    assert [m for m, _ in GitHub.calls] == ["GET", "POST", "GET", "PATCH"]  # none refused


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        (
            "...\nPlan: 1 to add, 0 to change, 0 to destroy.\n",
            "**Plan: 1 to add, 0 to change, 0 to destroy.**",
        ),
        (
            "No changes. Your infrastructure matches the configuration.\n",
            "**No changes. Your infrastructure matches the configuration.**",
        ),
        ("  Plan: indented is not the summary\n", "**Plan produced (no summary line found).**"),
        ("plan: 1 to add.\n", "**Plan produced (no summary line found).**"),
    ],
)
def test_the_summary_line(text, summary):
    assert plan_comment.summarize(text) == summary


def room() -> int:
    """The plan text a comment can show whole: the limit less the comment around it."""
    return plan_comment.MAX_BODY - len(plan_comment.render("prod", "", "S", "U"))


@pytest.mark.parametrize("extra", [0, 1])
def test_the_comment_size_limit_at_its_edge(extra):
    """A plan of exactly the room left is shown whole; one character more is cut
    short of it by the length of the truncation notice, marked, and the comment
    stays under GitHub's 65,536 (verify_plan then refuses it: test_ci_plan_verify.py
    ::test_a_plan_too_long_for_its_comment_is_never_applied)."""
    size = room() + extra
    text = "x" * size
    body = plan_comment.render("prod", text, "S", "U")
    shown, sha, truncated = plan_comment.parse(body)
    assert len(body) <= plan_comment.MAX_BODY < 65_536
    assert sha == plan_comment.digest(text)
    if extra == 0:
        assert (shown, truncated) == (text, False) and len(body) == plan_comment.MAX_BODY
    else:
        assert truncated and shown == text[: size - 1 - len(plan_comment.TRUNCATED)]
        assert len(body) == plan_comment.MAX_BODY


@pytest.mark.parametrize(
    "inside",
    [plan_comment.FENCE_OPEN, "Plan text SHA-256: `0000`\n"],
)
def test_the_comments_own_markup_inside_a_plan_is_plan_text(inside):
    text = f"Plan: 1 to add.\n{inside}more\n"
    body = plan_comment.render("prod", text, plan_comment.summarize(text), "U")
    assert plan_comment.parse(body) == (text, plan_comment.digest(text), False)


def test_main_defaults_to_githubs_api(tmp_path, monkeypatch, capsys):
    calls = []

    def call(method, url, token, payload=None):
        calls.append((method, url, token, payload and sorted(payload)))
        return []

    monkeypatch.setattr(plan_comment, "call", call)
    plan = tmp_path / "plan.txt"
    plan.write_text("No changes.\n")
    env = {
        "GITHUB_REPOSITORY": "o/r",
        "PR_NUMBER": "7",
        "GITHUB_TOKEN": TOKEN,
        "TF_ENV": "dev",
        "PLAN_TEXT_FILE": str(plan),
        "RUN_URL": "https://run",
    }
    assert plan_comment.main(env) == 0
    assert calls == [
        (
            "GET",
            "https://api.github.com/repos/o/r/issues/7/comments?per_page=100&page=1",
            TOKEN,
            None,
        ),
        ("POST", "https://api.github.com/repos/o/r/issues/7/comments", TOKEN, ["body"]),
    ]
    assert capsys.readouterr().out == "plan comment created\n"


@pytest.mark.parametrize(
    "author",
    [
        {"login": "renovate[bot]", "type": "Bot"},  # another GitHub App on the repository
        {"login": "dependabot[bot]", "type": "Bot"},
        {"login": "github-actions", "type": "User"},  # a person's name without the brackets
    ],
    ids=["another-app", "dependabot", "a-person"],
)
def test_only_the_workflows_own_bot_writes_the_plan_comment(api, tmp_path, author):
    """Any installed GitHub App comments as a Bot too: only github-actions[bot]
    (GITHUB_TOKEN) is CI; another author's marker is neither updated nor found."""
    planted = plan_comment.render("prod", "No changes.\n", "x", "u")
    GitHub.comments = [{"id": 5, "body": planted, "user": author}]
    assert plan_comment.find(api, "o/r", 7, "prod", TOKEN) is None
    post(api, tmp_path, "Plan: 1 to add.\n")
    assert GitHub.comments[0]["body"] == planted
    assert [c["user"] for c in GitHub.comments] == [author, BOT_USER]
    assert plan_comment.find(api, "o/r", 7, "prod", TOKEN)["id"] == 1001


# ------------------------------------------------------------ github_api.call


class Echo(JsonApi):
    """Answers every call with what it received; /refuse answers 403 as GitHub does."""

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        if self.path == "/refuse":
            return self._send(403, {"message": "Resource not accessible by integration"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        return self._send(200, {"method": self.command, "headers": headers, "body": body})

    do_GET = do_POST = do_PATCH = _echo


def test_call_sends_what_githubs_rest_api_asks_for():
    import github_api

    with serve(Echo) as url:
        got = github_api.call("PATCH", f"{url}/x", TOKEN, {"body": "é"})
        plain = github_api.call("GET", f"{url}/x", TOKEN)
    assert got["method"] == "PATCH" and json.loads(got["body"]) == {"body": "é"}
    assert got["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert got["headers"]["accept"] == "application/vnd.github+json"
    assert got["headers"]["x-github-api-version"] == "2022-11-28"
    assert plain["method"] == "GET" and plain["body"] is None


def test_call_failures_are_one_line_with_githubs_answer_or_its_absence():
    import github_api
    from conftest import free_port

    with serve(Echo) as url, pytest.raises(github_api.ApiError) as refused:
        github_api.call("GET", f"{url}/refuse", TOKEN)
    assert refused.value.status == 403
    assert str(refused.value).startswith(f"GitHub API GET {url}/refuse: HTTP 403 ")
    assert "Resource not accessible by integration" in str(refused.value)
    nobody = f"http://127.0.0.1:{free_port()}/x"
    with pytest.raises(github_api.ApiError) as silent:
        github_api.call("GET", nobody, TOKEN)
    assert silent.value.status is None
    assert str(silent.value).startswith(f"GitHub API GET {nobody}: no usable answer (")


class Proxy(JsonApi):
    """A proxy in front of GitHub answering 502 with a long page not in UTF-8."""

    def do_GET(self):
        page = ("<html>Passerelle d\xe9faillante " + "x" * 1000 + "</html>").encode("latin-1")
        self.send_response(502)
        self.send_header("Content-Type", "text/html; charset=iso-8859-1")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)


def test_a_refusal_that_is_not_utf8_is_still_one_line_with_its_first_300_characters():
    import github_api

    with serve(Proxy) as url, pytest.raises(github_api.ApiError) as refused:
        github_api.call("GET", f"{url}/repos/o/r", TOKEN)
    detail = ("<html>Passerelle d\ufffdfaillante " + "x" * 1000)[:300]
    assert refused.value.status == 502
    assert str(refused.value) == (
        f"GitHub API GET {url}/repos/o/r: HTTP 502 {detail} (a 403 or 404 here usually means "
        "the job's `permissions:` lack what this call needs)"
    )


def test_a_github_that_never_answers_fails_the_step_instead_of_hanging_the_job(monkeypatch):
    """GitHub accepts the connection and says nothing: the call gives up after its
    timeout (30 s, scaled down here to a tenth of a second) with one line."""
    import socket
    import urllib.request

    import github_api

    real = urllib.request.urlopen

    def scaled(req, timeout=socket._GLOBAL_DEFAULT_TIMEOUT):
        assert isinstance(timeout, (int, float)) and 0 < timeout <= 60, timeout
        return real(req, timeout=timeout / 300)

    monkeypatch.setattr(github_api.urllib.request, "urlopen", scaled)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/repos/o/r"
        with pytest.raises(github_api.ApiError) as caught:
            github_api.call("GET", url, TOKEN)
    assert caught.value.status is None
    assert str(caught.value).startswith(f"GitHub API GET {url}: no usable answer (")
