"""`make tf-check`: what `terraform validate` does not fail on.

(A development tool: `python tests/devtools/tf_check.py`, formerly `imgpipe tf-check`.)

Real Terraform proves the rest offline (`make tf-test`, README "Proving the
Terraform without a cloud"): unknown, missing and read-only arguments, types,
block counts, allowed values, references, module inputs and outputs. What it
only warns about, this fails on: deprecated resources and deprecated
arguments, read from the provider's schema snapshot
(`tests/data/alicloud/provider-schema.json`, the provider's Go source at
v1.289.0). A deprecated argument works today and breaks on a later provider
upgrade, so it is kept out of the configuration.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

from imgpipe import REPO_ROOT

SCHEMA = REPO_ROOT / "tests" / "data" / "alicloud" / "provider-schema.json"
# Resources the snapshot lacks, transcribed from the provider source (see its _source).
EXTRA_SCHEMA = SCHEMA.with_name("extra-schema.json")
META_ARGS = {
    "count",
    "for_each",
    "depends_on",
    "lifecycle",
    "provider",
    "provisioner",
    "connection",
}


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def _is_block(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, dict) and v.get("__is_block__") for v in value
    )


class Checker:
    def __init__(self, schema_paths: tuple[Path, ...] = (SCHEMA, EXTRA_SCHEMA)) -> None:
        self.schema: dict[str, Any] = {}
        for path in schema_paths:
            for rtype, spec in json.loads(path.read_text()).items():
                if rtype.startswith("alicloud_"):
                    self.schema.setdefault(rtype, spec)
        self.problems: list[Problem] = []

    # ------------------------------------------------------------ files

    def check_dir(self, directory: Path, root: Path) -> None:
        """Check one Terraform module (the .tf files of one directory)."""
        for tf in sorted(directory.glob("*.tf")):
            with tf.open() as fh:
                doc = hcl2.load(fh)
            rel = str(tf.relative_to(root))
            for res in doc.get("resource", []):
                for rtype, named in res.items():
                    for name, body in named.items():
                        if _unquote(rtype).startswith("alicloud_"):
                            self._resource(rel, _unquote(rtype), _unquote(name), body)

    def check_tree(self, root: Path) -> list[Problem]:
        for directory in terraform_dirs(root):
            self.check_dir(directory, root)
        return self.problems

    # ------------------------------------------------------------ resources

    def _problem(self, file: str, where: str, message: str) -> None:
        self.problems.append(Problem(file, where, message))

    def _resource(self, file: str, rtype: str, name: str, body: dict[str, Any]) -> None:
        spec = self.schema.get(rtype)
        where = f"{rtype}.{name}"
        if spec is None:  # Terraform itself rejects an unknown resource type
            return
        if spec.get("resource_deprecated"):
            self._problem(file, where, f"resource is deprecated: {spec['resource_deprecated']}")
        self._block(file, where, body, spec["arguments"], top=True)

    def _block(
        self, file: str, where: str, body: dict[str, Any], args: dict[str, Any], top: bool = False
    ) -> None:
        items = dict(body)
        for dyn in items.pop("dynamic", []) if isinstance(items.get("dynamic"), list) else []:
            for label, dbody in dyn.items():
                content = (dbody.get("content") or [{}])[0]
                self._argument(file, where, _unquote(label), [content], args)
        for key, value in items.items():
            if key.startswith("__") or (top and key in META_ARGS):
                continue
            self._argument(file, where, key, value, args)

    def _argument(self, file: str, where: str, key: str, value: Any, args: dict[str, Any]) -> None:
        spec = args.get(key)
        if spec is None:  # unknown arguments: terraform validate
            return
        if spec.get("deprecated"):
            self._problem(file, where, f"`{key}` is deprecated: {spec['deprecated']}")
        nested = spec.get("block")
        if nested and _is_block(value):
            for sub in value:
                if isinstance(sub, dict):
                    self._block(file, f"{where}.{key}", sub, nested)


def terraform_dirs(root: Path) -> list[Path]:
    """The root module, its modules and its examples: every directory with .tf files."""
    found = {root} if any(root.glob("*.tf")) else set()
    for sub in ("modules", "examples"):
        found |= {tf.parent for tf in (root / sub).rglob("*.tf") if ".terraform" not in tf.parts}
    return sorted(found)


def run(root: Path = REPO_ROOT) -> int:
    problems = Checker().check_tree(root)
    for problem in problems:
        print(problem)
    count = sum(len(list(d.glob("*.tf"))) for d in terraform_dirs(root))
    print(
        f"tf-check: {len(problems)} deprecated resource(s) or argument(s) in {count} .tf files",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(run())
