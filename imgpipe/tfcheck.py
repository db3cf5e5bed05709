"""`imgpipe tf-check`: the offline stand-in for `terraform validate`.

No provider binary can be downloaded here, so every alicloud resource in the
configuration is checked against the provider's schema snapshot
(`tests/data/alicloud/provider-schema.json`, read from the provider's Go
source at v1.289.0): unknown, missing, deprecated, removed and read-only
arguments; blocks written as attributes and the reverse; too many blocks;
literal values outside an allowed set; references to attributes a resource
does not export (the reference design's `alicloud_fcv3_function.x.arn`);
module calls with unknown or missing inputs, and references to module
outputs that do not exist. The user's CI runs the real `terraform validate`.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

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
_RES_REF = re.compile(
    r"(?<![\w.])(alicloud_[a-z0-9_]+)\.([A-Za-z_][\w-]*)((?:\[[^\]]*\])?)\.([A-Za-z_]\w*)"
)
_MOD_REF = re.compile(r"(?<![\w.])module\.([A-Za-z_][\w-]*)((?:\[[^\]]*\])?)\.([A-Za-z_]\w*)")


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


def _literal(value: Any) -> Any:
    """A literal string's value, or None for expressions."""
    if (
        isinstance(value, str)
        and value.startswith('"')
        and value.endswith('"')
        and "${" not in value
    ):
        return value[1:-1]
    return None


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            if k != "__comments__":
                yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


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
        parsed = {}
        for tf in sorted(directory.glob("*.tf")):
            with tf.open() as fh:
                parsed[tf] = hcl2.load(fh)
        declared_resources: dict[tuple[str, str], str] = {}
        modules: dict[str, Path] = {}
        for tf, doc in parsed.items():
            rel = str(tf.relative_to(root))
            for res in doc.get("resource", []):
                for rtype, named in res.items():
                    for name, body in named.items():
                        rtype_, name_ = _unquote(rtype), _unquote(name)
                        declared_resources[(rtype_, name_)] = rel
                        if rtype_.startswith("alicloud_"):
                            self._resource(rel, rtype_, name_, body)
            for mod in doc.get("module", []):
                for name, body in mod.items():
                    source = _literal(body.get("source")) or ""
                    if source.startswith("."):
                        modules[_unquote(name)] = (directory / source).resolve()
                        self._module_call(rel, _unquote(name), body, (directory / source).resolve())
        for tf, doc in parsed.items():
            rel = str(tf.relative_to(root))
            for text in _strings(doc):
                self._references(rel, text, declared_resources, modules)

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
        if spec is None:
            self._problem(file, where, "resource type is not in the provider schema snapshot")
            return
        if spec.get("resource_deprecated"):
            self._problem(file, where, f"resource is deprecated: {spec['resource_deprecated']}")
        self._block(file, where, body, spec["arguments"], top=True)

    def _block(
        self, file: str, where: str, body: dict[str, Any], args: dict[str, Any], top: bool = False
    ) -> None:
        present: dict[str, int] = {}
        items = dict(body)
        for dyn in items.pop("dynamic", []) if isinstance(items.get("dynamic"), list) else []:
            for label, dbody in dyn.items():
                content = (dbody.get("content") or [{}])[0]
                present[_unquote(label)] = present.get(_unquote(label), 0) + 1
                self._argument(file, where, _unquote(label), [content], args, dynamic=True)
        for key, value in items.items():
            if key.startswith("__") or (top and key in META_ARGS):
                continue
            present[key] = present.get(key, 0) + (len(value) if _is_block(value) else 1)
            self._argument(file, where, key, value, args)
        for key, spec in args.items():
            if spec.get("required") and key not in present:
                self._problem(file, where, f"missing required argument `{key}`")
        for key, count in present.items():
            spec = args.get(key)
            if spec and spec.get("max_items") and count > spec["max_items"]:
                self._problem(
                    file, where, f"`{key}` allows {spec['max_items']} block(s), got {count}"
                )

    def _argument(
        self,
        file: str,
        where: str,
        key: str,
        value: Any,
        args: dict[str, Any],
        *,
        dynamic: bool = False,
    ) -> None:
        spec = args.get(key)
        if spec is None:
            hint = ""
            if key.rstrip("s") in args or key + "s" in args:
                hint = f" (did you mean `{key + 's' if key + 's' in args else key.rstrip('s')}`?)"
            self._problem(file, where, f"unknown argument `{key}`{hint}")
            return
        if spec.get("removed"):
            self._problem(file, where, f"`{key}` was removed: {spec['removed']}")
        if spec.get("deprecated"):
            self._problem(file, where, f"`{key}` is deprecated: {spec['deprecated']}")
        if not spec.get("optional") and not spec.get("required"):
            self._problem(file, where, f"`{key}` is read-only (computed)")
        nested = spec.get("block")
        if nested:
            if not (dynamic or _is_block(value)):
                self._problem(file, where, f"`{key}` is a block: write `{key} {{ ... }}`")
                return
            for sub in value:
                self._block(file, f"{where}.{key}", sub, nested)
        elif _is_block(value):
            self._problem(file, where, f"`{key}` is an argument, not a block: write `{key} = ...`")
        else:
            allowed = spec.get("allowed")
            literal = _literal(value)
            if allowed and literal is not None and literal not in [str(a) for a in allowed]:
                self._problem(file, where, f"`{key}` = {literal!r} is not one of {allowed}")

    # ------------------------------------------------------------ references

    def _references(
        self,
        file: str,
        text: str,
        declared: dict[tuple[str, str], str],
        modules: dict[str, Path],
    ) -> None:
        for rtype, name, _index, attr in _RES_REF.findall(text):
            if rtype not in self.schema:
                continue
            if (rtype, name) not in declared:
                self._problem(file, f"{rtype}.{name}", "referenced but not declared in this module")
                continue
            spec = self.schema[rtype]
            if attr not in spec["arguments"] and attr not in spec.get("attributes", []):
                exported = sorted(set(spec.get("attributes", [])))
                self._problem(
                    file,
                    f"{rtype}.{name}.{attr}",
                    f"`{rtype}` has no attribute `{attr}` (it exports {', '.join(exported)})",
                )
        for name, _index, output in _MOD_REF.findall(text):
            path = modules.get(name)
            if path is None:
                self._problem(file, f"module.{name}", "referenced but not declared in this module")
                continue
            if output not in _module_outputs(path):
                self._problem(file, f"module.{name}.{output}", "the module has no such output")

    def _module_call(self, file: str, name: str, body: dict[str, Any], path: Path) -> None:
        variables = _module_variables(path)
        given = {k for k in body if not k.startswith("__") and k not in META_ARGS | {"source"}}
        for key in sorted(given - set(variables)):
            self._problem(file, f"module.{name}", f"unknown input `{key}`")
        for key, has_default in variables.items():
            if not has_default and key not in given:
                self._problem(file, f"module.{name}", f"missing required input `{key}`")


