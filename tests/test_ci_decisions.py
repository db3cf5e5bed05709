"""The CI scripts' decisions at their edges, each branch of each.

- verify_plan: which plan file is the reviewed one: the comment must show
  the whole plan (exactly that text); a comment cut for length never
  verifies;
- codeowners / environment_guard: how CODEOWNERS is read, a rule without
  owners included (GitHub: the last matching pattern decides; no owners
  means none), and which environment settings each gate needs;
- alicloud_oidc: the OIDC token only ever goes to STS over https by
  default, the workflows do not point it elsewhere, and the credentials
  reach only the command given (`alicloud_oidc.py <command>`).
"""

from __future__ import annotations

import json
import sys
import urllib.parse

import pytest

from imgpipe import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / ".github" / "scripts"))
import alicloud_oidc
import codeowners
import environment_guard
import plan_comment
import verify_plan

PLAN = (
    "Terraform will perform the following actions:\n\n"
    "  # alicloud_oss_bucket.source will be created\n"
    '  + resource "alicloud_oss_bucket" "source" {\n'
    '      + bucket = "photos-src"\n    }\n\nPlan: 1 to add, 0 to change, 0 to destroy.\n'
)


def comment(plan_text: str) -> str:
    return plan_comment.render("prod", plan_text, plan_comment.summarize(plan_text), "https://r")


def verify(shown_now: str, body: str) -> None:
    verify_plan.check(shown_now, body, pr=7, env_name="prod")


# ----------------------------------------------------------- verify_plan


def test_a_whole_comment_accepts_exactly_its_plan():
    verify(PLAN, comment(PLAN))


@pytest.mark.parametrize(
    "applied",
    [
        PLAN + "  # alicloud_ram_role.extra will be created\n",  # more than was shown
        PLAN[: PLAN.rindex("Plan:")],  # less than was shown
        PLAN.rstrip("\n"),  # one newline less
        PLAN + "\n",  # one newline more
        PLAN.replace("photos-src", "photos-sr0"),  # one character
    ],
)
def test_a_whole_comment_refuses_any_other_plan(applied):
    with pytest.raises(SystemExit, match="is not the plan reviewed on #7"):
        verify(applied, comment(PLAN))


def test_a_whole_comment_shortened_by_hand_is_refused_even_with_the_right_hash():
    """The comment's text cut short (not by plan_comment, so not marked as cut)
    while its hash still names the whole plan: reviewers saw less than is applied."""
    body = comment(PLAN).replace("Plan: 1 to add, 0 to change, 0 to destroy.\n", "")
    assert plan_comment.parse(body)[2] is False and plan_comment.parse(body)[1] == (
        plan_comment.digest(PLAN)
    )
    with pytest.raises(SystemExit, match="texts first differ at line"):
        verify(PLAN, body)


def test_a_truncated_comment_never_verifies(monkeypatch):
    """A plan cut to fit its comment is refused even when the plan file is exactly
    the plan posted: nobody reviewed what was not shown (issue 23)."""
    long_plan = PLAN + "".join(f"  # resource {i}\n" for i in range(400))
    monkeypatch.setattr(plan_comment, "MAX_BODY", 2_000)
    body = comment(long_plan)
    shown, sha, truncated = plan_comment.parse(body)
    assert truncated and long_plan.startswith(shown) and len(shown) < len(long_plan)
    assert sha == plan_comment.digest(long_plan)
    for applied in (long_plan, shown, long_plan.replace("resource 399", "resource 39X")):
        with pytest.raises(SystemExit) as caught:
            verify(applied, body)
        # What to do, and where docs/ci.md says more (a section that exists).
        assert caught.value.code == (
            "verify_plan: the `prod` plan of #7 was too long for its comment and was shown "
            "cut: what was not shown was never reviewed, so it is not applied. Split the "
            'change into smaller pull requests (docs/ci.md, "When it stops").'
        )
    assert "\n## When it stops\n" in (REPO_ROOT / "docs" / "ci.md").read_text()


@pytest.mark.parametrize(
    "text",
    [
        PLAN,
        PLAN.rstrip("\n"),
        "No changes. Your infrastructure matches the configuration.\n\n\n",
        PLAN + "```\n</details>\n",  # the fence's own closing text inside the plan
        PLAN + plan_comment.TRUNCATED.strip("\n") + "\n",
    ],
)
def test_the_comment_gives_back_exactly_the_text_it_shows(text):
    shown, sha, truncated = plan_comment.parse(comment(text))
    assert (shown, sha, truncated) == (text, plan_comment.digest(text), False)
    verify(text, comment(text))


# ------------------------------------------------------ environment_guard

WORKFLOW_FILE = ".github/workflows/terraform.yml"
SCRIPT_FILE = ".github/scripts/plan_comment.py"


@pytest.mark.parametrize(
    ("text", "workflow_owners", "script_owners"),
    [
        ("/.github/ @acme/platform\n", ["@acme/platform"], ["@acme/platform"]),
        ("/.github/** @acme/platform\n", ["@acme/platform"], ["@acme/platform"]),
        ("* @acme/platform\n", ["@acme/platform"], ["@acme/platform"]),
        (  # the last matching rule decides, not the union of all
            "/.github/ @acme/platform @someone\n/.github/workflows/ @acme/ci\n",
            ["@acme/ci"],
            ["@acme/platform", "@someone"],
        ),
        ("/.github/\n* @acme/platform\n", ["@acme/platform"], ["@acme/platform"]),
        ("/.github/\n", [], []),  # a rule without owners
        ("* @acme/platform\n/.github/\n", [], []),  # the later one decides
        ("# /.github/ @acme/platform\n", [], []),  # a comment
        ("/examples/ @acme/platform\n", [], []),
        ("/.github/ @acme/platform\n/.github/workflows/\n", [], ["@acme/platform"]),
        ("/.github/ @acme/platform\n.github/scripts/\n", ["@acme/platform"], []),
        ("/.github/workflows/*.yml @alice\n", ["@alice"], []),  # * within one segment
        ("/.github/*.yml @alice\n", [], []),  # ... not across a slash
        ("terraform.yml @alice  # trailing comment\n", ["@alice"], []),  # unanchored: any depth
    ],
)
def test_codeowners_is_read_as_github_reads_it(text, workflow_owners, script_owners):
    rules = codeowners.parse(text)
    assert codeowners.owners_of(WORKFLOW_FILE, rules) == workflow_owners
    assert codeowners.owners_of(SCRIPT_FILE, rules) == script_owners


