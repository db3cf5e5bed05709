"""The CI roles' trust policies, evaluated against the tokens GitHub issues.

`examples/ci-oidc` is planned by real Terraform against the stand-in
provider (tests/ci_standin.py), and each role's
trust policy is then evaluated the way RAM evaluates a policy's conditions:
every key of a condition must match (AND), and a key with several values
matches if any value does (OR); `StringEquals` compares exactly. The tokens
are GitHub's two subject forms for a job in an environment: the name-only
one, `repo:<owner>/<repo>:environment:<env>`, and the immutable one that
repositories created, renamed or transferred since 2026-07-15 carry,
`repo:<owner>@<owner id>/<repo>@<repo id>:environment:<env>` (GitHub
changelog 2026-04-23, "Immutable subject claims for GitHub Actions OIDC
tokens"; GitHub docs, "OpenID Connect", "Immutable subject claims").
"""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
from ci_standin import TERRAFORM, copy_example, ok, planned, standin, terraform, var_args

from imgpipe import REPO_ROOT

if TERRAFORM is None:
    pytest.skip("terraform not installed (README: Proving the Terraform)", allow_module_level=True)

ACCOUNT = "1234567890123456"  # the stand-in's alicloud_account, not used by ci-oidc
OWNER_ID, REPO_ID = "5550001", "7770002"
ISSUER = "https://token.actions.githubusercontent.com"
PROVIDER = f"acs:ram::{ACCOUNT}:oidc-provider/imgpipe-github-actions"
VARIABLES = {
    "account_id": ACCOUNT,
    "github_repository": "acme/photos",
    "github_owner_id": OWNER_ID,
    "github_repository_id": REPO_ID,
    "state_bucket": f"imgpipe-tfstate-{ACCOUNT}",
    "lock_instance": "tfl4567890123456",
    "oidc_fingerprints": ["0123456789abcdef0123456789abcdef01234567"],
}


@pytest.fixture(scope="module")
def ci_oidc(tmp_path_factory: pytest.TempPathFactory):
    """(terraform's environment, the initialised copy of examples/ci-oidc)."""
    tmp = tmp_path_factory.mktemp("ci-oidc")
    with standin(tmp) as env:
        workdir = copy_example("ci-oidc", tmp / "ci-oidc")
        ok(terraform(env, workdir, "init", "-input=false"))
        yield env, workdir


def _plan(ci_oidc, **extra: object) -> dict:
    env, workdir = ci_oidc
    return planned(env, workdir, {**VARIABLES, **extra})


@pytest.fixture(scope="module")
def blocks(ci_oidc) -> dict:
    """Planned values by resource type, as lists."""
    by_type: dict[str, list] = {}
    for address, after in _plan(ci_oidc).items():
        by_type.setdefault(address.split(".")[0], []).append(after)
    return by_type


@pytest.fixture(scope="module")
def trusts(blocks) -> dict[str, dict]:
    return {
        r["role_name"]: json.loads(r["assume_role_policy_document"])
        for r in blocks["alicloud_ram_role"]
    }


def _matches(operator: str, expected: list[str], actual: str | None) -> bool:
    if actual is None:
        return False
    if operator == "StringEquals":
        return actual in expected
    if operator == "StringLike":
        return any(fnmatch.fnmatchcase(actual, pattern) for pattern in expected)
    raise AssertionError(f"operator {operator} not evaluated by this test")


def assumable(trust: dict, claims: dict[str, str], provider: str = PROVIDER) -> bool:
    """Would RAM let a token with `claims`, from `provider`, assume the role?"""
    for statement in trust["Statement"]:
        if statement["Effect"] != "Allow" or statement["Action"] != "sts:AssumeRole":
            continue
        if provider not in statement["Principal"].get("Federated", []):
            continue
        conditions = statement.get("Condition", {})
        if all(
            _matches(op, [v] if isinstance(v, str) else v, claims.get(key))
            for op, keys in conditions.items()
            for key, v in keys.items()
        ):
            return True
    return False


def token(sub: str, *, aud: str = "sts.aliyuncs.com", iss: str = ISSUER) -> dict[str, str]:
    return {"oidc:sub": sub, "oidc:aud": aud, "oidc:iss": iss}


def name_only(env: str, repo: str = "acme/photos") -> dict[str, str]:
    return token(f"repo:{repo}:environment:{env}")


