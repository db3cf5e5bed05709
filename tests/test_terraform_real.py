"""Real Terraform, offline: validate, plan, `terraform test`, planted bugs.

`terraform` (1.11.4 in CI) reads the configuration itself; the alicloud
provider is the stand-in in tests/tfprovider/ (the provider's schema from
tests/data/alicloud/, served over the plugin protocol). One stand-in process
serves every terraform command of the session (TF_REATTACH_PROVIDERS): a
provider started per command costs ~0.7 s, and `terraform test` starts one
per run. Everything runs in a temporary copy of the repository, with a
`backend_override.tf` for local state, so nothing is written here.

The CLI is driven through python-terraform (the package the design names);
it takes its environment from os.environ, hence `_terraform_env`.

README, "Proving the Terraform without a cloud", says which tool proves what.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from tfpackage import write_package

from imgpipe import REPO_ROOT

TERRAFORM = shutil.which("terraform")
NO_TERRAFORM = (
    "terraform not installed: install Terraform 1.11.4 "
    "(https://developer.hashicorp.com/terraform/install) to run the real-Terraform tests"
)
if TERRAFORM is None:  # one line in the summary, whatever the number of tests
    pytest.skip(NO_TERRAFORM, allow_module_level=True)
# python-terraform 0.10.1 logs a failed command with the deprecated Logger.warn.
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")

STANDIN = REPO_ROOT / "tests" / "tfprovider"
ACCOUNT = "1234567890123456"  # the stand-in's alicloud_account
# Not copied into the temporary repository: data and caches Terraform never reads.
_SKIP = {".git", ".venv", ".venv-checkov", "dist", "build", ".terraform", "__pycache__"}
_SKIP_DATA = {"images", "bench", "icc", "samples", "events"}

COUNTS = {"validated configurations": 0, "planned environments": 0, "terraform test runs passed": 0}


# ------------------------------------------------------------------ session plumbing


def _copy_repo(dest: Path) -> Path:
    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in _SKIP or n.startswith((".pytest", ".ruff", ".hyp"))}
        if Path(directory) == REPO_ROOT / "tests" / "data":
            skipped |= _SKIP_DATA & set(names)
        return skipped

    shutil.copytree(REPO_ROOT, dest, ignore=ignore)
    # Local state instead of the OSS backend (override files replace the block).
    (dest / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    return dest


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory):
    """The stand-in provider, one process for the session; yields terraform's environment."""
    proc = subprocess.Popen(
        [sys.executable, str(STANDIN / "provider.py"), "--reattach"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("{"):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"the stand-in provider did not start: {err.strip()[-2000:]}")
    cli_config = tmp_path_factory.mktemp("terraform") / "cli.tfrc"
    # dev_overrides too: a command that does not reattach still gets the stand-in.
    cli_config.write_text(
        "provider_installation {\n  dev_overrides {\n"
        f'    "aliyun/alicloud" = "{STANDIN}"\n  }}\n  direct {{}}\n}}\n'
    )
    env = {
        "TF_REATTACH_PROVIDERS": line.strip(),
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "IMGPIPE_TFPROVIDER_PYTHON": sys.executable,
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }
    yield env
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    summary = os.environ.get("IMGPIPE_TF_SUMMARY")
    if summary:
        Path(summary).write_text(
            "terraform (real, offline): "
            + ", ".join(f"{n} {label}" for label, n in COUNTS.items())
            + "\n"
        )


class Run:
    def __init__(self, returncode: int, out: str, err: str, cmd: str) -> None:
        self.returncode, self.out, self.err, self.cmd = returncode, out, err, cmd

    @property
    def text(self) -> str:
        return self.out + self.err

    def ok(self) -> Run:
        assert self.returncode == 0, f"`{self.cmd}` failed:\n{self.text[-6000:]}"
        return self


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A package of the real one's size (tests/tfpackage.py), as an absolute package_dir."""
    return str(write_package(tmp_path_factory.mktemp("package")))


@pytest.fixture(scope="session")
def terraform(standin: dict[str, str]):
    from python_terraform import IsFlagged, Terraform

    def run(workdir: Path, command: str, *args: str, reattach: bool = True, **options: Any) -> Run:
        options.setdefault("no_color", IsFlagged)
        with mock.patch.dict(os.environ, standin):
            if not reattach:
                del os.environ["TF_REATTACH_PROVIDERS"]
            rc, out, err = Terraform(working_dir=str(workdir)).cmd(command, *args, **options)
        return Run(rc, out or "", err or "", f"terraform {command} {' '.join(args)}")

    run.flag = IsFlagged
    return run


@pytest.fixture(scope="session")
def repo_copy(tmp_path_factory: pytest.TempPathFactory, terraform) -> Path:
    root = _copy_repo(tmp_path_factory.mktemp("repo") / "repo")
    terraform(root, "init", input=False).ok()
    return root


def terraform_dirs() -> list[str]:
    """The root module, every module and every example, relative to the repository."""
    dirs = {"."}
    for sub in ("modules", "examples"):
        dirs |= {
            str(tf.parent.relative_to(REPO_ROOT))
            for tf in (REPO_ROOT / sub).rglob("*.tf")
            if ".terraform" not in tf.parts
        }
    return sorted(dirs)


# ------------------------------------------------------------------ terraform validate


@pytest.mark.parametrize("config", terraform_dirs())
def test_validate(config: str, repo_copy: Path, terraform) -> None:
    workdir = repo_copy / config
    if config != ".":
        terraform(workdir, "init", backend=False, input=False).ok()
    result = terraform(workdir, "validate", json=terraform.flag)
    report = json.loads(result.out)
    errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert report["valid"] and not errors, json.dumps(errors, indent=1)
    # nor a warning: `ignore_changes = [acl]` once warned "Deprecated attribute"
    # three times while `imgpipe tf-check` reported none (issue 26)
    warnings = [
        d["summary"] + ": " + d.get("detail", "")[:200] + str(d.get("range", {}).get("filename"))
        for d in report["diagnostics"]
        if d["severity"] == "warning"
        and d["summary"] != "Provider development overrides are in effect"
    ]
    assert warnings == [], warnings
    COUNTS["validated configurations"] += 1


def test_the_launcher_serves_terraform_through_dev_overrides(tmp_path: Path, terraform) -> None:
    """Without the session's process: Terraform starts tests/tfprovider/terraform-provider-alicloud.

    This is how a developer runs the stand-in by hand (tests/tfprovider/README.md).
    """
    shutil.copytree(REPO_ROOT / "modules" / "dlq", tmp_path / "dlq")
    result = terraform(tmp_path / "dlq", "validate", reattach=False).ok()
    assert "Provider development overrides are in effect" in result.text
    assert "The configuration is valid" in result.text


def test_served_schema_is_shaped_like_the_sdks(repo_copy: Path, terraform) -> None:
    """What Terraform itself reads from the stand-in (`terraform providers schema -json`)."""
    shown = terraform(repo_copy, "providers schema", json=terraform.flag).ok()
    (provider,) = json.loads(shown.out)["provider_schemas"].values()
    resources = provider["resource_schemas"]
    snapshot = json.loads((REPO_ROOT / "tests/data/alicloud/provider-schema.json").read_text())
    assert set(snapshot) - {"_source"} <= set(resources)
    for name, schema in resources.items():
        assert schema["block"]["attributes"]["id"]["computed"], name
    function = resources["alicloud_fcv3_function"]["block"]
    # timeouts: a single block with the resource's own timeouts only.
    timeouts = function["block_types"]["timeouts"]
    assert timeouts["nesting_mode"] == "single"
    assert set(timeouts["block"]["attributes"]) == {"create", "update", "delete"}
    assert "timeouts" not in resources["alicloud_oss_bucket"]["block"]["block_types"]
    # TypeList of *schema.Resource with MaxItems 1: a list block, at most one.
    code = function["block_types"]["code"]
    assert (code["nesting_mode"], code.get("max_items")) == ("list", 1)
    assert code["block"]["attributes"]["checksum"]["sensitive"]
    # Computed-only nested values are attributes, not blocks.
    assert "tracing_config" in function["attributes"]
    assert function["attributes"]["runtime"]["required"]
    # Required TypeList of *schema.Resource: min_items 1 (the SDK's "required block").
    table = resources["alicloud_ots_table"]["block"]["block_types"]["primary_key"]
    assert (table["min_items"], table["max_items"]) == (1, 4)
    rule = resources["alicloud_oss_bucket"]["block"]["block_types"]["lifecycle_rule"]
    assert rule["nesting_mode"] == "list"
    assert rule["block"]["block_types"]["expiration"]["nesting_mode"] == "set"
    assert provider["data_source_schemas"]["alicloud_account"]["block"]["attributes"]["id"]


def test_apply_then_plan_has_no_changes(tmp_path: Path, terraform, package_dir: str) -> None:
    """Apply fills the unknowns with the stand-in's fakes; a second plan must be empty.

    A configuration that cannot converge (timestamp(), uuid(), an argument
    that differs from what it reads back) shows up here as a diff.
    """
    root = _copy_repo(tmp_path / "repo")
    terraform(root, "init", input=False).ok()
    variables = {"env": "prod", "package_dir": package_dir}
    terraform(root, "apply", var=variables, auto_approve=terraform.flag, input=False).ok()
    state = json.loads((root / "terraform.tfstate").read_text())
    function = next(r for r in state["resources"] if r["type"] == "alicloud_fcv3_function")
    attributes = function["instances"][0]["attributes"]
    assert attributes["function_arn"] == (
        f"acs:fc:cn-hangzhou:{ACCOUNT}:functions/{attributes['function_name']}"
    )
    again = terraform(root, "plan", var=variables, detailed_exitcode=terraform.flag, input=False)
    assert again.returncode == 0, again.text[-4000:]
    assert "No changes." in again.out


# ------------------------------------------------------------------ terraform plan


@pytest.fixture(scope="session")
def plans(repo_copy: Path, terraform, package_dir: str) -> dict[str, dict[str, Any]]:
    """`terraform show -json` of the root's plan for dev and prod."""
    out = {}
    for env in ("dev", "prod"):
        terraform(
            repo_copy,
            "plan",
            var={"env": env, "package_dir": package_dir},
            out=f"{env}.tfplan",
            input=False,
        ).ok()
        shown = terraform(repo_copy, "show", f"{env}.tfplan", json=terraform.flag).ok()
        out[env] = json.loads(shown.out)
        COUNTS["planned environments"] += 1
    return out


def _resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in plan["resource_changes"] if r["mode"] == "managed"]