# GitHub docs, "About code owners", "Example of a CODEOWNERS file": each rule
# with the paths its comment there says it owns, and paths it must not.
@pytest.mark.parametrize(
    ("rule", "owned", "not_owned"),
    [
        (
            "*.js    @js-owner #This is an inline comment.",
            ["a.js", "src/deep/b.js", ".js"],
            ["a.jsx", "ajs", "src/js"],
        ),
        ("/build/logs/ @doctocat", ["build/logs/x", "build/logs/a/b"], ["src/build/logs/x"]),
        (
            "docs/*  docs@example.com",
            ["docs/getting-started.md"],
            ["docs/build-app/troubleshooting.md", "src/docs/getting-started.md"],
        ),
        ("apps/ @octocat", ["apps/x.py", "src/apps/x.py", "a/b/apps/c/d"], ["apps", "myapps/x"]),
        ("/docs/ @doctocat", ["docs/a.md", "docs/a/b.md"], ["src/docs/a.md", "docs"]),
        (
            "**/logs @octocat",
            ["build/logs/a", "scripts/logs/a", "deeply/nested/logs/a", "logs/a", "logs"],
            ["catalogs/a", "build/logsx/a"],
        ),
        ("/scripts/**/run.sh @octocat", ["scripts/run.sh", "scripts/a/b/run.sh"], ["run.sh"]),
        # `**` that is not a whole segment is two `*` (gitignore): within one segment
        ("/docs/a**/b.md @octocat", ["docs/a/b.md", "docs/axy/b.md"], ["docs/a/x/b.md"]),
        ("/docs/**.md @octocat", ["docs/a.md"], ["docs/x/a.md"]),
        ("/.github/** @octocat", [WORKFLOW_FILE, ".github/CODEOWNERS"], [".github", "x/.github/a"]),
        ("/.github/workflows/terraform.y?l @octocat", [WORKFLOW_FILE], [".github/workflows/x.yml"]),
        ("/.github/workflows/?.yml @octocat", [".github/workflows/a.yml"], [WORKFLOW_FILE]),
        ("/.github/* @octocat", [".github/CODEOWNERS"], [WORKFLOW_FILE, SCRIPT_FILE]),
        ("/.github/**/* @octocat", [WORKFLOW_FILE, ".github/CODEOWNERS"], ["x/.github/a"]),
        ("* @octocat", [WORKFLOW_FILE, "a", "a/b/c.d"], []),
    ],
)
def test_each_rule_owns_what_githubs_example_says(rule, owned, not_owned):
    rules = codeowners.parse(rule + "\n")
    owner = rules[0][1]
    assert owner and owner[0] in ("@js-owner", "@doctocat", "docs@example.com", "@octocat")
    for path in owned:
        assert codeowners.owners_of(path, rules) == owner, path
    for path in not_owned:
        assert codeowners.owners_of(path, rules) == [], path


def test_a_rule_without_owners_leaves_its_paths_unowned_as_githubs_example_says():
    """ "@octocat owns any file in the `/apps` directory ... except for the
    `/apps/github` subdirectory, as its owners are left empty" (GitHub docs)."""
    rules = codeowners.parse("/apps/ @octocat\n/apps/github\n")
    assert codeowners.owners_of("apps/web/app.js", rules) == ["@octocat"]
    assert codeowners.owners_of("apps/github/app.js", rules) == []
    assert codeowners.owners_of("apps/github", rules) == []
    assert codeowners.owners_of("apps/githubx/app.js", rules) == ["@octocat"]


def test_an_owner_list_ends_at_its_first_comment():
    rules = codeowners.parse("/.github/ @alice # the owners # and more words\n")
    assert rules == [("/.github/", ["@alice"])]


def test_caches_ci_leaves_beside_the_code_need_no_owner(tmp_path):
    """The guard itself leaves .github/scripts/__pycache__/ behind, `terraform init`
    .terraform/: neither is in the repository, so neither needs an owner."""
    root = executed_tree(tmp_path)
    for cache in (
        ".github/scripts/__pycache__/codeowners.cpython-312.pyc",
        "examples/ci-oidc/.terraform/providers/registry/x",
    ):
        (root / cache).parent.mkdir(parents=True, exist_ok=True)
        (root / cache).write_text("x\n")
    path = tmp_path / "CODEOWNERS"
    path.write_text("* @acme/platform\n*.pyc\n/examples/ci-oidc/.terraform/\n")
    assert environment_guard.codeowners_problems(root, path, gate=environment_guard.REVIEWERS) == []


def executed_tree(root):
    """A repository with a workflow, a script and the root module: what CI executes."""
    for name in (WORKFLOW_FILE, SCRIPT_FILE, "versions.tf"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    return root


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("* @acme/platform\n", []),
        ("/.github/\n* @acme/platform\n", []),
        (
            "* @acme/platform\n/.github/\n",
            [
                "gives no owner to what CI executes: .github/scripts/plan_comment.py, "
                ".github/workflows/terraform.yml, .github/x"
            ],
        ),
        (
            "/.github/ @acme/platform\n",
            [
                "gives no owner to what CI executes: .terraform.lock.hcl, Makefile, build.py, "
                "examples/bootstrap-state/x, examples/ci-oidc/x and 6 more"
            ],
        ),
        (  # `/.github/*` owns one level: the workflow and the scripts are left unowned
            "* @acme/platform\n/.github/\n/.github/* @alice\n",
            [
                "gives no owner to what CI executes: .github/scripts/plan_comment.py, "
                ".github/workflows/terraform.yml"
            ],
        ),
        ("* @acme/platform\n/.github/ @OWNER\n", ["still names the placeholder @OWNER"]),
        ("* @acme/platform\n/versions.tf @OWNER\n", ["still names the placeholder @OWNER"]),
    ],
)
def test_the_guard_names_what_codeowners_leaves_unowned(tmp_path, text, problems):
    root = executed_tree(tmp_path)
    path = tmp_path / "CODEOWNERS"
    path.write_text(text)
    found = environment_guard.codeowners_problems(root, path, gate=environment_guard.REVIEWERS)
    assert found == [f"{path} {problem}" for problem in problems]


