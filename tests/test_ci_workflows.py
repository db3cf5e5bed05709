"""The user's CI: workflows checked with real tools, and their scripts run for real.

zizmor and actionlint (wheels from PyPI) lint the workflows; the rules this
project promises are asserted on the parsed YAML; the helper scripts run
against local HTTP servers that answer like GitHub's and Alibaba's APIs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from ci_standin import JsonApi, serve

from imgpipe import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
SCRIPTS = REPO_ROOT / ".github" / "scripts"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(SCRIPTS))
import alicloud_oidc  # noqa: E402
import plan_comment  # noqa: E402


def load(name: str = "terraform.yml") -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def jobs() -> dict:
    return load()["jobs"]


# ---------------------------------------------------------------- real linters


def test_zizmor_auditor_persona_finds_nothing():
    done = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--persona=auditor", "--format=json", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(done.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:3000]
    assert done.returncode == 0


def test_actionlint_passes():
    done = subprocess.run(
        [str(BIN / "actionlint"), *map(str, sorted(WORKFLOWS.glob("*.yml")))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_linters_can_fail(tmp_path):
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    done = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format=json", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    idents = {f["ident"] for f in json.loads(done.stdout)}
    assert {"template-injection", "unpinned-uses"} <= idents


# ---------------------------------------------------------------- promised rules


def test_every_action_is_pinned_to_a_commit():
    for wf in WORKFLOWS.glob("*.yml"):
        for uses in re.findall(r"uses:\s*(\S+)", wf.read_text()):
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{wf.name}: {uses}"


def test_no_expression_is_expanded_inside_a_script():
    """Pull request titles, branch names... reach scripts only through env."""
    for job in jobs().values():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), step


def test_permissions_are_minimal():
    wf = load()
    assert wf["permissions"] == {}
    allowed = {
        "env": {},
        "checks": {"contents": "read"},
        "plan": {"contents": "read", "id-token": "write", "pull-requests": "write"},
        "apply": {
            "contents": "read",
            "id-token": "write",
            "actions": "read",
            "pull-requests": "read",
        },
        "smoke": {"contents": "read", "id-token": "write"},
    }
    assert {name: job["permissions"] for name, job in jobs().items()} == allowed


def test_pull_requests_plan_and_merges_apply_the_reviewed_plan():
    wf = load()
    triggers = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"pull_request", "push", "workflow_dispatch"}
    assert "pull_request_target" not in triggers
    plan, apply = jobs()["plan"], jobs()["apply"]
    # forks run the plan job too, and fail in its first step (not skipped)
    assert plan["if"] == "github.event_name != 'push'"
    assert plan["steps"][0]["name"] == "refuse a fork's pull request"
    assert apply["if"] == "github.event_name == 'push'"
    assert triggers["push"]["branches"] == ["main", "staging", "develop"]  # develop applies dev
    plan_runs = "\n".join(s.get("run", "") for s in plan["steps"])
    for needed in (
        "terraform init",
        "terraform validate",
        "terraform plan -lock=false",
        "-out=tfplan",
        "require_lock_file.sh",
        "plan_comment.py",
        "alicloud_oidc.py",
    ):
        assert needed in plan_runs
    uploads = [s for s in plan["steps"] if "upload-artifact" in s.get("uses", "")]
    assert "tfplan" in uploads[0]["with"]["path"]
    checks = "\n".join(s.get("run", "") for s in jobs()["checks"]["steps"])
    assert "terraform fmt -recursive -check" in checks
    assert "make test" in checks and "make package" in checks
    # apply: protected environment, one at a time, the reviewed plan file
    assert apply["environment"] == "${{ needs.env.outputs.env }}"
    assert apply["concurrency"] == {
        "group": "terraform-apply-${{ needs.env.outputs.env }}",
        "cancel-in-progress": False,
        "queue": "max",
    }
    apply_runs = "\n".join(s.get("run", "") for s in apply["steps"])
    order = [
        "environment_guard.py",
        "require_lock_file.sh",
        "reviewed_plan.py",
        "approval_gate.py",
        "alicloud_oidc.py terraform init -lockfile=readonly",
        "terraform show -no-color reviewed/tfplan",
        "verify_plan.py",
        "alicloud_oidc.py terraform apply",
    ]
    positions = [apply_runs.index(step) for step in order]
    assert positions == sorted(positions), "apply steps out of order"
    # no long-lived keys anywhere: no secrets are read at all
    assert "secrets." not in (WORKFLOWS / "terraform.yml").read_text()
    assert (
        "alicloud_oidc.py terraform apply -lock-timeout=5m -auto-approve reviewed/tfplan"
        in apply_runs
    )
    assert "terraform plan" not in apply_runs  # nothing unreviewed is applied


def test_a_forks_plan_fails_saying_why(tmp_path):
    """A skipped required check counts as passed; a fork's plan job must fail instead."""
    step = jobs()["plan"]["steps"][0]

    def refuse(head: str) -> subprocess.CompletedProcess:
        env = {"HEAD_REPO": head, "THIS_REPO": "acme/photos", "PATH": "/usr/bin:/bin"}
        return subprocess.run(
            ["bash", "-c", step["run"]], env=env, capture_output=True, text=True, check=False
        )

    fork = refuse("mallory/photos")
    assert fork.returncode == 1 and "::error::" in fork.stdout and "fork" in fork.stdout
    assert refuse("acme/photos").returncode == 0
    # and the check cannot be skipped: nothing but `push` excludes the job
    assert "head.repo" not in jobs()["plan"]["if"]


