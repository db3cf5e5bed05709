"""The Terraform configuration, evaluated offline with tfparse.

Nothing here can run `terraform plan` (no provider can be downloaded), so
the tests and the local demo evaluate the configuration with tfparse, which
resolves variables, locals, module calls, `count` and functions the way
Terraform would. Values only known after apply (ARNs of new resources,
data sources) stay unresolved; the account ID is therefore passed as a
variable. The demo takes its EventBridge pattern from here: the same
expression that `terraform apply` sends to FC.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgpipe import REPO_ROOT

LOCAL_ACCOUNT = "1234567890123456"
LOCAL_REGION = "cn-hangzhou"


@dataclass
class Evaluated:
    """tfparse's view of the root module for one set of variables."""

    blocks: dict[str, list[dict[str, Any]]]

    def resources(self, rtype: str) -> list[dict[str, Any]]:
        return self.blocks.get(rtype, [])

    def one(self, rtype: str) -> dict[str, Any]:
        found = self.resources(rtype)
        if len(found) != 1:
            raise LookupError(f"expected one {rtype}, found {len(found)}")
        return found[0]

    def by_path(self, path: str) -> dict[str, Any]:
        for blocks in self.blocks.values():
            for block in blocks:
                if isinstance(block, dict) and block.get("__tfmeta", {}).get("path") == path:
                    return block
        raise LookupError(path)

    def output(self, name: str) -> Any:
        return self.by_path(f"output.{name}")["value"]

    @property
    def trigger_config(self) -> dict[str, Any]:
        return json.loads(self.one("alicloud_fcv3_trigger")["trigger_config"])

    @property
    def filter_pattern(self) -> dict[str, Any]:
        return json.loads(self.trigger_config["eventRuleFilterPattern"])

    @property
    def function_environment(self) -> dict[str, str]:
        return self.one("alicloud_fcv3_function")["environment_variables"]


def _stage(root: Path, dest: Path) -> None:
    """Copy the configuration; stub the package if `make package` has not run."""
    for tf in root.glob("*.tf"):
        shutil.copy(tf, dest / tf.name)
    shutil.copytree(root / "modules", dest / "modules")
    dist = dest / "dist"
    dist.mkdir()
    manifest, package = root / "dist" / "function.json", root / "dist" / "function.zip"
    if manifest.exists() and package.exists():
        shutil.copy(manifest, dist / "function.json")
        shutil.copy(package, dist / "function.zip")
    else:
        (dist / "function.json").write_text(json.dumps({"crc64": "0", "stub": True}))
        (dist / "function.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip


def load(directory: Path, variables: dict[str, Any], stage=None) -> dict[str, Any]:
    """tfparse's blocks for the module in `directory` with `variables`.

    The module is copied to a temporary directory (`stage(directory, dest)`
    does it; by default its .tf files only), so the variables file never
    lands in the repository.
    """
    from tfparse import load_from_path

    with tempfile.TemporaryDirectory(prefix="imgpipe-tf-") as tmp:
        dest = Path(tmp)
        if stage is None:
            for tf in Path(directory).glob("*.tf"):
                shutil.copy(tf, dest / tf.name)
        else:
            stage(Path(directory), dest)
        (dest / "eval.tfvars.json").write_text(json.dumps(variables))
        return load_from_path(dest, vars_paths=["eval.tfvars.json"], allow_downloads=False)


def evaluate(variables: dict[str, Any] | None = None, root: Path = REPO_ROOT) -> Evaluated:
    """Evaluate the root module with `variables` (env defaults to dev)."""
    values = {"env": "dev", "account_id": LOCAL_ACCOUNT, "region": LOCAL_REGION}
    values.update(variables or {})
    return Evaluated(load(root, values, stage=_stage))