def test_the_approval_gate_needs_a_person_among_the_workflows_owners(tmp_path):
    """With the pull-request-approval gate, approvals are checked against people: a
    file that names only teams for the workflow is refused there, not behind
    environment reviewers."""
    root = executed_tree(tmp_path)
    path = tmp_path / "CODEOWNERS"
    path.write_text("* @acme/platform\n")
    assert environment_guard.codeowners_problems(root, path, gate=environment_guard.REVIEWERS) == []
    (found,) = environment_guard.codeowners_problems(root, path, gate=environment_guard.APPROVAL)
    assert found.startswith(f"{path} names no person (only teams) as owner of {WORKFLOW_FILE}")
    path.write_text("* @acme/platform\n/.github/ @acme/platform @alice\n")
    assert environment_guard.codeowners_problems(root, path, gate=environment_guard.APPROVAL) == []
    assert environment_guard.codeowners_problems(root, tmp_path / "none", gate="x") == [
        f"{tmp_path / 'none'} is missing"
    ]


ALL_SET = {"prevent_self_review": True, "reviewers": [{"type": "Team"}]}


@pytest.mark.parametrize(
    ("environment", "problems"),
    [
        (
            {"protection_rules": []},
            ["no required reviewers", "administrators can bypass its protection rules"],
        ),
        (
            {
                "protection_rules": [{"type": "required_reviewers", "reviewers": []}],
                "can_admins_bypass": False,
            },
            ["no required reviewers"],
        ),
        (
            {
                "protection_rules": [
                    {"type": "required_reviewers", "reviewers": [], "prevent_self_review": True},
                    {"type": "required_reviewers", **ALL_SET},
                ],
                "can_admins_bypass": False,
            },
            [],
        ),
        (
            {  # reviewers only count in a required_reviewers rule
                "protection_rules": [{"type": "wait_timer", **ALL_SET}],
                "can_admins_bypass": False,
            },
            ["no required reviewers"],
        ),
        (
            {
                "protection_rules": [
                    {"type": "required_reviewers", "reviewers": [{"type": "User"}]}
                ],
                "can_admins_bypass": False,
            },
            ["whoever merges may approve their own deployment"],
        ),
        (
            {"protection_rules": [{"type": "required_reviewers", **ALL_SET}]},
            ["administrators can bypass its protection rules"],
        ),
    ],
)
def test_each_rule_of_the_reviewers_gate_is_needed(environment, problems):
    found = environment_guard.reviewer_problems(environment)
    assert len(found) == len(problems)
    assert all(f.startswith(p) for f, p in zip(found, problems, strict=True))


@pytest.mark.parametrize(
    ("policy", "policies", "problem"),
    [
        (None, None, "every branch may deploy to it (no deployment branch policy)"),
        ({"protected_branches": True}, None, "any protected branch may deploy to it"),
        ({"custom_branch_policies": True}, [{"name": "main", "type": "branch"}], None),
        ({"custom_branch_policies": True}, [{"name": "main"}], None),  # type defaults to branch
        (
            {"custom_branch_policies": True},
            [{"name": "main", "type": "tag"}],
            "must be exactly the branch main (they are: tag main)",
        ),
        (
            {"custom_branch_policies": True},
            [{"name": "main", "type": "branch"}, {"name": "dev", "type": "branch"}],
            "must be exactly the branch main (they are: branch dev, branch main)",
        ),
        ({"custom_branch_policies": True}, [], "(they are: none)"),
    ],
)
def test_only_the_deploy_branch_may_deploy(policy, policies, problem):
    found = environment_guard.branch_policy_problems(
        {"deployment_branch_policy": policy}, policies, "main"
    )
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0]


@pytest.mark.parametrize(
    ("parameters", "missing"),
    [
        (
            {
                "required_approving_review_count": 1,
                "require_code_owner_review": True,
                "dismiss_stale_reviews_on_push": True,
                "require_last_push_approval": True,
            },
            None,
        ),
        (
            {},
            "at least one approval, review from code owners, dismiss stale approvals on push, "
            "approval of the most recent push",
        ),
        (
            {
                "required_approving_review_count": 0,
                "require_code_owner_review": True,
                "dismiss_stale_reviews_on_push": True,
                "require_last_push_approval": True,
            },
            "at least one approval",
        ),
        (
            {
                "required_approving_review_count": 2,
                "require_code_owner_review": True,
                "dismiss_stale_reviews_on_push": True,
            },
            "approval of the most recent push",
        ),
    ],
)
def test_each_rule_of_the_approval_gate_is_needed(parameters, missing):
    found = environment_guard.ruleset_problems(
        [{"type": "pull_request", "parameters": parameters}], "main"
    )
    if missing is None:
        assert found == []
    else:
        assert found == [f"the ruleset of main does not require: {missing}"]
    assert environment_guard.ruleset_problems([{"type": "deletion"}], "main") == [
        "no branch ruleset requires a pull request before merging into main"
    ]


def test_comments_and_blank_lines_are_not_rules(tmp_path):
    """The shipped file's comments mention @OWNER; a user who replaced it in every
    rule (not in the comments, indented or not) passes."""
    root = executed_tree(tmp_path)
    path = tmp_path / "CODEOWNERS"
    path.write_text(
        "# Replace @OWNER with the approvers.\n\n   # indented, still @OWNER\n"
        "* @acme/platform\n\n\n/versions.tf @acme/platform # not @OWNER\n"
    )
    assert codeowners.parse(path.read_text()) == [
        ("*", ["@acme/platform"]),
        ("/versions.tf", ["@acme/platform"]),
    ]
    assert environment_guard.codeowners_problems(root, path, gate=environment_guard.REVIEWERS) == []


def test_two_parts_left_without_owners_are_both_named(tmp_path):
    root = executed_tree(tmp_path)
    path = tmp_path / "CODEOWNERS"
    path.write_text("* @acme/platform\n/.github/workflows/\n/.github/scripts/\n")
    assert environment_guard.codeowners_problems(root, path, gate=environment_guard.REVIEWERS) == [
        f"{path} gives no owner to what CI executes: .github/scripts/plan_comment.py, "
        ".github/workflows/terraform.yml"
    ]


