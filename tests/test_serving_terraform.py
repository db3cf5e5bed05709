"""The serving option (variable `serving`, docs/serving.md) under real Terraform, offline.

Plans through the stand-in provider (tests/tfprovider/), with a package of
the real one's size (tests/tfpackage.py), as tests/test_terraform_real.py
does; its session fixtures are reused here. What is proved: each mode plans
what docs/serving.md says and nothing more, the bucket stays private in
every mode, the function's role gets cdn:RefreshObjectCaches on that one
domain only in cdn mode, the longest accepted values still fit RAM's 6,144
characters, apply converges, and the stand-in refuses what CDN refuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_terraform_real import (  # noqa: F401 - session fixtures, reused
    ACCOUNT,
    _copy_repo,
    _longest_names,
    _one,
    _plan_with,
    _resources,
    package_dir,
    repo_copy,
    standin,
    terraform,
)

DOMAIN = "img.example.com"
REQUIRED = (
    'terraform {\n  required_providers {\n    alicloud = { source = "aliyun/alicloud" }\n  }\n}\n'
)
CDN = {"mode": "cdn", "cdn_domain": DOMAIN, "cdn_scope": "global"}
# python-terraform 0.10.1 logs a failed command with the deprecated Logger.warn.
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
CDN_TYPES = {"alicloud_cdn_domain_new", "alicloud_cdn_domain_config"}


def _plan(root: Path, terraform, name: str, variables: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    _plan_with(root, terraform, name, variables, out=f"{name}.tfplan").ok()
    return json.loads(terraform(root, "show", f"{name}.tfplan", json=terraform.flag).ok().out)


def _grants(plan: dict[str, Any]) -> set[tuple[str, str]]:
    doc = json.loads(_one(plan, "alicloud_ram_policy", "module.iam")["policy_document"])
    return {(a, r) for s in doc["Statement"] for a in s["Action"] for r in s["Resource"]}


def _outputs(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get("value") for k, v in plan["planned_values"]["outputs"].items()}


@pytest.fixture(scope="module")
def modes(repo_copy: Path, terraform, package_dir: str) -> dict[str, dict[str, Any]]:  # noqa: F811
    base = {"env": "prod", "package_dir": package_dir}
    return {
        "default": _plan(repo_copy, terraform, "serving-default", base),
        "none": _plan(repo_copy, terraform, "serving-none", {**base, "serving": {"mode": "none"}}),
        "cdn": _plan(repo_copy, terraform, "serving-cdn", {**base, "serving": CDN}),
        "cdn-role": _plan(
            repo_copy,
            terraform,
            "serving-cdn-role",
            {**base, "serving": {**CDN, "create_cdn_origin_role": True, "cdn_cert_id": "12345"}},
        ),
    }


def test_signed_url_is_the_default_and_creates_nothing_billed(modes) -> None:
    default, none = modes["default"], modes["none"]
    types = {r["type"] for r in _resources(default)}
    assert not types & CDN_TYPES
    assert {r["address"] for r in _resources(default)} == {r["address"] for r in _resources(none)}
    out = _outputs(default)
    target = _one(default, "alicloud_oss_bucket", ".target")["bucket"]
    assert out["serving_mode"] == "signed_url"
    assert out["variants_base_url"] == f"https://{target}.oss-cn-hangzhou.aliyuncs.com/"
    assert out["cdn_domain"] is None and out["cdn_cname"] is None
    signer = json.loads(out["serving_signer_policy"])
    (statement,) = signer["Statement"]
    assert statement["Action"] == ["oss:GetObject"]  # read, and only the variants
    assert statement["Resource"] == [f"acs:oss:*:{ACCOUNT}:{target}/resized/*"]
    assert json.loads(out["pipeline_config"])["serving"] == {
        "mode": "signed_url",
        "variants_base_url": out["variants_base_url"],
        "cdn_domain": None,
    }
    none_out = _outputs(none)
    assert (none_out["serving_mode"], none_out["variants_base_url"]) == ("none", None)
    assert none_out["serving_signer_policy"] is None


@pytest.mark.parametrize("mode", ["default", "none"])
def test_without_a_cdn_the_function_neither_refreshes_nor_may(modes, mode) -> None:
    plan = modes[mode]
    env = _one(plan, "alicloud_fcv3_function")["environment_variables"]
    assert "CDN_REFRESH_DOMAIN" not in env
    assert not any(action.startswith("cdn:") for action, _ in _grants(plan))


def test_cdn_mode_fronts_the_private_bucket_with_a_private_origin(modes) -> None:
    plan = modes["cdn"]
    target = _one(plan, "alicloud_oss_bucket", ".target")["bucket"]
    domain = _one(plan, "alicloud_cdn_domain_new")
    assert (domain["domain_name"], domain["cdn_type"], domain["scope"]) == (DOMAIN, "web", "global")
    (source,) = domain["sources"]
    assert source == {
        "type": "oss",
        "content": f"{target}.oss-cn-hangzhou.aliyuncs.com",
        "port": 443,
        "priority": 20,
        "weight": 10,
    }
    config = _one(plan, "alicloud_cdn_domain_config")
    assert (config["domain_name"], config["function_name"]) == (DOMAIN, "l2_oss_key")
    assert config["function_args"] == [{"arg_name": "private_oss_auth", "arg_value": "on"}]
    # no public bucket: every bucket keeps its private ACL and its public access block
    acls = [
        r["change"]["after"] for r in _resources(plan) if r["type"] == "alicloud_oss_bucket_acl"
    ]
    assert acls and {a["acl"] for a in acls} == {"private"}
    blocks = [
        r["change"]["after"]
        for r in _resources(plan)
        if r["type"] == "alicloud_oss_bucket_public_access_block"
    ]
    assert len(blocks) == len(acls) and all(b["block_public_access"] for b in blocks)
    # without create_cdn_origin_role: the account's own origin role, nothing created
    assert not any(
        r["change"]["after"].get("role_name") == "AliyunCDNAccessingPrivateOSSRole"
        for r in _resources(plan)
        if r["type"] == "alicloud_ram_role"
    )
    out = _outputs(plan)
    assert (out["serving_mode"], out["cdn_domain"]) == ("cdn", DOMAIN)
    assert out["variants_base_url"] == f"http://{DOMAIN}/"  # no certificate: HTTP
    assert out["serving_signer_policy"] is None


def test_cdn_mode_lets_the_function_refresh_that_domain_and_nothing_else(modes) -> None:
    plan = modes["cdn"]
    env = _one(plan, "alicloud_fcv3_function")["environment_variables"]
    assert env["CDN_REFRESH_DOMAIN"] == DOMAIN
    cdn = {(a, r) for a, r in _grants(plan) if a.startswith("cdn:")}
    assert cdn == {("cdn:RefreshObjectCaches", f"acs:cdn:*:{ACCOUNT}:domain/{DOMAIN}")}
    # and everything else the role may do is unchanged by the mode
    assert _grants(plan) - cdn == _grants(modes["default"])


def test_the_origin_role_when_asked_reads_the_variants_only(modes) -> None:
    plan = modes["cdn-role"]
    target = _one(plan, "alicloud_oss_bucket", ".target")["bucket"]
    role = _one(plan, "alicloud_ram_role", "module.serving")
    assert role["role_name"] == "AliyunCDNAccessingPrivateOSSRole"
    trust = json.loads(role["assume_role_policy_document"])
    assert trust["Statement"][0]["Principal"] == {"Service": ["cdn.aliyuncs.com"]}
    policy = json.loads(_one(plan, "alicloud_ram_policy", "module.serving")["policy_document"])
    (statement,) = policy["Statement"]
    assert (statement["Action"], statement["Resource"]) == (
        ["oss:GetObject"],
        [f"acs:oss:*:{ACCOUNT}:{target}/resized/*"],
    )
    attached = _one(plan, "alicloud_ram_role_policy_attachment", "module.serving")
    assert attached["role_name"] == "AliyunCDNAccessingPrivateOSSRole"
    (cert,) = _one(plan, "alicloud_cdn_domain_new")["certificate_config"]
    assert (cert["cert_id"], cert["cert_type"], cert["server_certificate_status"]) == (
        "12345",
        "cas",
        "on",
    )
    assert _outputs(plan)["variants_base_url"] == f"https://{DOMAIN}/"


# The longest domain variables.tf accepts: 67 characters (alicloud_cdn_domain_config's
# StringLenBetween(5, 67)), with a label of the longest, 63.
LONGEST_DOMAIN = "a" * 63 + ".com"


def test_the_longest_values_with_the_longest_cdn_domain_fit_rams_6144(
    repo_copy: Path,  # noqa: F811
    terraform,  # noqa: F811
    package_dir: str,  # noqa: F811
) -> None:
    assert len(LONGEST_DOMAIN) == 67
    variables = {
        **_longest_names(package_dir),
        "serving": {"mode": "cdn", "cdn_domain": LONGEST_DOMAIN, "create_cdn_origin_role": True},
    }
    plan = _plan(repo_copy, terraform, "serving-longest", variables)
    policy = _one(plan, "alicloud_ram_policy", "module.iam")["policy_document"]
    assert 3000 < len(policy) <= 6144, len(policy)
    print(f"\nfunction policy, longest values and a 67-character CDN domain: {len(policy)} chars")
    env = _one(plan, "alicloud_fcv3_function")["environment_variables"]
    assert env["CDN_REFRESH_DOMAIN"] == LONGEST_DOMAIN


def test_apply_in_cdn_mode_converges(tmp_path: Path, terraform, package_dir: str) -> None:  # noqa: F811
    root = _copy_repo(tmp_path / "repo")
    terraform(root, "init", input=False).ok()
    var_file = root / "cdn.tfvars.json"
    var_file.write_text(json.dumps({"env": "dev", "package_dir": package_dir, "serving": CDN}))
    options = {"var_file": str(var_file), "input": False}
    terraform(root, "apply", auto_approve=terraform.flag, **options).ok()
    shown = json.loads(terraform(root, "output", json=terraform.flag).ok().out)
    assert shown["cdn_cname"]["value"].startswith(f"{DOMAIN}.")  # known after apply
    again = terraform(root, "plan", detailed_exitcode=terraform.flag, **options)
    assert again.returncode == 0, again.text[-4000:]


BAD_DOMAINS = {
    "a .sh suffix": ("img.example.sh", "suffixes .sh and .tel are not supported"),
    "dashes 3 and 4": ("xn--abc.example.com", "'-' in both the 3rd and 4th place"),
    "upper case": ("IMG.example.com", "labels of 1-63 lower-case letters"),
    "a single label": ("localhost", "labels of 1-63 lower-case letters"),
}


@pytest.mark.parametrize("case", sorted(BAD_DOMAINS))
def test_the_stand_in_refuses_the_domains_cdn_refuses(
    case: str,
    repo_copy: Path,  # noqa: F811
    terraform,  # noqa: F811
) -> None:
    """modules/serving directly (the stack's variable refuses these first)."""
    name, why = BAD_DOMAINS[case]
    work = repo_copy / "modules" / "serving"
    terraform(work, "init", backend=False, input=False).ok()
    variables = {
        "mode": "cdn",
        "cdn_domain": name,
        "region": "cn-hangzhou",
        "account_id": ACCOUNT,
        "target_bucket": "imgpipe-dev-out-1",
        "variants_prefix": "resized/",
        "tags": {},
    }
    result = _plan_with(work, terraform, f"bad-{case.replace(' ', '-')}", variables)
    assert result.returncode != 0
    text = " ".join(result.text.split())
    assert f"CDN refuses domain_name {name!r}: {why}" in text, result.text[-2000:]


ORIGINS = {
    "internal endpoint": "b.oss-cn-hangzhou-internal.aliyuncs.com",
    "bucket without endpoint": "imgpipe-dev-out-1",
    "an ipaddr that is a name": None,
}


@pytest.mark.parametrize("case", sorted(ORIGINS))
def test_the_stand_in_refuses_origins_cdn_refuses(case: str, tmp_path: Path, terraform) -> None:  # noqa: F811
    content = ORIGINS[case]
    kind, content = ("ipaddr", "origin.example.com") if content is None else ("oss", content)
    (tmp_path / "main.tf").write_text(
        f"{REQUIRED}"
        'resource "alicloud_cdn_domain_new" "x" {\n'
        '  domain_name = "img.example.com"\n  cdn_type = "web"\n'
        f'  sources {{\n    type = "{kind}"\n    content = "{content}"\n    port = 443\n  }}\n}}\n'
    )
    terraform(tmp_path, "init", backend=False, input=False).ok()
    result = terraform(tmp_path, "plan", input=False)
    assert result.returncode != 0
    assert f"CDN refuses a {kind} origin {content!r}" in " ".join(result.text.split())


def test_the_stand_in_refuses_a_type_and_port_cdn_does_not_know(tmp_path: Path, terraform) -> None:  # noqa: F811
    (tmp_path / "main.tf").write_text(
        f"{REQUIRED}"
        'resource "alicloud_cdn_domain_new" "x" {\n'
        '  domain_name = "img.example.com"\n  cdn_type = "images"\n'
        '  sources {\n    type = "oss"\n    content = "b1.oss-cn-hangzhou.aliyuncs.com"\n'
        "    port = 8080\n  }\n}\n"
        'resource "alicloud_cdn_domain_config" "y" {\n'
        '  domain_name = "img.example.com"\n  function_name = "l2_oss_key"\n'
        '  function_args {\n    arg_name = "private_oss_auth"\n    arg_value = "yes"\n  }\n}\n'
    )
    terraform(tmp_path, "init", backend=False, input=False).ok()
    text = " ".join(terraform(tmp_path, "plan", input=False).text.split())
    assert "CDN refuses cdn_type 'images': valid values are web, download, video" in text
    assert "CDN refuses origin port 8080: 80 or 443" in text
    assert "CDN refuses l2_oss_key argument private_oss_auth='yes'" in text


def test_cdn_mode_without_internet_access_is_refused_naming_why(
    repo_copy: Path,  # noqa: F811
    terraform,  # noqa: F811
    package_dir: str,  # noqa: F811
) -> None:
    """The refresh goes to cdn.aliyuncs.com: without internet access every one would time out."""
    variables = {"env": "dev", "package_dir": package_dir, "serving": CDN, "internet_access": False}
    result = _plan_with(repo_copy, terraform, "cdn-no-internet", variables)
    assert result.returncode != 0
    text = " ".join(result.text.split())
    assert 'serving.mode = "cdn" needs internet_access = true' in text, result.text[-2000:]
    assert "on modules/serving/main.tf line" in result.text
    # and without a CDN, false still plans
    variables = {"env": "dev", "package_dir": package_dir, "internet_access": False}
    _plan_with(repo_copy, terraform, "no-cdn-no-internet", variables).ok()