def immutable(env: str, owner_id: str = OWNER_ID, repo_id: str = REPO_ID) -> dict[str, str]:
    return token(f"repo:acme@{owner_id}/photos@{repo_id}:environment:{env}")


ENVS = ("dev", "staging", "prod")


@pytest.mark.parametrize("form", [name_only, immutable], ids=["name-only", "immutable"])
def test_each_role_is_assumable_from_its_environment_in_both_subject_forms(trusts, form):
    for env in ENVS:
        for kind, github_env in (
            ("plan", f"{env}-plan"),
            ("apply", env),
            ("smoke", f"{env}-smoke"),
        ):
            allowed = {role for role, trust in trusts.items() if assumable(trust, form(github_env))}
            assert allowed == {f"imgpipe-ci-{kind}-{env}"}, (github_env, allowed)


def test_nothing_else_assumes_a_role(trusts):
    refused = [
        name_only("prod", repo="acme/other"),  # another repository
        name_only("prod", repo="evil/photos"),  # the owner's name, taken by someone else
        immutable("prod", owner_id="9990009"),  # a recycled owner name: a different ID
        immutable("prod", repo_id="9990009"),  # a recreated repository: a different ID
        token("repo:acme/photos:ref:refs/heads/main"),  # a job without an environment
        token("repo:acme/photos:pull_request"),
        token(f"repo:acme@{OWNER_ID}/photos@{REPO_ID}:pull_request"),
        name_only("production"),  # an environment CI does not use
        {**name_only("prod"), "oidc:aud": "https://github.com/acme"},  # GitHub's default aud
        {**name_only("prod"), "oidc:iss": "https://example.invalid"},
    ]
    for claims in refused:
        assert not any(assumable(t, claims) for t in trusts.values()), claims
    # another identity provider with a matching token
    other = f"acs:ram::{ACCOUNT}:oidc-provider/other"
    assert not any(assumable(t, name_only("prod"), other) for t in trusts.values())


def test_the_evaluator_can_refuse_and_accept():
    """The evaluator itself: StringEquals is exact, values OR, keys AND."""
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Federated": [PROVIDER]},
                "Condition": {"StringEquals": {"oidc:sub": ["a", "b"], "oidc:aud": "x"}},
            }
        ]
    }
    assert assumable(trust, {"oidc:sub": "b", "oidc:aud": "x"})
    assert not assumable(trust, {"oidc:sub": "b", "oidc:aud": "y"})
    assert not assumable(trust, {"oidc:sub": "a*", "oidc:aud": "x"})
    # the policy the issue found: only the name-only form, so a new repository is denied
    old = json.loads(json.dumps(trust))
    old["Statement"][0]["Condition"]["StringEquals"]["oidc:sub"] = (
        "repo:acme/photos:environment:prod"
    )
    assert assumable(old, {**name_only("prod"), "oidc:aud": "x"})
    assert not assumable(old, {**immutable("prod"), "oidc:aud": "x"})


def _policy(blocks: dict, name: str) -> dict:
    (policy,) = [p for p in blocks["alicloud_ram_policy"] if p["policy_name"] == name]
    return json.loads(policy["policy_document"])


def _attached(blocks: dict, kind: str) -> set[str]:
    return {
        a["policy_name"]
        for a in blocks["alicloud_ram_role_policy_attachment"]
        if f"-ci-{kind}-" in a["role_name"]
    }


READ = ("Get", "List", "Describe", "Check")  # CheckRoleForProduct reads whether a role exists


def test_plan_role_reads_the_state_and_the_stack_and_nothing_else(blocks):
    """A custom policy, not ReadOnlyAccess: any same-repository pull request reaches this role."""
    assert _attached(blocks, "plan") == {"imgpipe-ci-plan"}
    statements = _policy(blocks, "imgpipe-ci-plan")["Statement"]
    actions = {a for s in statements for a in s["Action"]}
    # Terraform's OSS backend with tablestore_table set: DescribeTable is fatal if refused
    assert {"oss:GetObject", "oss:ListObjects", "ots:DescribeTable", "ots:GetRow"} <= actions
    assert all(a.split(":", 1)[1].startswith(READ) for a in actions), sorted(actions)
    unscoped = {"cms:DescribeMetricRuleList", "cms:DescribeMetricRuleTargets"}
    unscoped.add("eventbridge:CheckRoleForProduct")  # no resource-level ARN for these
    for statement in statements:
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        for resource in statement["Resource"]:
            # serving mode cdn: the domain is the user's own name, not under the
            # prefix; the account's domains, CDN's read actions only
            cdn_reads = resource == f"acs:cdn:*:{ACCOUNT}:domain/*" and all(
                x.startswith(("cdn:Describe", "cdn:ListTagResources")) for x in statement["Action"]
            )
            scoped = (
                "imgpipe-" in resource
                or resource.endswith("/table/terraform_lock")
                or f"imgpipe-tfstate-{ACCOUNT}" in resource
                or cdn_reads
            )
            assert scoped or set(statement["Action"]) <= unscoped, statement
    (lock,) = [s for s in statements if any(a.startswith("ots:") for a in s["Action"])]
    assert lock["Resource"] == [
        f"acs:ots:cn-hangzhou:{ACCOUNT}:instance/tfl4567890123456/table/terraform_lock"
    ]