def test_the_guard_in_a_job_reads_the_repositorys_codeowners_and_githubs_api(
    tmp_path, monkeypatch, capsys
):
    """As the apply job runs it: GITHUB_API_URL, GITHUB_REF_NAME, REPO_ROOT and
    CODEOWNERS_FILE unset (their defaults: api.github.com, main, the working
    directory and its .github/CODEOWNERS)."""
    calls = []
    answers: dict = {}

    def call(method, url, token, payload=None):
        calls.append((method, url, token))
        return answers[url.split("/repos/o/r/", 1)[1]]

    monkeypatch.setattr(environment_guard, "call", call)
    monkeypatch.chdir(executed_tree(tmp_path))
    (tmp_path / ".github" / "CODEOWNERS").write_text("* @acme/platform\n")
    unprotected = {"protection_rules": [], "deployment_branch_policy": None}
    answers.update(
        {
            "environments/prod%20eu": unprotected,
            "environments/prod%20eu-smoke": unprotected,
            "rules/branches/main": [],
        }
    )
    env = {"TF_ENV": "prod eu", "GITHUB_REPOSITORY": "o/r", "GITHUB_TOKEN": "tok"}
    with pytest.raises(SystemExit) as caught:
        environment_guard.main(env)
    assert calls == [
        ("GET", f"https://api.github.com/repos/o/r/{path}", "tok")
        for path in (
            "environments/prod%20eu",
            "environments/prod%20eu-smoke",
            "rules/branches/main",
        )
    ]
    message = str(caught.value)
    assert message.startswith(
        "environment_guard: refusing to apply through the GitHub environment `prod eu` "
        "(gate: pull-request-approval): every branch may deploy to it (no deployment branch "
        "policy); `prod eu-smoke`: every branch may deploy to it (no deployment branch policy); "
        "no branch ruleset requires a pull request before merging into main; "
        ".github/CODEOWNERS names no person (only teams) as owner of "
        ".github/workflows/terraform.yml"
    )
    assert "Settings -> Environments -> prod eu -> `Deployment branches and tags`" in message
    assert "`Selected branches` -> main only" in message

    answers["rules/branches/staging"] = []
    with pytest.raises(SystemExit, match=r"`Selected branches` -> staging only"):
        environment_guard.main({**env, "GITHUB_REF_NAME": "staging"})

    calls.clear()
    branch_only = {"custom_branch_policies": True}
    protected = {
        "protection_rules": [{"type": "required_reviewers", **ALL_SET}],
        "can_admins_bypass": False,
        "deployment_branch_policy": branch_only,
    }
    main_only = {"branch_policies": [{"name": "main", "type": "branch"}]}
    answers.update(
        {
            "environments/prod%20eu": protected,
            "environments/prod%20eu/deployment-branch-policies?per_page=100": main_only,
            "environments/prod%20eu-smoke": {"deployment_branch_policy": branch_only},
            "environments/prod%20eu-smoke/deployment-branch-policies?per_page=100": main_only,
        }
    )
    (tmp_path / ".github" / "CODEOWNERS").write_text("* @acme/platform\n/.github/\n")
    with pytest.raises(SystemExit) as caught:
        environment_guard.main(env)
    assert "(gate: environment-reviewers): .github/CODEOWNERS gives no owner to what CI " in str(
        caught.value
    )
    assert not any("rules/branches" in url for _, url, _ in calls)  # not this gate's
    (tmp_path / ".github" / "CODEOWNERS").write_text("* @acme/platform\n")
    out = tmp_path / "github_output"
    assert environment_guard.main({**env, "GITHUB_OUTPUT": str(out)}) == 0
    assert out.read_text() == "gate=environment-reviewers\n"
    assert capsys.readouterr().out == (
        "environment_guard: `prod eu` is gated by environment-reviewers; only main may deploy "
        "to it\n"
    )


# --------------------------------------------------------- alicloud_oidc

ENV = {
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::123:oidc-provider/github-actions",
    "ALIBABA_CLOUD_ROLE_ARN": "acs:ram::123:role/imgpipe-ci-plan-prod",
}


def test_the_oidc_token_goes_to_sts_over_https_by_default():
    req = alicloud_oidc.sts_request(ENV, "the-oidc-token")
    assert req.type == "https" and req.host == "sts.aliyuncs.com"
    assert req.full_url.startswith("https://sts.aliyuncs.com/?")
    assert b"the-oidc-token" in req.data and "the-oidc-token" not in req.full_url


def test_an_sts_endpoint_given_is_used_as_given():
    req = alicloud_oidc.sts_request(
        {**ENV, "ALIBABA_CLOUD_STS_ENDPOINT": "https://sts-vpc.cn-hangzhou.aliyuncs.com/"}, "t"
    )
    assert req.full_url.startswith("https://sts-vpc.cn-hangzhou.aliyuncs.com/?Version=")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://sts.aliyuncs.com/",
        "https://sts-vpc.cn-hangzhou.aliyuncs.com/",
        "https://sts.cn-shanghai.aliyuncs.com",
        # The tests' stand-in (tests/test_ci_workflows.py): loopback only.
        "http://127.0.0.1:8123/sts",
        "http://127.9.9.9/",
        "http://localhost:8123/sts",
        "http://[::1]:8123/sts",
    ],
)
def test_an_https_or_loopback_sts_endpoint_is_taken(endpoint):
    req = alicloud_oidc.sts_request({**ENV, "ALIBABA_CLOUD_STS_ENDPOINT": endpoint}, "t")
    assert req.full_url.startswith(endpoint + "?Version=")


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://sts.aliyuncs.com/",  # the real STS, in clear text
        "http://sts-vpc.cn-hangzhou.aliyuncs.com/",
        "http://10.0.0.8/sts",  # a private address is still a network
        "http://127.0.0.1.example.com/",  # a name that only starts like loopback
        "http://localhost.example.com/",
        "HTTP://sts.aliyuncs.com/",
        "sts.aliyuncs.com",  # no scheme
        "//sts.aliyuncs.com/",
        "ftp://sts.aliyuncs.com/",
        "file:///tmp/sts",
        "https://",  # no host
        "https:///sts",
    ],
)
def test_any_other_sts_endpoint_is_refused_before_github_issues_a_token(
    tmp_path, monkeypatch, endpoint
):
    """The request carries the job's OIDC token, which whoever reads it can trade
    for the role's credentials: it never goes out in clear text."""
    with pytest.raises(SystemExit) as caught:
        alicloud_oidc.sts_request({**ENV, "ALIBABA_CLOUD_STS_ENDPOINT": endpoint}, "t")
    assert caught.value.code == (
        f"alicloud_oidc: ALIBABA_CLOUD_STS_ENDPOINT {endpoint!r} is not an https:// URL: the "
        "OIDC token it would carry could be read on the way. Leave it unset (the default is "
        'https://sts.aliyuncs.com/) or give an https:// STS endpoint (docs/ci.md, "The STS '
        'request")'
    )
    opener = Urlopen()
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", opener)
    with pytest.raises(SystemExit) as caught_in_main:
        alicloud_oidc.main(
            recorder(tmp_path), oidc_env(tmp_path, ALIBABA_CLOUD_STS_ENDPOINT=endpoint)
        )
    assert caught_in_main.value.code == caught.value.code
    assert opener.requests == []  # GitHub was not even asked for a token
    assert not (tmp_path / "seen.json").exists()