def test_no_third_party_code_runs_where_apply_credentials_can_be_had():
    """Gap 10: the apply job installs nothing; credentials live in one command each.

    A job with `id-token: write` lets every step ask for an OIDC token, so the
    apply job runs only Terraform and .github/scripts (standard library); the
    smoke test's packages install in a job of its own, every file hash-checked.
    """
    apply = jobs()["apply"]
    for step in apply["steps"]:
        uses, run = step.get("uses", ""), step.get("run", "")
        assert "setup-python" not in uses and not re.search(r"\bpip\b|imgpipe|make ", run), step
        assert not re.search(r"^\s*python3? (?!\.github/scripts/)", run, re.M), step
    for job in jobs().values():
        for step in job.get("steps", []):
            run = step.get("run", "")
            assert "GITHUB_ENV" not in run, step
            if any("ROLE_ARN" in str(v) for v in step.get("env", {}).values()):
                # a cloud command runs inside alicloud_oidc.py; bare terraform only shows
                bare = [
                    line.strip()
                    for line in run.replace("\\\n", " ").splitlines()
                    if line.strip().startswith("terraform ")
                ]
                assert "alicloud_oidc.py" in run and all(
                    line.startswith("terraform show") for line in bare
                ), step
    installs = [s["run"] for s in jobs()["smoke"]["steps"] if "pip install" in s.get("run", "")]
    assert installs and all(
        "--require-hashes" in line
        for run in installs
        for line in run.splitlines()
        if "pip install" in line
    )
    for req in ("smoke.txt", "smoke-build.txt"):
        text = (REPO_ROOT / "requirements" / req).read_text()
        pins = [pin for pin in text.splitlines() if "==" in pin]
        hashes = (REPO_ROOT / "requirements" / req).read_text().count("--hash=sha256:")
        assert pins and hashes >= len(pins), req


def test_environment_comes_from_the_branch_or_the_input(tmp_path):
    script = jobs()["env"]["steps"][0]["run"]

    def pick(branch: str, chosen: str = "") -> str:
        out = tmp_path / f"out-{branch.replace('/', '_')}-{chosen}"
        env = {
            "BRANCH": branch,
            "CHOSEN": chosen,
            "GITHUB_OUTPUT": str(out),
            "PATH": "/usr/bin:/bin",
        }
        subprocess.run(["bash", "-c", script], env=env, check=True, timeout=10)
        return out.read_text().strip()

    assert pick("main") == "env=prod"
    assert pick("staging") == "env=staging"
    assert pick("develop") == "env=dev"
    assert pick("feature/x") == "env=dev"
    assert pick("main", "staging") == "env=staging"  # a manual run's choice wins