def _one(plan: dict[str, Any], rtype: str, address_part: str = "") -> dict[str, Any]:
    found = [
        r["change"]["after"]
        for r in _resources(plan)
        if r["type"] == rtype and address_part in r["address"]
    ]
    assert len(found) == 1, f"{rtype} {address_part}: {len(found)} planned"
    return found[0]


def _counts(plan: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in _resources(plan):
        assert r["change"]["actions"] == ["create"], r["address"]
        counts[r["type"]] = counts.get(r["type"], 0) + 1
    return dict(sorted(counts.items()))


# What a first apply creates, per environment. A change here is a change to
# every user's first apply: update it together with the README's resource list.
EXPECTED_COMMON = {
    "alicloud_fcv3_async_invoke_config": 1,
    "alicloud_fcv3_function": 1,
    "alicloud_fcv3_trigger": 1,
    "alicloud_log_project": 1,
    "alicloud_log_store": 1,
    "alicloud_log_store_index": 1,
    "alicloud_message_service_queue": 1,
    "alicloud_oss_bucket": 4,
    "alicloud_oss_bucket_acl": 4,
    "alicloud_oss_bucket_object": 1,
    "alicloud_oss_bucket_public_access_block": 4,
    "alicloud_ram_policy": 1,
    "alicloud_ram_role": 1,
    "alicloud_ram_role_policy_attachment": 1,
}


def test_plan_resource_counts_per_environment(plans) -> None:
    hint = "a first apply creates something else: update EXPECTED_COMMON if that is intended"
    assert _counts(plans["dev"]) == EXPECTED_COMMON, hint
    prod = {**EXPECTED_COMMON, "alicloud_cms_alarm": 2}
    assert _counts(plans["prod"]) == dict(sorted(prod.items())), hint


def test_alarms_only_in_prod(plans) -> None:
    for env, plan in plans.items():
        alarms = [r["address"] for r in _resources(plan) if r["type"] == "alicloud_cms_alarm"]
        assert all(a.startswith("module.imgpipe.module.alarms[0].") for a in alarms)
        assert len(alarms) == (2 if env == "prod" else 0), (env, alarms)
        for r in _resources(plan):
            if r["type"] == "alicloud_cms_alarm":
                assert r["change"]["after"]["name"].startswith(f"imgpipe-{env}-")


def test_trigger_invokes_the_function(plans) -> None:
    for plan in plans.values():
        function = _one(plan, "alicloud_fcv3_function")
        trigger = _one(plan, "alicloud_fcv3_trigger")
        assert trigger["function_name"] == function["function_name"]
        assert trigger["trigger_type"] == "eventbridge"
        config = json.loads(trigger["trigger_config"])
        pattern = json.loads(config["eventRuleFilterPattern"])
        source = _one(plan, "alicloud_oss_bucket", ".source")["bucket"]
        assert pattern["data"]["oss"]["bucket"]["name"] == [source]
        queue = _one(plan, "alicloud_message_service_queue")["queue_name"]
        assert config["runOptions"]["deadLetterQueue"]["Arn"].endswith(f":/queues/{queue}")


def test_async_failures_go_to_the_queue(plans) -> None:
    for env, plan in plans.items():
        function = _one(plan, "alicloud_fcv3_function")
        config = _one(plan, "alicloud_fcv3_async_invoke_config")
        queue = _one(plan, "alicloud_message_service_queue")["queue_name"]
        assert config["function_name"] == function["function_name"]
        (destinations,) = config["destination_config"]
        assert [d["destination"] for d in destinations["on_failure"]] == [
            f"acs:mns:cn-hangzhou:{ACCOUNT}:/queues/{queue}/messages"
        ]
        assert destinations["on_success"] == [], env


def test_policy_resources_name_the_buckets(plans) -> None:
    def oss_objects(arns: list[str]) -> list[str]:
        """acs:oss:<region>:<account>:<bucket>/<key>: the bucket/key part, in this account."""
        parts = [arn.split(":", 4) for arn in arns]
        assert all(p[:2] == ["acs", "oss"] and p[3] == ACCOUNT for p in parts), arns
        return [p[4] for p in parts]

    for plan in plans.values():
        source, target = (
            _one(plan, "alicloud_oss_bucket", f".{name}")["bucket"] for name in ("source", "target")
        )
        policy = json.loads(_one(plan, "alicloud_ram_policy")["policy_document"])
        statements = {s["Sid"]: s for s in policy["Statement"]}
        assert oss_objects(statements["ReadUploads"]["Resource"]) == [f"{source}/uploads/*"]
        # The literal start of key_template for every variant (RAM's 6,144
        # characters would not hold one ARN per variant), and the records.
        assert oss_objects(statements["WriteVariantsAndRejections"]["Resource"]) == [
            f"{target}/resized/*",
            f"{target}/rejected/*",
        ]
        for statement in policy["Statement"]:
            assert "*" not in statement["Action"] and statement["Resource"] != ["*"]


def test_function_environment_is_what_the_handler_accepts(plans) -> None:
    from fc_handler.settings import Settings

    for plan in plans.values():
        env = _one(plan, "alicloud_fcv3_function")["environment_variables"]
        settings = Settings.from_env(env)
        assert settings.source_bucket == _one(plan, "alicloud_oss_bucket", ".source")["bucket"]
        assert settings.target_bucket == _one(plan, "alicloud_oss_bucket", ".target")["bucket"]
        assert [v.name for v in settings.processor.variants] == ["large", "medium", "small"]
        assert settings.max_object_bytes == 50 * 1024 * 1024


# ------------------------------------------------------------------ terraform test


def test_native_terraform_test_suite(repo_copy: Path, terraform) -> None:
    """tests/*.tftest.hcl under `terraform test` (mock_provider, schema from the stand-in)."""
    result = terraform(repo_copy, "test").ok()
    match = re.search(r"Success! (\d+) passed, 0 failed", result.out)
    assert match, result.text[-3000:]
    files = sorted(REPO_ROOT.glob("tests/*.tftest.hcl"))
    runs = sum(len(re.findall(r'^run "', f.read_text(), re.M)) for f in files)
    assert int(match.group(1)) == runs
    COUNTS["terraform test runs passed"] += runs


def test_every_validated_variable_has_a_failing_run() -> None:
    """Each variable with a validation block is exercised by tests/variables.tftest.hcl."""
    validated = set(
        re.findall(
            r'^variable "(\w+)" \{(?:(?!^\}).)*?^\s+validation \{',
            (REPO_ROOT / "variables.tf").read_text(),
            re.M | re.S,
        )
    )
    text = (REPO_ROOT / "tests" / "variables.tftest.hcl").read_text()
    expected = set(re.findall(r"expect_failures = \[var\.(\w+)\]", text))
    assert validated, "no validation blocks found: has variables.tf moved?"
    assert sorted(validated - expected) == []


# ------------------------------------------------------------------ planted bugs

# (file, find, replace, command, what terraform must say, line the bug is on)
PLANTED = {
    "unknown argument": (
        "modules/function/main.tf",
        "  disk_size             = 512\n",
        "  disk_size             = 512\n  disk_size_gb          = 1\n",
        "validate",
        'An argument named "disk_size_gb" is not expected here.',
        "disk_size_gb",
    ),
    "string for a number": (
        "modules/function/main.tf",
        "  disk_size             = 512\n",
        '  disk_size             = "half a gigabyte"\n',
        "validate",
        'Inappropriate value for attribute "disk_size": a number is required.',
        "disk_size",
    ),
    "attribute the resource does not have": (
        "modules/function/outputs.tf",
        "alicloud_fcv3_function.this.function_arn",
        "alicloud_fcv3_function.this.arn",
        "validate",
        'This object has no argument, nested block, or exported attribute named "arn"',
        "alicloud_fcv3_function.this.arn",
    ),
    "required argument removed": (
        "modules/function/main.tf",
        '  handler               = "index.handler"\n',
        "",
        "validate",
        'The argument "handler" is required, but no definition was found.',
        'resource "alicloud_fcv3_function" "this"',
    ),
    "value outside the allowed list": (
        "modules/iam/main.tf",
        'policy_type = "Custom"',
        'policy_type = "Customer"',
        "validate",
        'expected policy_type to be one of ["System" "Custom"], got Customer',
        "policy_type",
    ),
    # The schema's own validations, enforced by the stand-in as the provider does.
    "value outside the allowed range": (
        "modules/dlq/main.tf",
        "  maximum_message_size     = 65536\n",
        "  maximum_message_size     = 70000\n",
        "validate",
        "expected maximum_message_size to be in the range (1024 - 65536), got 70000",
        "maximum_message_size",
    ),
    "value not matching the pattern": (
        "modules/function/main.tf",
        "  function_name         = var.function_name\n",
        '  function_name         = "images!"\n',
        "validate",
        "invalid value for function_name (The function name.",
        '"images!"',
    ),
    "conflicting arguments": (
        "modules/iam/main.tf",
        "  assume_role_policy_document = jsonencode(local.trust)\n",
        "  assume_role_policy_document = jsonencode(local.trust)\n"
        "  document                    = jsonencode(local.trust)\n",
        "validate",
        '"assume_role_policy_document": conflicts with document',
        "assume_role_policy_document",
    ),
    "both of exactly-one-of": (
        "modules/function/main.tf",
        "  logstore_name         = var.logstore\n",
        '  logstore_name         = "function"\n  name                  = "function"\n',
        "validate",
        '"logstore_name": only one of `logstore_name,name` can be specified, '
        "but `logstore_name,name` were specified.",
        'logstore_name         = "function"',
    ),
    # The reference design's mistakes (formerly proven by imgpipe tf-check).
    "two blocks where one is allowed": (
        "modules/function/main.tf",
        "  log_config {\n",
        '  code { # planted\n    zip_file = "x"\n  }\n\n  log_config {\n',
        "validate",
        'No more than 1 "code" blocks are allowed',
        "# planted",
    ),
    "block written as an argument": (
        "modules/function/main.tf",
        "  log_config {\n",
        "  log_config = {\n",
        "validate",
        'Did you mean to define a block of type "log_config"?',
        "log_config = {",
    ),
    "read-only attribute set": (
        "modules/function/main.tf",
        "  disk_size             = 512\n",
        "  disk_size             = 512\n  code_size             = 1\n",
        "validate",
        '"code_size": this field cannot be set',
        "code_size",
    ),
    "unknown module input": (
        "modules/imgpipe/main.tf",
        "  message_retention_seconds = var.dlq_retention_seconds\n",
        "  message_retention_seconds = var.dlq_retention_seconds\n  retention_days = 7\n",
        "validate",
        'An argument named "retention_days" is not expected here.',
        "retention_days = 7",
    ),
    "missing module input": (
        "modules/imgpipe/main.tf",
        '  queue_name                = "${local.name}-dead-letters"\n',
        "",
        "validate",
        'The argument "queue_name" is required, but no definition was found.',
        'module "dlq"',
    ),
    "missing module output": (
        "modules/imgpipe/outputs.tf",
        "module.dlq.queue_arn",
        "module.dlq.queue_url",
        "validate",
        'This object does not have an attribute named "queue_url".',
        "module.dlq.queue_url",
    ),
    "for_each over a computed attribute": (
        "modules/storage/main.tf",
        'resource "alicloud_oss_bucket_acl" "this" {\n  for_each = local.buckets\n',
        'resource "alicloud_oss_bucket_acl" "this" {\n'
        "  for_each = { for b in [alicloud_oss_bucket.source, alicloud_oss_bucket.target] :"
        " b.intranet_endpoint => b.bucket }\n",
        "plan",
        "Invalid for_each argument",
        "b.intranet_endpoint",
    ),
}


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_planted_bug_fails_naming_the_place(
    bug: str, tmp_path: Path, terraform, package_dir: str
) -> None:
    path, find, replace, command, message, marker = PLANTED[bug]
    root = _copy_repo(tmp_path / "repo")
    source = root / path
    text = source.read_text()
    assert text.count(find) == 1, f"{path} changed: update the planted bug {bug!r}"
    source.write_text(text.replace(find, replace))
    # The line Terraform must point at: where the planted text (or its block) is.
    line = next(
        n for n, content in enumerate(source.read_text().splitlines(), 1) if marker in content
    )
    terraform(root, "init", input=False).ok()
    if command == "plan":
        result = terraform(root, "plan", var={"env": "dev", "package_dir": package_dir})
    else:
        result = terraform(root, "validate")
    assert result.returncode != 0, f"{bug}: terraform {command} passed"
    text = " ".join(result.text.split())
    assert " ".join(message.split()) in text, result.text[-3000:]
    assert f"on {path} line {line}" in result.text, result.text[-3000:]


# ------------------------------------------------------------------ the cloud's limits
# docs/limits.md lists each limit, its source and where it is enforced. The
# stand-in refuses, like the real provider and API, messages over 4 MiB, RAM
# policies over 6,144 characters, FC environments over 4 KB and more than 5
# expressions in an event pattern field; the plans below meet them with a
# package of the real one's size and the largest values the variables take.

MIB = 1024 * 1024
INLINE_LIMIT_BYTES = 1_032_192  # modules/function/main.tf: a third of 4 MiB, less 64 KiB, as a zip


@pytest.fixture(scope="session")
def repo_with_package(repo_copy: Path, package_dir: str) -> Path:
    """The repository copy with the real-size package where `make package` puts it."""
    shutil.copytree(package_dir, repo_copy / "dist", dirs_exist_ok=True)
    return repo_copy


@pytest.mark.parametrize(("example", "stacks"), [("minimal", 1), ("complete", 1), ("multi-env", 2)])
def test_examples_plan_with_a_real_size_package(
    example: str, stacks: int, repo_with_package: Path, terraform
) -> None:
    """`make package`, then a plan of each example: the code goes through OSS, never inline."""
    workdir = repo_with_package / "examples" / example
    terraform(workdir, "init", backend=False, input=False).ok()
    terraform(workdir, "plan", out="example.tfplan", input=False).ok()
    plan = json.loads(terraform(workdir, "show", "example.tfplan", json=terraform.flag).ok().out)
    objects = [
        r["change"]["after"] for r in _resources(plan) if r["type"] == "alicloud_oss_bucket_object"
    ]
    functions = [
        r["change"]["after"] for r in _resources(plan) if r["type"] == "alicloud_fcv3_function"
    ]
    assert len(objects) == len(functions) == stacks
    manifest = json.loads((repo_with_package / "dist" / "function.json").read_text())
    assert manifest["size"] >= 20 * MIB  # what `make package` builds, not a toy
    for obj, function in zip(objects, functions):
        assert obj["key"] == f"{function['function_name']}/{manifest['sha256']}.zip"
        (code,) = function["code"]
        assert code["zip_file"] is None and code["checksum"] == manifest["crc64"]
        assert code["oss_object_name"] == obj["key"]


def _plan_with(root: Path, terraform, name: str, variables: dict[str, Any], **options) -> Run:
    var_file = root / f"{name}.tfvars.json"
    var_file.write_text(json.dumps(variables))
    return terraform(root, "plan", var_file=str(var_file), input=False, **options)


def _longest_names(package_dir: str) -> dict[str, Any]:
    """The longest name parts and prefixes variables.tf accepts."""
    return {
        "env": "staging",
        "name_prefix": "a" * 15,
        "account_id": "9" * 20,
        "package_dir": package_dir,
        "source_prefix": "s" * 255 + "/",
        "rejected_prefix": "r" * 255 + "/",
        "key_template": "k" * 233 + "/{variant}/{path}.{ext}",
        "watermark": {"text": "w" * 200},
        "kms_key_id": "k" * 36,
        "enable_alarms": True,
    }


def _variants(count: int) -> list[dict[str, Any]]:
    return [
        {"name": f"{i:02d}" + "v" * 62, "width": 16384, "height": 16384,
         "formats": ["jpeg", "webp", "avif", "png"]}
        for i in range(count)
    ]  # fmt: skip


def test_the_longest_accepted_values_plan_within_every_limit(
    repo_copy: Path, terraform, package_dir: str
) -> None:
    """Longest names and prefixes, a KMS key, alarms, and as many long variants as 4 KB holds."""
    variables = {**_longest_names(package_dir), "variants": _variants(11)}
    result = _plan_with(repo_copy, terraform, "longest", variables, out="l.tfplan").ok()
    assert "Plan:" in result.out
    # ... and the policy the stand-in accepted is the one RAM gets: under 6,144
    shown = json.loads(terraform(repo_copy, "show", "l.tfplan", json=terraform.flag).ok().out)
    policy = _one(shown, "alicloud_ram_policy")["policy_document"]
    assert 3000 < len(policy) <= 6144, len(policy)


def test_more_variants_than_fcs_environment_holds_are_refused_naming_the_limit(
    repo_copy: Path, terraform, package_dir: str
) -> None:
    """24 variants of 64-character names in four formats: 11,911 policy characters before."""
    variables = {**_longest_names(package_dir), "variants": _variants(24)}
    result = _plan_with(repo_copy, terraform, "too-many", variables)
    assert result.returncode != 0
    text = " ".join(result.text.split())
    assert "FC allows 4 KB in all (docs/limits.md)" in text, result.text[-3000:]
    assert "on modules/function/main.tf line" in result.text
    assert "received message larger than max" not in text


def test_inline_code_at_the_limit_creates_and_updates_within_4_mib(
    tmp_path: Path, terraform
) -> None:
    """An update carries the code three times (prior, planned, config): still under 4 MiB."""
    root = _copy_repo(tmp_path / "repo")
    terraform(root, "init", input=False).ok()
    for seed in (1, 2):  # create, then a new package of the same size: an update
        package = write_package(tmp_path / f"p{seed}", INLINE_LIMIT_BYTES, seed=seed)
        variables = {"env": "dev", "package_dir": str(package), "code_upload": "inline"}
        terraform(root, "apply", var=variables, auto_approve=terraform.flag, input=False).ok()
    state = json.loads((root / "terraform.tfstate").read_text())
    (function,) = [r for r in state["resources"] if r["type"] == "alicloud_fcv3_function"]
    (code,) = function["instances"][0]["attributes"]["code"]
    assert len(code["zip_file"]) == 1_376_256 and code["oss_object_name"] is None


# (file, find, replace, extra variables, what terraform must say, line the error names)
PLANTED_LIMITS = {
    "inline package of 5 MiB": (
        None,
        "",
        "",
        {"code_upload": "inline", "package_mib": 5},
        "sends the package base64-encoded in the provider's gRPC messages",
        ("modules/function/main.tf", "local.inline_size <= local.inline_limit"),
    ),
    "inline package of 5 MiB, past the module's own check": (
        "modules/function/main.tf",
        "      condition     = !local.inline || local.inline_size <= local.inline_limit\n",
        "      condition     = local.inline || !local.inline\n",
        {"code_upload": "inline", "package_mib": 5},
        # what the real provider says (issue #7355), in grpc-python's words;
        # a gRPC error carries no place, which is why the module checks first
        "Received message larger than max (6992406 vs. 4194304)",
        None,
    ),
    "sixth expression in a pattern field": (
        "modules/events/main.tf",
        "        object = { key = [{ prefix = var.source_prefix }] }\n",
        "        object = { key = [for p in range(6) : "
        '{ prefix = "${var.source_prefix}${p}" }] }\n',
        {},
        "EventBridge allows 5 per field in stringExpression mode",
        ("modules/events/main.tf", "n <= 5]"),
    ),
    "sixth expression in a field the module does not count": (
        "modules/events/main.tf",
        '    source = ["acs.oss"]\n',
        '    source  = ["acs.oss"]\n'
        '    subject = [for s in [".a", ".b", ".c", ".d", ".e", ".f"] : { suffix = s }]\n',
        {},
        "EventBridge refuses this event pattern: 6 expressions in field 'subject'",
        ("modules/events/main.tf", "trigger_config = jsonencode(local.trigger_config)"),
    ),
    "policy past 6,144 characters": (
        "modules/iam/main.tf",
        '        Resource = ["acs:log:${var.region}:${var.account_id}:project/${var.log_project}'
        '/logstore/${var.logstore}"]\n',
        '        Resource = [for i in range(60) : "acs:log:${var.region}:${var.account_id}:project/'
        '${var.log_project}/logstore/${var.logstore}-${i}"]\n',
        {},
        "RAM allows 6,144 (docs/limits.md)",
        ("modules/iam/main.tf", "length(jsonencode(local.policy)) <= 6144"),
    ),
    "policy past 6,144 characters, past the module's own check": (
        "modules/iam/main.tf",
        "      condition     = length(jsonencode(local.policy)) <= 6144\n",
        "      condition     = local.policy != null\n",
        {"planted_policy": True},
        "RAM CreatePolicy refuses this policy_document",
        ("modules/iam/main.tf", "policy_document = jsonencode(local.policy)"),
    ),
}


@pytest.mark.parametrize("bug", sorted(PLANTED_LIMITS))
def test_a_planted_limit_breach_is_caught_naming_the_place(
    bug: str, tmp_path: Path, terraform, package_dir: str
) -> None:
    path, find, replace, extra, message, place = PLANTED_LIMITS[bug]
    root = _copy_repo(tmp_path / "repo")
    edits = [(path, find, replace)] if path else []
    if extra.pop("planted_policy", False):  # the same long policy as the bug above it
        edits.append(PLANTED_LIMITS["policy past 6,144 characters"][:3])
    for file, old, new in edits:
        text = (root / file).read_text()
        assert text.count(old) == 1, f"{file} changed: update the planted bug {bug!r}"
        (root / file).write_text(text.replace(old, new))
    variables: dict[str, Any] = {"env": "dev", "package_dir": package_dir}
    if mib := extra.pop("package_mib", None):
        variables["package_dir"] = str(write_package(tmp_path / "package", mib * MIB))
    variables.update(extra)
    terraform(root, "init", input=False).ok()
    result = terraform(root, "plan", var=variables, input=False)
    assert result.returncode != 0, f"{bug}: terraform plan passed"
    text = " ".join(result.text.split())
    assert " ".join(message.split()) in text, result.text[-3000:]
    if place:
        where, marker = place
        lines = (root / where).read_text().splitlines()
        line = next(n for n, content in enumerate(lines, 1) if marker in content)
        assert f"on {where} line {line}" in result.text, result.text[-3000:]