def test_an_empty_sts_endpoint_is_the_default():
    """`${{ vars.X }}` of a variable never set is the empty string."""
    req = alicloud_oidc.sts_request({**ENV, "ALIBABA_CLOUD_STS_ENDPOINT": ""}, "t")
    assert req.full_url.startswith("https://sts.aliyuncs.com/?Version=")


def test_the_sts_section_the_refusal_names_says_what_is_taken():
    doc = (REPO_ROOT / "docs" / "ci.md").read_text()
    section = doc[doc.index("### The STS request") :].split("\n## ")[0].split("\n### ")[0]
    assert "`ALIBABA_CLOUD_STS_ENDPOINT`" in section and "https://" in section
    assert "127.0.0.1" in section


def test_the_workflows_leave_sts_at_its_https_default():
    for workflow in (REPO_ROOT / ".github" / "workflows").glob("*.yml"):
        text = workflow.read_text()
        for line in text.splitlines():
            if "ALIBABA_CLOUD_STS_ENDPOINT" in line:
                assert "https://" in line and "http://" not in line, (workflow.name, line)


class Urlopen:
    """urllib.request.urlopen for alicloud_oidc: GitHub's token, then STS's answer."""

    def __init__(self, sts_answer=None, sts_error=None, token_error=None):
        self.requests: list = []
        self.sts_answer = sts_answer or {
            "Credentials": {
                "AccessKeyId": "STS.id",
                "AccessKeySecret": "s3cret",
                "SecurityToken": "tok",
            }
        }
        self.sts_error, self.token_error = sts_error, token_error

    def __call__(self, req, timeout=None):
        import io

        self.requests.append(req)
        if "sts" in req.host:
            if self.sts_error:
                raise self.sts_error
            return io.BytesIO(json.dumps(self.sts_answer).encode())
        if self.token_error:
            raise self.token_error
        return io.BytesIO(json.dumps({"value": "the-oidc-token"}).encode())


def oidc_env(tmp_path, **extra) -> dict:
    """A job's environment; GITHUB_ENV is set so a test can see it is never written."""
    return {
        "GITHUB_ENV": str(tmp_path / "github_env"),
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.actions.githubusercontent.com/token",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bearer-1",
        **ENV,
        **extra,
    }


CREDENTIAL_NAMES = [name for names in alicloud_oidc.NAMES.values() for name in names]


def recorder(tmp_path, status: int = 0) -> list[str]:
    """A command that writes the credential variables it was given, then exits `status`."""
    code = (
        "import json, os, sys; "
        f"open(sys.argv[1], 'w').write(json.dumps({{n: os.environ.get(n) for n in "
        f"{CREDENTIAL_NAMES!r}}})); sys.exit({status})"
    )
    return [sys.executable, "-c", code, str(tmp_path / "seen.json")]