def test_pre_commit_runs_the_same_checks():
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {
        "ruff-check",
        "ruff-format",
        "terraform-fmt",
        "tf-check",
        "checkov",
        "actionlint",
        "zizmor",
    } <= ids


# ---------------------------------------------------------------- scripts, for real


class FakeApis(JsonApi):
    """GitHub's OIDC and REST endpoints and Alibaba's STS, as far as the scripts use them."""

    comments: ClassVar[list[dict]] = []
    sts_params: ClassVar[dict] = {}
    sts_query: ClassVar[dict] = {}

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/oidc":
            assert self.headers["Authorization"] == "Bearer request-token"
            return self._send(200, {"value": f"jwt-for-{query['audience'][0]}"})
        if url.path.endswith("/issues/7/comments"):
            return self._send(200, self.comments)
        return self._send(404, {"message": "not found"})

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        raw = self.rfile.read(length).decode()
        url = urllib.parse.urlparse(self.path)
        if url.path == "/sts":
            FakeApis.sts_query = dict(urllib.parse.parse_qsl(url.query))
            FakeApis.sts_params = dict(urllib.parse.parse_qsl(raw))
            if FakeApis.sts_params.get("OIDCToken") != "jwt-for-sts.aliyuncs.com":
                return self._send(400, {"Code": "InvalidParameter.OIDCToken"})
            return self._send(
                200,
                {
                    "Credentials": {
                        "AccessKeyId": "STS.KEY",
                        "AccessKeySecret": "s3cret",
                        "SecurityToken": "tok",
                    }
                },
            )
        if self.path.endswith("/issues/7/comments"):
            body = json.loads(raw)
            FakeApis.comments.append(
                {
                    "id": len(FakeApis.comments) + 1,
                    "body": body["body"],
                    "user": {"login": "github-actions[bot]", "type": "Bot"},
                }
            )
            return self._send(201, FakeApis.comments[-1])
        return self._send(404, {})

    def do_PATCH(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cid = int(self.path.rsplit("/", 1)[1])
        for comment in FakeApis.comments:
            if comment["id"] == cid:
                comment["body"] = body["body"]
                return self._send(200, comment)
        return self._send(404, {})


@pytest.fixture
def api():
    FakeApis.comments = []
    with serve(FakeApis) as url:
        yield url


def test_oidc_credentials_reach_only_the_command_they_are_for(api, tmp_path, capfd):
    seen = tmp_path / "seen.json"
    child = [
        sys.executable,
        "-c",
        "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))",
        str(seen),
    ]
    github_env = tmp_path / "github_env"
    code = alicloud_oidc.main(
        child,
        {
            "GITHUB_ENV": str(github_env),
            "PATH": "/usr/bin:/bin",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{api}/oidc?x=1",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
            "ALIBABA_CLOUD_ROLE_ARN": "acs:ram::123:role/imgpipe-ci-plan-prod",
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "acs:ram::123:oidc-provider/github-actions",
            "ALIBABA_CLOUD_STS_ENDPOINT": f"{api}/sts",
        },
    )
    assert code == 0
    exported = json.loads(seen.read_text())
    assert exported["ALIBABA_CLOUD_ACCESS_KEY_ID"] == "STS.KEY"
    assert exported["ALICLOUD_SECURITY_TOKEN"] == "tok"
    assert exported["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] == "s3cret"
    assert not github_env.exists()  # later steps never see them
    # As aliyun/credentials-nodejs oidc_role_arn.ts sends it: the common
    # parameters in the query string, the call's own in the form body.
    assert set(FakeApis.sts_query) == {"Action", "Version", "Format", "Timestamp"}
    assert FakeApis.sts_query["Action"] == "AssumeRoleWithOIDC"
    assert FakeApis.sts_query["Version"] == "2015-04-01"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", FakeApis.sts_query["Timestamp"])
    assert set(FakeApis.sts_params) == {
        "OIDCProviderArn",
        "OIDCToken",
        "RoleArn",
        "RoleSessionName",
        "DurationSeconds",
    }
    assert FakeApis.sts_params["RoleArn"].endswith("imgpipe-ci-plan-prod")
    out = capfd.readouterr().out
    assert "::add-mask::s3cret" in out and "::add-mask::tok" in out
    assert "s3cret" not in out.replace("::add-mask::s3cret", "")
    # the exit status of the command is the step's
    assert (
        alicloud_oidc.main(
            [sys.executable, "-c", "raise SystemExit(3)"],
            {
                "ACTIONS_ID_TOKEN_REQUEST_URL": f"{api}/oidc",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
                "ALIBABA_CLOUD_ROLE_ARN": "r",
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "p",
                "ALIBABA_CLOUD_STS_ENDPOINT": f"{api}/sts",
            },
        )
        == 3
    )


def test_oidc_has_no_long_lived_key_fallback(tmp_path):
    with pytest.raises(SystemExit, match="ALIBABA_CLOUD_ROLE_ARN"):
        alicloud_oidc.main(
            ["true"],
            {"FALLBACK_ACCESS_KEY_ID": "LTAI", "FALLBACK_ACCESS_KEY_SECRET": "k"},
        )
    with pytest.raises(SystemExit, match="id-token: write"):
        alicloud_oidc.main(
            ["true"], {"ALIBABA_CLOUD_ROLE_ARN": "r", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": "p"}
        )
    with pytest.raises(SystemExit, match="give the command"):
        alicloud_oidc.main([], {})


def test_plan_comment_is_one_comment_updated_in_place(api, tmp_path):
    plan = tmp_path / "plan.txt"
    env = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": "o/r",
        "PR_NUMBER": "7",
        "GITHUB_TOKEN": "t",
        "TF_ENV": "prod",
        "PLAN_TEXT_FILE": str(plan),
        "RUN_URL": "https://example.invalid/run/1",
    }
    plan.write_text("  + resource\n\nPlan: 24 to add, 0 to change, 0 to destroy.\n")
    plan_comment.main(env)
    plan.write_text("No changes. Your infrastructure matches the configuration.\n")
    plan_comment.main(env)
    assert len(FakeApis.comments) == 1
    body = FakeApis.comments[0]["body"]
    assert "<!-- imgpipe-terraform-plan:prod -->" in body and "**No changes." in body
    plan_comment.main({**env, "TF_ENV": "staging"})  # another environment: its own comment
    assert len(FakeApis.comments) == 2


def test_a_marker_copied_by_a_person_is_neither_updated_nor_found(api, tmp_path):
    """Gap 8: anyone who can comment can paste the marker."""
    plan = tmp_path / "plan.txt"
    plan.write_text("Plan: 1 to add, 0 to change, 0 to destroy.\n")
    planted = plan_comment.render("prod", "No changes.\n", "x", "u")
    FakeApis.comments.append(
        {"id": 1, "body": planted, "user": {"login": "mallory", "type": "User"}}
    )
    env = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": "o/r",
        "PR_NUMBER": "7",
        "GITHUB_TOKEN": "t",
        "TF_ENV": "prod",
        "PLAN_TEXT_FILE": str(plan),
        "RUN_URL": "u",
    }
    plan_comment.main(env)
    assert FakeApis.comments[0]["body"] == planted  # not edited
    found = plan_comment.find(api, "o/r", 7, "prod", "t")
    assert found["id"] == 2 and "Plan: 1 to add" in found["body"]


def test_plan_comment_truncates_huge_plans():
    body = plan_comment.render("dev", "x" * 200_000, "**Plan: 1 to add.**", "u")
    assert len(body) <= plan_comment.MAX_BODY and "CI will not apply it" in body


# ---------------------------------------------------------------- provider lock file


def test_lock_file_check_fails_with_the_one_time_instruction(tmp_path):
    script = SCRIPTS / "require_lock_file.sh"

    def check(text: str | None) -> subprocess.CompletedProcess:
        lock = tmp_path / ".terraform.lock.hcl"
        if text is None:
            lock.unlink(missing_ok=True)
        else:
            lock.write_text(text)
        return subprocess.run(
            ["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    missing = check(None)
    assert missing.returncode == 1
    assert "::error file=.terraform.lock.hcl::" in missing.stdout
    assert "terraform providers lock -platform=linux_amd64 -platform=darwin_arm64" in missing.stdout
    other = check('provider "registry.terraform.io/hashicorp/random" {\n}\n')
    assert other.returncode == 1 and "no aliyun/alicloud entry" in other.stdout
    lock = (
        'provider "registry.terraform.io/aliyun/alicloud" {\n'
        '  version     = "1.292.0"\n  constraints = ">= 1.292.0, < 2.0.0"\n'
        '  hashes = [\n    "h1:x=",\n  ]\n}\n'
    )
    done = check(lock)
    assert done.returncode == 0, done.stdout + done.stderr
    # and CI never rewrites it: every init is readonly
    runs = "\n".join(s.get("run", "") for job in jobs().values() for s in job.get("steps", []))
    inits = re.findall(r"terraform init[^\n]*", runs)
    assert inits and all("-lockfile=readonly" in line for line in inits), inits


# ---------------------------------------------------------------- wiring between jobs and docs


def _render(template: str, values: dict[str, str]) -> str:
    """`${{ a.b }}` replaced from `values`; anything else left, so a test sees it."""
    return re.sub(
        r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), template
    )


def _artifact_steps(job: str, action: str) -> list[dict]:
    return [s["with"] for s in jobs()[job]["steps"] if f"actions/{action}@" in s.get("uses", "")]


def test_the_plan_artifact_is_downloaded_under_the_name_it_was_uploaded_with():
    """The plan job uploads it; reviewed_plan.py names what the apply job downloads."""
    import reviewed_plan

    sha = "b" * 40
    (plan_upload,) = [
        w for w in _artifact_steps("plan", "upload-artifact") if "tfplan" in w["path"]
    ]
    for env_name in ("dev", "staging", "prod"):
        uploaded = _render(plan_upload["name"], {"env.TF_ENV": env_name, "env.HEAD_SHA": sha})
        assert uploaded == reviewed_plan.artifact_name(env_name, sha)
    (download,) = _artifact_steps("apply", "download-artifact")
    assert download["name"] == "${{ steps.reviewed.outputs.artifact }}"
    assert download["run-id"] == "${{ steps.reviewed.outputs.run_id }}"
    # the plan's HEAD_SHA is the pull request's head, the SHA reviewed_plan.py looks for
    assert jobs()["plan"]["env"]["HEAD_SHA"].startswith("${{ github.event.pull_request.head.sha")
    # and the package: uploaded by `checks`, downloaded by `plan`, in the same run
    (package_up,) = _artifact_steps("checks", "upload-artifact")
    (package_down,) = _artifact_steps("plan", "download-artifact")
    assert package_up["name"] == package_down["name"] and "github.sha" in package_up["name"]
    assert "dist/" in plan_upload["path"]  # the apply deploys the package the plan was made with


def _doc_variables() -> set[str]:
    """The variables docs/ci.md tells the user to set: first column of its variable tables."""
    text = (REPO_ROOT / "docs" / "ci.md").read_text()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.M))


def test_every_variable_the_workflow_reads_is_in_the_docs_and_back():
    text = (WORKFLOWS / "terraform.yml").read_text()
    read = set(re.findall(r"\bvars\.([A-Za-z0-9_]+)", text))
    assert {"TF_STATE_BUCKET", "ALIBABA_CLOUD_APPLY_ROLE_ARN"} <= read  # the scan works
    documented = _doc_variables()
    assert read - documented == set(), "read by the workflow, missing from docs/ci.md's tables"
    assert documented - read == set(), "in docs/ci.md's tables, never read by the workflow"
