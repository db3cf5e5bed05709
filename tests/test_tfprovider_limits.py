"""The stand-in provider's limits, each on both sides of its value (docs/limits.md).

Terraform meets them in tests/test_terraform_real.py; here each limit is
held at its exact value and one past it, including the one the module's own
preconditions always catch first (the environment's 4 KB), so that the
stand-in would catch it too if a precondition went missing.
"""

from __future__ import annotations

import importlib.util
import json

from imgpipe import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    "tfprovider", REPO_ROOT / "tests" / "tfprovider" / "provider.py"
)
provider = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(provider)


def test_the_grpc_limit_is_the_real_providers() -> None:
    assert provider.GRPC_MAX_MESSAGE == 4 * 1024 * 1024


def test_ram_policy_of_6144_characters_passes_and_6145_is_refused() -> None:
    def policy(n: int) -> dict:
        doc = json.dumps({"Version": "1", "Statement": []})
        return {"policy_document": doc + " " * (n - len(doc))}

    assert provider.limit_errors("alicloud_ram_policy", policy(6144)) == []
    ((message, path),) = provider.limit_errors("alicloud_ram_policy", policy(6145))
    assert "6145 characters" in message and "6,144" in message and path == ["policy_document"]


def test_fc_environment_of_4096_bytes_passes_and_4097_is_refused() -> None:
    def env(n: int, char: str = "x") -> dict:
        return {"environment_variables": {"K": char * (n - 1)}}

    assert provider.limit_errors("alicloud_fcv3_function", env(4096)) == []
    ((message, path),) = provider.limit_errors("alicloud_fcv3_function", env(4097))
    assert "4097 bytes" in message and path == ["environment_variables"]
    # bytes, not characters: 1,366 three-byte characters and the name are 4,099
    assert provider.limit_errors(
        "alicloud_fcv3_function", {"environment_variables": {"K": "水" * 1366}}
    )


def test_five_expressions_in_a_field_pass_and_six_are_refused() -> None:
    def trigger(n: int) -> dict:
        pattern = {"source": ["acs.oss"], "data": {"key": [{"prefix": f"p{i}"} for i in range(n)]}}
        return {"trigger_config": json.dumps({"eventRuleFilterPattern": json.dumps(pattern)})}

    assert provider.limit_errors("alicloud_fcv3_trigger", trigger(5)) == []
    ((message, _),) = provider.limit_errors("alicloud_fcv3_trigger", trigger(6))
    assert "6 expressions in field 'data.key'" in message
    # exact values are not map expressions: 40 event types are no breach
    many_types = {"type": [f"t{i}" for i in range(40)]}
    config = {"trigger_config": json.dumps({"eventRuleFilterPattern": json.dumps(many_types)})}
    assert provider.limit_errors("alicloud_fcv3_trigger", config) == []


def test_every_test_docs_limits_names_exists() -> None:
    """docs/limits.md points at the test that meets each limit: those tests must exist."""
    import re

    text = (REPO_ROOT / "docs" / "limits.md").read_text()
    named = set(re.findall(r"`(test_\w+)", text)) | set(re.findall(r"\.tftest\.hcl` `(\w+)`", text))
    assert len(named) >= 10, named
    sources = "\n".join(p.read_text() for p in (REPO_ROOT / "tests").glob("*.py"))
    sources += "\n".join(p.read_text() for p in (REPO_ROOT / "tests").glob("*.tftest.hcl"))
    files = {p.stem for p in (REPO_ROOT / "tests").glob("test_*.py")}
    missing = sorted(n for n in named - files if not re.search(rf"(def |run \"){n}\b", sources))
    assert missing == [], missing