def test_the_exchange_end_to_end_gives_the_command_what_the_provider_reads(
    tmp_path, monkeypatch, capfd
):
    opener = Urlopen()
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", opener)
    assert alicloud_oidc.main(recorder(tmp_path), oidc_env(tmp_path)) == 0
    github, sts = opener.requests
    assert github.full_url == (
        "https://pipelines.actions.githubusercontent.com/token?audience=sts.aliyuncs.com"
    )
    assert github.get_header("Authorization") == "Bearer bearer-1"
    assert sts.get_method() == "POST" and sts.full_url.startswith("https://sts.aliyuncs.com/?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(sts.full_url).query))
    assert (query["Format"], query["Version"]) == ("JSON", "2015-04-01")
    form = dict(urllib.parse.parse_qsl(sts.data.decode()))
    assert form == {
        "OIDCProviderArn": ENV["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"],
        "OIDCToken": "the-oidc-token",
        "RoleArn": ENV["ALIBABA_CLOUD_ROLE_ARN"],
        "RoleSessionName": "github-actions",
        "DurationSeconds": "3600",
    }
    assert json.loads((tmp_path / "seen.json").read_text()) == {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.id",
        "ALICLOUD_ACCESS_KEY": "STS.id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cret",
        "ALICLOUD_SECRET_KEY": "s3cret",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "tok",
        "ALICLOUD_SECURITY_TOKEN": "tok",
    }
    # Never handed to later steps (issue 23): $GITHUB_ENV is not written.
    assert not (tmp_path / "github_env").exists()
    assert capfd.readouterr().out.splitlines() == [
        "::add-mask::STS.id",
        "::add-mask::s3cret",
        "::add-mask::tok",
        f"alicloud_oidc: assumed {ENV['ALIBABA_CLOUD_ROLE_ARN']} through OIDC for {sys.executable}",
    ]


def test_the_commands_exit_status_is_the_steps(tmp_path, monkeypatch):
    """A failed `terraform apply` must fail the step; its status is passed on."""
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", Urlopen())
    assert alicloud_oidc.main(recorder(tmp_path, status=3), oidc_env(tmp_path)) == 3
    missing = str(tmp_path / "no-such-program")
    with pytest.raises(SystemExit) as caught:
        alicloud_oidc.main([missing], oidc_env(tmp_path))
    assert isinstance(caught.value.code, str)
    assert caught.value.code.startswith(f"alicloud_oidc: cannot run {missing}: ")


def test_session_name_and_duration_come_from_the_environment(tmp_path, monkeypatch):
    opener = Urlopen()
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", opener)
    name = "r" * 70  # STS takes at most 64 characters
    env = oidc_env(tmp_path, ROLE_SESSION_NAME=name, DURATION_SECONDS="900")
    assert alicloud_oidc.main(recorder(tmp_path), env) == 0
    form = dict(urllib.parse.parse_qsl(opener.requests[1].data.decode()))
    assert (form["RoleSessionName"], form["DurationSeconds"]) == ("r" * 64, "900")


def test_the_sts_endpoint_with_a_query_gets_the_rest_appended():
    req = alicloud_oidc.sts_request(
        {**ENV, "ALIBABA_CLOUD_STS_ENDPOINT": "https://sts.example/?a=1"}, "t"
    )
    assert req.full_url.startswith("https://sts.example/?a=1&")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""}, "the job needs `id-token: write`"),
        ({"ACTIONS_ID_TOKEN_REQUEST_URL": ""}, "the job needs `id-token: write`"),
        ({"ALIBABA_CLOUD_ROLE_ARN": ""}, "set ALIBABA_CLOUD_OIDC_PROVIDER_ARN"),
        ({"ALIBABA_CLOUD_OIDC_PROVIDER_ARN": ""}, "set ALIBABA_CLOUD_OIDC_PROVIDER_ARN"),
        (None, "give the command to run with the credentials"),  # no command
    ],
)
def test_what_is_missing_stops_the_step_with_a_message(tmp_path, monkeypatch, extra, message):
    """A SystemExit without a message would be exit status 0: the step would pass.
    The command is never run without credentials."""
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", Urlopen())
    argv = [] if extra is None else recorder(tmp_path)
    with pytest.raises(SystemExit) as caught:
        alicloud_oidc.main(argv, oidc_env(tmp_path, **(extra or {})))
    assert isinstance(caught.value.code, str) and message in caught.value.code
    assert not (tmp_path / "seen.json").exists()
    assert not (tmp_path / "github_env").exists()


def test_every_failure_of_the_exchange_fails_the_step(tmp_path, monkeypatch):
    import io
    import urllib.error

    refused = urllib.error.HTTPError(
        "https://sts.aliyuncs.com/", 400, "Bad", {}, io.BytesIO(b'{"Code":"AuthenticationFail"}')
    )
    cases = [
        (Urlopen(sts_error=refused), 'HTTP 400 {"Code":"AuthenticationFail"} (docs/ci.md'),
        (Urlopen(sts_error=urllib.error.URLError("down")), "no usable answer from STS"),
        (Urlopen(sts_answer={"Message": "odd"}), "unexpected STS answer: {'Message': 'odd'}"),
        (Urlopen(token_error=urllib.error.URLError("no")), "GitHub gave no OIDC token"),
    ]
    for opener, message in cases:
        monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", opener)
        with pytest.raises(SystemExit) as caught:
            alicloud_oidc.main(recorder(tmp_path), oidc_env(tmp_path))
        assert isinstance(caught.value.code, str) and message in caught.value.code
        assert not (tmp_path / "seen.json").exists()  # the command never ran
        assert not (tmp_path / "github_env").exists()


def test_stss_refusal_not_in_utf8_is_one_line_with_its_first_500_characters(tmp_path, monkeypatch):
    import io
    import urllib.error

    page = ("<html>Passerelle d\xe9faillante " + "x" * 1000).encode("latin-1")
    refused = urllib.error.HTTPError("https://sts.aliyuncs.com/", 502, "Bad", {}, io.BytesIO(page))
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", Urlopen(sts_error=refused))
    with pytest.raises(SystemExit) as caught:
        alicloud_oidc.main(recorder(tmp_path), oidc_env(tmp_path))
    detail = ("<html>Passerelle d\ufffdfaillante " + "x" * 1000)[:500]
    assert caught.value.code == (
        f"alicloud_oidc: AssumeRoleWithOIDC failed: HTTP 502 {detail} (docs/ci.md: the "
        "subject, audience and fingerprint are checked against steps 2-4)"
    )
    odd = {"Message": "y" * 1000}
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", Urlopen(sts_answer=odd))
    with pytest.raises(SystemExit) as caught:
        alicloud_oidc.main(recorder(tmp_path), oidc_env(tmp_path))
    assert caught.value.code == f"alicloud_oidc: unexpected STS answer: {str(odd)[:300]}"
    assert not (tmp_path / "seen.json").exists()


@pytest.mark.parametrize("silent", ["github", "sts"])
def test_a_silent_github_or_sts_fails_the_step_instead_of_hanging_the_job(
    tmp_path, monkeypatch, silent
):
    """Each end accepts the connection and says nothing: the exchange gives up
    after its timeout (30 s, scaled down here to a tenth of a second)."""
    import socket
    import urllib.request

    real = urllib.request.urlopen

    def scaled(req, timeout=socket._GLOBAL_DEFAULT_TIMEOUT):
        assert isinstance(timeout, (int, float)) and 0 < timeout <= 60, timeout
        if "/silent" not in req.full_url:  # the other end answers at once
            return Urlopen()(req)
        return real(req, timeout=timeout / 300)

    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", scaled)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        env = oidc_env(tmp_path, ALIBABA_CLOUD_STS_ENDPOINT=f"http://127.0.0.1:{port}/silent")
        if silent == "github":
            env = oidc_env(tmp_path, ACTIONS_ID_TOKEN_REQUEST_URL=f"http://127.0.0.1:{port}/silent")
        with pytest.raises(SystemExit) as caught:
            alicloud_oidc.main(recorder(tmp_path), env)
    want = "GitHub gave no OIDC token" if silent == "github" else "no usable answer from STS"
    assert want in caught.value.code
    assert not (tmp_path / "seen.json").exists()