def terraform_dirs(root: Path) -> list[Path]:
    """The root module, its modules and its examples: every directory with .tf files."""
    found = {root} if any(root.glob("*.tf")) else set()
    for sub in ("modules", "examples"):
        found |= {tf.parent for tf in (root / sub).rglob("*.tf") if ".terraform" not in tf.parts}
    return sorted(found)


def _module_docs(path: Path) -> list[dict[str, Any]]:
    docs = []
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as fh:
            docs.append(hcl2.load(fh))
    return docs


def _module_variables(path: Path) -> dict[str, bool]:
    """Variable name -> whether it has a default."""
    out = {}
    for doc in _module_docs(path):
        for var in doc.get("variable", []):
            for name, body in var.items():
                out[_unquote(name)] = "default" in body
    return out


def _module_outputs(path: Path) -> set[str]:
    return {
        _unquote(name)
        for doc in _module_docs(path)
        for out in doc.get("output", [])
        for name in out
    }


def run(root: Path = REPO_ROOT) -> int:
    problems = Checker().check_tree(root)
    for problem in problems:
        print(problem)
    count = sum(len(list(d.glob("*.tf"))) for d in terraform_dirs(root))
    print(f"tf-check: {len(problems)} problem(s) in {count} .tf files", file=sys.stderr)
    return 1 if problems else 0