def test_smoke_role_touches_only_the_smoke_tests_objects(blocks):
    assert _attached(blocks, "smoke") == {"imgpipe-ci-smoke"}
    statements = _policy(blocks, "imgpipe-ci-smoke")["Statement"]
    writes = [
        s
        for s in statements
        if any(a in s["Action"] for a in ("oss:PutObject", "oss:DeleteObject"))
    ]
    assert writes and all(r.endswith("/*imgpipe-smoke/*") for s in writes for r in s["Resource"]), (
        writes
    )
    assert not any(
        a.startswith(("ram:", "fc:", "ots:Put", "ots:Delete"))
        for s in statements
        for a in s["Action"]
    )


def _stack_types() -> set[str]:
    """Every resource and data source type of the root module and modules/."""
    found = set()
    for tf in [*REPO_ROOT.glob("*.tf"), *REPO_ROOT.glob("modules/**/*.tf")]:
        for kind, name in re.findall(r'^(resource|data) "(alicloud_\w+)"', tf.read_text(), re.M):
            found.add(name if kind == "resource" else f"data_{name}")
    return found


def test_plan_role_reads_every_type_the_stack_has(ci_oidc):
    """A type added to the stack without its read actions here would fail every plan."""
    env, workdir = ci_oidc
    ok(terraform(env, workdir, "plan", "-out=types.tfplan", *var_args(VARIABLES)))
    shown = json.loads(ok(terraform(env, workdir, "show", "-json", "types.tfplan")).stdout)
    covered = set(shown["planned_values"]["outputs"]["plan_read_types"]["value"])
    stack = _stack_types()
    assert "alicloud_oss_bucket" in stack and "data_alicloud_account" in stack  # the scan works
    assert stack - covered == set(), "add these types to plan_reads in examples/ci-oidc/main.tf"


def test_a_second_repository_shares_the_account(ci_oidc):
    """Its own prefix: no name collides; the first repository's OIDC provider is reused."""
    first = _plan(ci_oidc)
    other_provider = f"acs:ram::{ACCOUNT}:oidc-provider/imgpipe-github-actions"
    second = _plan(
        ci_oidc,
        name_prefix="shop",
        github_repository="acme/shop",
        oidc_provider_arn=other_provider,
    )
    assert not any(a.startswith("alicloud_ims_oidc_provider") for a in second)

    def names(values: dict) -> set[str]:
        return {
            v.get("role_name") or v.get("policy_name") or v.get("oidc_provider_name")
            for a, v in values.items()
            if not a.startswith("alicloud_ram_role_policy_attachment")
        }

    assert names(first) & names(second) == set()
    trusts = [
        json.loads(v["assume_role_policy_document"])
        for a, v in second.items()
        if a.startswith("alicloud_ram_role.")
    ]
    assert trusts and all(
        t["Statement"][0]["Principal"]["Federated"] == [other_provider] for t in trusts
    )
    state = json.loads(second["alicloud_ram_policy.plan"]["policy_document"])["Statement"][0][
        "Resource"
    ]
    assert state[1].endswith(f"imgpipe-tfstate-{ACCOUNT}/shop/*")  # its own state prefix