def test_as_a_step_the_command_is_every_argument_after_the_script(tmp_path, monkeypatch):
    """`python3 .github/scripts/alicloud_oidc.py terraform apply ...`: sys.argv[1:]."""
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", Urlopen())
    monkeypatch.setattr(sys, "argv", ["alicloud_oidc.py", *recorder(tmp_path)])
    for key, value in oidc_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    assert alicloud_oidc.main() == 0
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["ALIBABA_CLOUD_ACCESS_KEY_ID"] == "STS.id"


# --------------------------------------------------------- reviewed_plan


def test_reviewed_plan_as_the_apply_job_runs_it(tmp_path, monkeypatch, capsys):
    """Only what the workflow sets (no GITHUB_API_URL, LINK_*): GitHub's
    API with the job's token on every call, the link asked for 6 times 10 s apart
    while it lags, then the plan of the pull request's last commit, from a run of
    this repository, for this pull request's head branch (not a fork's run with
    the same commit, listed first)."""
    import reviewed_plan

    merge, head = "a" * 40, "b" * 40
    merged = {
        "number": 7,
        "merged_at": "2026-11-27T10:00:00Z",
        "merge_commit_sha": merge,
        "base": {"ref": "main"},
        "head": {"sha": head, "ref": "feature", "repo": {"full_name": "o/r"}},
    }
    ours = {
        "id": 42,
        "event": "pull_request",
        "head_sha": head,
        "head_branch": "feature",
        "repository": {"full_name": "o/r"},
        "head_repository": {"full_name": "o/r"},
        "pull_requests": [{"number": 7}],
    }
    forks = {**ours, "id": 41, "head_repository": {"full_name": "fork/r"}, "pull_requests": []}
    answers = {
        f"https://api.github.com/repos/o/r/commits/{merge}/pulls": [[], [], [], [], [], [merged]],
        "https://api.github.com/repos/o/r/actions/workflows/terraform.yml/runs"
        f"?head_sha={head}&event=pull_request&status=success&per_page=20": [
            {"workflow_runs": [forks, ours]}
        ],
        "https://api.github.com/repos/o/r/actions/runs/42/artifacts": [
            {"artifacts": [{"name": f"tfplan-prod-{head}", "expired": False}]}
        ],
    }
    calls, slept = [], []

    def call(method, url, token, payload=None):
        calls.append((method, url, token))
        return answers[url].pop(0)

    monkeypatch.setattr(reviewed_plan, "call", call)
    monkeypatch.setattr(reviewed_plan.time, "sleep", slept.append)
    out = tmp_path / "github_output"
    env = {
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_SHA": merge,
        "GITHUB_REF_NAME": "main",
        "TF_ENV": "prod",
        "GITHUB_TOKEN": "tok",
        "GITHUB_OUTPUT": str(out),
    }
    assert reviewed_plan.main(env) == 0
    assert {(m, t) for m, _, t in calls} == {("GET", "tok")} and len(calls) == 8
    assert slept == [10.0] * 5
    lines = ["run_id=42", f"artifact=tfplan-prod-{head}", "pr=7"]
    assert out.read_text().splitlines() == lines
    assert capsys.readouterr().out.splitlines() == lines


def test_reviewed_plan_gives_up_after_its_attempts_without_a_last_wait(monkeypatch):
    import reviewed_plan

    slept: list[float] = []
    open_pull = {"number": 3, "state": "open", "merged_at": None, "base": {"ref": "main"}}
    monkeypatch.setattr(reviewed_plan, "call", lambda *a, **k: [open_pull])
    monkeypatch.setattr(reviewed_plan.time, "sleep", slept.append)
    with pytest.raises(SystemExit) as caught:
        reviewed_plan.merged_pull(
            "https://api", "o/r", "a" * 40, "main", token="t", attempts=3, delay=2.0
        )
    assert slept == [2.0, 2.0]
    assert "(GitHub listed: #3 (open into main, merge commit None); asked 3 times)" in str(
        caught.value
    )


def test_reviewed_plans_refusal_lists_what_github_linked_word_for_word(monkeypatch):
    """On `develop` GitHub lists open pull requests with the commit too; each one
    listed is named with why it is not the merge (GitHub's pull request shape:
    `state`, `merged_at`, `merge_commit_sha`, `base.ref`)."""
    import reviewed_plan

    sha = "a" * 40
    listed = [
        {"number": 3, "state": "open", "merged_at": None, "merge_commit_sha": "e" * 40,
         "base": {"ref": "develop"}},
        {"number": 4, "state": "closed", "merged_at": None, "merge_commit_sha": None,
         "base": {"ref": "develop"}},
        {"number": 5, "state": "closed", "merged_at": "2026-11-27T10:00:00Z",
         "merge_commit_sha": "f" * 40, "base": {"ref": "main"}},
    ]  # fmt: skip
    answers = iter([[], listed])
    monkeypatch.setattr(reviewed_plan, "call", lambda *a: next(answers))
    monkeypatch.setattr(reviewed_plan.time, "sleep", lambda _s: None)
    tail = (
        "Nothing that was reviewed matches this commit, so nothing is applied. A direct push "
        "is never applied: open a pull request. If the pull request was merged just now, "
        "re-run this job in a minute."
    )
    with pytest.raises(SystemExit) as caught:
        reviewed_plan.merged_pull("u", "o/r", sha, "develop", token="t", attempts=2, delay=1.0)
    assert caught.value.code == (
        f"reviewed_plan: {sha} on develop is not the merge commit of a pull request merged "
        f"into develop (GitHub listed: #3 (open into develop, merge commit {'e' * 40}), "
        "#4 (closed into develop, merge commit None), "
        f"#5 (merged into main, merge commit {'f' * 40}); asked 2 times). {tail}"
    )
    monkeypatch.setattr(reviewed_plan, "call", lambda *a: [])
    with pytest.raises(SystemExit) as caught:
        reviewed_plan.merged_pull("u", "o/r", sha, "main", token="t", attempts=1, delay=1.0)
    assert caught.value.code == (
        f"reviewed_plan: {sha} on main is not the merge commit of a pull request merged "
        f"into main (GitHub listed: none; asked 1 times). {tail}"
    )