def test_apply_role_writes_the_state_and_holds_the_lock(blocks):
    apply = _attached(blocks, "apply")
    assert "imgpipe-ci-state" in apply and "imgpipe-ci-plan" not in apply
    assert "ReadOnlyAccess" not in apply and "AdministratorAccess" not in apply
    assert "AliyunRAMFullAccess" not in apply  # RAM only through the scoped policy
    statements = _policy(blocks, "imgpipe-ci-state")["Statement"]
    (lock,) = [s for s in statements if any(a.startswith("ots:") for a in s["Action"])]
    assert lock["Resource"] == [
        f"acs:ots:cn-hangzhou:{ACCOUNT}:instance/tfl4567890123456/table/terraform_lock"
    ]
    ram = _policy(blocks, "imgpipe-ci-stack-ram")
    assert all(
        "imgpipe-" in r or "eventbridge" in r for s in ram["Statement"] for r in s["Resource"]
    )


def test_lock_arn_follows_the_bootstrap_region_and_table(ci_oidc):
    values = _plan(ci_oidc, region="cn-beijing", lock_region="cn-shanghai", lock_table="locks")
    blocks = {"alicloud_ram_policy": [v for a, v in values.items() if "ram_policy." in a]}
    statements = _policy(blocks, "imgpipe-ci-state")["Statement"]
    resources = [r for s in statements for r in s["Resource"] if r.startswith("acs:ots:")]
    assert resources == [f"acs:ots:cn-shanghai:{ACCOUNT}:instance/tfl4567890123456/table/locks"]


def test_fingerprints_come_from_the_variable(blocks):
    (provider,) = blocks["alicloud_ims_oidc_provider"]
    assert provider["fingerprints"] == ["0123456789abcdef0123456789abcdef01234567"]
    assert provider["issuer_url"] == ISSUER
    assert provider["client_ids"] == ["sts.aliyuncs.com"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("oidc_fingerprints", [], "one to five SHA-1"),
        (
            "oidc_fingerprints",
            ["69:38:FD:4D:98:BA:B0:3F:AA:DB:97:B3:43:96:83:1E:37:80:AE:A1"],
            "without colons",
        ),
        ("oidc_fingerprints", ["0" * 40] * 6, "one to five"),
        ("github_owner_id", "acme", "numeric ID"),
        ("github_repository_id", "", "numeric ID"),
        ("lock_instance", "imgpipe_tflock", "Tablestore instance name"),
    ],
)
def test_variables_refuse_what_alibaba_or_github_would(ci_oidc, variable, value, message):
    env, workdir = ci_oidc

    done = terraform(env, workdir, "plan", *var_args({**VARIABLES, variable: value}))
    assert done.returncode != 0
    assert message in " ".join((done.stdout + done.stderr).split()), done.stderr[-2000:]


# ------------------------------------------------- the workflow against the trusts

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "terraform.yml"


def _role_variables() -> dict[str, str]:
    """{role kind: the GitHub variable that carries its ARN}, from ci-oidc's output descriptions."""
    text = (REPO_ROOT / "examples" / "ci-oidc" / "main.tf").read_text()
    found = re.findall(
        r'output "(\w+)_role_arns" \{\s*description = "[^"]*variable (ALIBABA_CLOUD_\w+)', text
    )
    return dict(found)


def _jobs_by_role() -> dict[str, list[tuple[str, str]]]:
    """{role kind: [(job id, its `environment:` template)]} for every job that assumes a role."""
    import yaml

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    out: dict[str, list[tuple[str, str]]] = {}
    for kind, variable in _role_variables().items():
        for job_id, job in jobs.items():
            if f"vars.{variable}" in json.dumps(job):
                out.setdefault(kind, []).append((job_id, job.get("environment", "")))
    return out


def test_every_job_that_assumes_a_role_runs_in_an_environment_its_trust_accepts(trusts):
    """A job's `environment:` renamed (say `<env>-planning`) would lock it out of its role.

    The subject GitHub puts in the job's token names the environment the job
    declares; each role's trust (from a real plan of examples/ci-oidc) must
    accept that subject, in both forms, for every environment.
    """
    jobs = _jobs_by_role()
    assert set(jobs) == {"plan", "apply", "smoke"}, jobs
    for kind, pairs in jobs.items():
        for job_id, template in pairs:
            assert template, f"job {job_id} assumes the {kind} role without an environment"
            for env in ENVS:
                github_env = template.replace("${{ needs.env.outputs.env }}", env)
                assert "${{" not in github_env, (job_id, template)
                for form in (name_only, immutable):
                    role = f"imgpipe-ci-{kind}-{env}"
                    assert assumable(trusts[role], form(github_env)), (job_id, github_env, role)