def test_the_runs_are_looked_up_for_the_workflow_the_guard_checks_the_owners_of():
    import reviewed_plan

    path = f".github/workflows/{reviewed_plan.WORKFLOW_FILE}"
    assert path == environment_guard.WORKFLOW and (REPO_ROOT / path).is_file()


@pytest.mark.parametrize(
    ("applied", "line"),
    [
        (PLAN.replace("photos-src", "photos-sr0"), 5),  # the bucket's line
        (PLAN.replace("Terraform will", "OpenTofu will"), 1),
        (PLAN + "extra\n", 9),  # the same lines, then one more: after the last shared
    ],
)
def test_the_refusal_names_the_first_line_that_differs(applied, line):
    with pytest.raises(SystemExit, match=rf"the texts first differ at line {line}\. "):
        verify(applied, comment(PLAN))


def test_verify_plan_as_the_apply_job_runs_it(tmp_path, monkeypatch, capsys):
    """GitHub's API with the job's token, this environment's comment of this pull
    request, one line when it matches and the pull request named when not."""
    asked = []

    def find(api, repo, pr, env_name, token):
        asked.append((api, repo, pr, env_name, token))
        return {"body": comment(PLAN)}

    monkeypatch.setattr(verify_plan, "find", find)
    shown = tmp_path / "shown.txt"
    shown.write_text(PLAN)
    env = {
        "SHOW_FILE": str(shown),
        "PR_NUMBER": "7",
        "GITHUB_REPOSITORY": "o/r",
        "TF_ENV": "prod",
        "GITHUB_TOKEN": "tok",
    }
    assert verify_plan.main(env) == 0
    assert asked == [("https://api.github.com", "o/r", 7, "prod", "tok")]
    assert capsys.readouterr().out == (
        "verify_plan: the plan file is the plan reviewed on #7 (prod)\n"
    )
    shown.write_text(PLAN + "more\n")
    with pytest.raises(SystemExit, match=r"not the plan reviewed on #7 \(prod\)"):
        verify_plan.main(env)


def test_each_script_reads_the_jobs_environment_when_run_as_a_step(tmp_path, monkeypatch):
    """`python3 .github/scripts/x.py` calls main() with no argument: os.environ."""
    import reviewed_plan

    for name in ("ALIBABA_CLOUD_ROLE_ARN", "GITHUB_API_URL", "REPO_ROOT", "GITHUB_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    # `python3 .github/scripts/alicloud_oidc.py terraform plan`: the command is sys.argv[1:].
    monkeypatch.setattr(sys, "argv", ["alicloud_oidc.py"])
    with pytest.raises(SystemExit, match="give the command to run with the credentials"):
        alicloud_oidc.main()
    monkeypatch.setattr(sys, "argv", ["alicloud_oidc.py", "terraform", "plan"])
    with pytest.raises(SystemExit, match="set ALIBABA_CLOUD_OIDC_PROVIDER_ARN"):
        alicloud_oidc.main()

    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN)
    for key, value in {
        "GITHUB_REPOSITORY": "o/r",
        "PR_NUMBER": "7",
        "GITHUB_TOKEN": "tok",
        "TF_ENV": "prod",
        "PLAN_TEXT_FILE": str(plan),
        "SHOW_FILE": str(plan),
        "RUN_URL": "https://run",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_REF_NAME": "main",
        "CODEOWNERS_FILE": str(tmp_path / "CODEOWNERS"),
    }.items():
        monkeypatch.setenv(key, value)
    seen = []

    def call(method, url, token, payload=None):
        seen.append((method, url.split("?")[0], token))
        if url.endswith("/pulls"):
            return []
        if "environments" in url:
            return {"protection_rules": [], "deployment_branch_policy": None}
        return [] if method == "GET" else {}

    for module in (plan_comment, reviewed_plan, environment_guard):
        monkeypatch.setattr(module, "call", call)
    monkeypatch.setattr(reviewed_plan.time, "sleep", lambda _s: None)
    monkeypatch.setattr(verify_plan, "find", lambda *a: {"body": comment(PLAN)})
    assert plan_comment.main() == 0
    assert verify_plan.main() == 0
    with pytest.raises(SystemExit, match="is not the merge commit"):
        reviewed_plan.main()
    with pytest.raises(SystemExit, match="refusing to apply through the GitHub environment `prod`"):
        environment_guard.main()
    assert {token for _, _, token in seen} == {"tok"}
    assert ("POST", "https://api.github.com/repos/o/r/issues/7/comments", "tok") in seen


def test_the_sts_request_is_a_form_stamped_in_utc(monkeypatch):
    """A self-hosted runner in another time zone still sends UTC (STS refuses a
    Timestamp off by hours), as a form STS can read."""
    import time
    from datetime import datetime, timezone

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        req = alicloud_oidc.sts_request(ENV, "t")
    finally:
        monkeypatch.undo()
        time.tzset()
    stamp = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(req.full_url).query))["Timestamp"]
    sent = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - sent).total_seconds()) < 120
    assert req.get_header("Content-type") == "application/x-www-form-urlencoded"


def test_the_scripts_messages_word_for_word(tmp_path, monkeypatch):
    monkeypatch.setattr(alicloud_oidc.urllib.request, "urlopen", Urlopen())
    cases = [
        (
            None,
            "alicloud_oidc: give the command to run with the credentials, e.g. "
            "`python3 .github/scripts/alicloud_oidc.py terraform plan ...`",
        ),
        (
            {"ACTIONS_ID_TOKEN_REQUEST_TOKEN": ""},
            "alicloud_oidc: no OIDC token available: the job needs `id-token: write`",
        ),
        (
            {"ALIBABA_CLOUD_ROLE_ARN": ""},
            "alicloud_oidc: set ALIBABA_CLOUD_OIDC_PROVIDER_ARN (repository variable) and "
            "ALIBABA_CLOUD_ROLE_ARN (variable of the job's GitHub environment) from the "
            "outputs of examples/ci-oidc (docs/ci.md, step 4)",
        ),
    ]
    for extra, message in cases:
        argv = [] if extra is None else recorder(tmp_path)
        with pytest.raises(SystemExit) as caught:
            alicloud_oidc.main(argv, oidc_env(tmp_path, **(extra or {})))
        assert caught.value.code == message
