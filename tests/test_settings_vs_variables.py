"""Terraform's variable validation agrees with the handler's own settings code.

A value `terraform plan` accepts but the function refuses at start-up is the
worst kind of mistake: the apply succeeds and every event is dead-lettered
(issue 16: `key_template = "out/{variant}/{stem}"`). A value the handler
accepts but Terraform refuses is a feature nobody can use. So for each
candidate value of a handler setting this asks both sides:

- Terraform: the real `terraform` binary runs the root module's
  `validation` blocks. tfparse ignores them, and the alicloud provider cannot
  be installed here, so `variables.tf` (nothing else: it holds only
  `variable` blocks) is copied at test time into a module with no provider
  and no resources, and `terraform test` plans it once per candidate.
- The handler: the root module is evaluated with tfparse for the same value
  (what Terraform would put in the function's environment) and given to
  `fc_handler.settings.Settings.from_env`, the code the function runs.

The examples are checked the same way, from their own files: the real
`examples/*/main.tf` is planned by Terraform against the variables-only
module, and evaluated with tfparse into the environment the handler parses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tfexamples import evaluate_example, example_arguments, examples_using_the_module, read_hcl

from fc_handler.settings import Settings, SettingsError
from imgpipe import REPO_ROOT
from imgpipe.cloud.terraform import evaluate

TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(
    TERRAFORM is None, reason="no terraform binary on this machine"
)

LONG_NAME = "v" * 64
OK, NO = True, False

# (variable, value, whether the handler accepts it). Every value here has the
# variable's declared type, so a refusal can only come from validation.
CASES: list[tuple[str, Any, bool]] = [
    # key_template: the handler's _template rules
    ("key_template", "resized/{variant}/{dir}{name}.{ext}", OK),  # the default
    ("key_template", "resized/{variant}/{path}.{ext}", OK),  # the default before issue 15
    ("key_template", "variants/{variant}/{dir}{stem}.{ext}", OK),
    ("key_template", "out/{variant}/{name}.{format}", OK),
    ("key_template", "out/{variant}/{stem}-{format}.{ext}", OK),
    ("key_template", "out/{variant}/{stem}", NO),  # no {ext}: issue 16
    ("key_template", "out/{variant}.{ext}", NO),  # no {path}, {stem} or {name}
    ("key_template", "out/{path}.{ext}", NO),  # no {variant}
    ("key_template", "{variant}/{path}.{ext}", NO),  # no literal prefix
    ("key_template", "/out/{variant}/{path}.{ext}", NO),
    ("key_template", "out/{variant}/{path}.{extension}", NO),  # unknown field
    ("key_template", "out/{variant}/{Path}.{ext}", NO),
    ("key_template", "out/{variant}/{path}{}.{ext}", NO),
    ("key_template", "", NO),
    # prefixes
    ("source_prefix", "uploads/", OK),
    ("source_prefix", "", OK),
    ("source_prefix", "a/b/", OK),
    ("source_prefix", "uploads", NO),
    ("source_prefix", "/uploads/", NO),
    ("source_prefix", "/", NO),
    ("rejected_prefix", "rejected/", OK),
    ("rejected_prefix", "failed/images/", OK),
    ("rejected_prefix", "", NO),
    ("rejected_prefix", "rejected", NO),
    ("rejected_prefix", "/rejected/", NO),
    # variants
    ("variants", [{"name": "x", "height": 100}], OK),
    ("variants", [{"name": LONG_NAME, "width": 16384, "formats": ["png"]}], OK),
    ("variants", [{"name": "a", "width": 1}, {"name": "b", "width": 2}], OK),
    ("variants", [], NO),
    ("variants", [{"name": "x"}], NO),
    ("variants", [{"name": "a b", "width": 100}], NO),
    ("variants", [{"name": LONG_NAME + "v", "width": 100}], NO),
    ("variants", [{"name": "x", "width": 0}], NO),
    ("variants", [{"name": "x", "width": 16385}], NO),
    ("variants", [{"name": "x", "width": 100.5}], NO),
    ("variants", [{"name": "x", "height": -3}], NO),
    ("variants", [{"name": "x", "width": 100, "formats": []}], NO),
    ("variants", [{"name": "x", "width": 100, "formats": ["gif"]}], NO),
    ("variants", [{"name": "x", "width": 100, "formats": ["jpeg", "jpeg"]}], NO),
    ("variants", [{"name": "x", "width": 100}, {"name": "x", "width": 50}], NO),
    # quality (a partial map keeps the handler's defaults for the rest)
    ("quality", {}, OK),
    ("quality", {"jpeg": 1, "webp": 100}, OK),
    ("quality", {"png": 0}, OK),
    ("quality", {"png": 9, "avif": 30}, OK),
    ("quality", {"jpeg": 0}, NO),
    ("quality", {"jpeg": 101}, NO),
    ("quality", {"jpeg": 85.5}, NO),
    ("quality", {"png": 10}, NO),
    ("quality", {"gif": 80}, NO),
    # watermark
    ("watermark", {}, OK),
    ("watermark", {"text": ""}, OK),
    ("watermark", {"opacity": 0}, OK),
    ("watermark", {"opacity": 1, "position": "center"}, OK),
    ("watermark", {"position": "top-left", "relative_size": 0.5, "min_width": 0}, OK),
    ("watermark", {"relative_size": 0.005, "min_width": 100000, "colour": "#A0b1C2"}, OK),
    ("watermark", {"text": "©" * 200}, OK),
    ("watermark", {"text": "x" * 201}, NO),
    ("watermark", {"opacity": 1.2}, NO),
    ("watermark", {"opacity": -0.1}, NO),
    ("watermark", {"position": "middle"}, NO),
    ("watermark", {"relative_size": 0.004}, NO),
    ("watermark", {"relative_size": 0.6}, NO),
    ("watermark", {"min_width": -1}, NO),
    ("watermark", {"min_width": 600.5}, NO),
    ("watermark", {"min_width": 100001}, NO),
    ("watermark", {"colour": "white"}, NO),
    ("watermark", {"colour": "#fff"}, NO),
    # logo and placements (issue 15); the shipped logo is function_src/watermarks/
    ("watermark", {"position": "tiled"}, OK),
    ("watermark", {"position": "top-center"}, OK),
    ("watermark", {"position": "center-right"}, OK),
    ("watermark", {"position": "middle-left"}, NO),
    ("watermark", {"text": "", "image": "imgpipe-logo.png"}, OK),
    ("watermark", {"image": "imgpipe-logo.png", "image_scale": 0.01, "position": "tiled"}, OK),
    ("watermark", {"image": "imgpipe-logo.png", "image_scale": 1}, OK),
    ("watermark", {"image": "imgpipe-logo.png", "image_scale": 0}, NO),
    ("watermark", {"image": "imgpipe-logo.png", "image_scale": 1.5}, NO),
    ("watermark", {"image": "../imgpipe-logo.png"}, NO),
    ("watermark", {"image": "logo.jpg"}, NO),
    ("watermark", {"image": "oss://bucket/logo.png"}, NO),
    # metadata.keep (issue 15)
    ("metadata", {}, OK),
    ("metadata", {"keep": []}, OK),
    ("metadata", {"keep": ["copyright", "artist"]}, OK),
    ("metadata", {"keep": ["copyright", "artist", "description", "make", "model"]}, OK),
    ("metadata", {"keep": ["gps"]}, NO),
    ("metadata", {"keep": ["serial"]}, NO),
    ("metadata", {"keep": ["Copyright"]}, NO),
    ("metadata", {"keep": ["artist", "artist"]}, NO),
    # background, limits, headers
    ("background", "#000000", OK),
    ("background", "#FFF", NO),
    ("background", "white", NO),
    ("background", "#12345g", NO),
    ("max_megapixels", 0.5, OK),
    ("max_megapixels", 10000, OK),
    ("max_megapixels", 0, NO),
    ("max_megapixels", 10001, NO),
    ("max_object_mb", 50, OK),
    ("max_object_mb", 0.5, OK),  # 524288 bytes
    ("max_object_mb", 2048, OK),
    ("max_object_mb", 0.1, NO),  # 104857.6 bytes: MAX_OBJECT_BYTES is not an integer
    ("max_object_mb", 0, NO),
    ("cache_control", "no-store", OK),
    ("cache_control", "", OK),
    ("delete_variants_with_source", True, OK),
    ("delete_variants_with_source", False, OK),
    # serving: the CDN domain the function refreshes (CDN_REFRESH_DOMAIN)
    ("serving", {"mode": "cdn", "cdn_domain": "img.example.com"}, OK),
    ("serving", {"mode": "cdn", "cdn_domain": "a" * 63 + ".com"}, OK),  # 67: the longest
    ("serving", {"mode": "cdn", "cdn_domain": "a" * 64 + ".com"}, NO),  # a 64-character label
    ("serving", {"mode": "cdn", "cdn_domain": "b" * 62 + ".a.com"}, NO),  # 68 characters
    ("serving", {"mode": "cdn", "cdn_domain": "IMG.example.com"}, NO),
    ("serving", {"mode": "cdn", "cdn_domain": ".example.com"}, NO),  # a wildcard
    ("serving", {"mode": "cdn", "cdn_domain": "https://img.example.com"}, NO),
    ("serving", {"mode": "signed_url"}, OK),
    ("serving", {"mode": "none"}, OK),
]


def _hcl(value: Any) -> str:
    """A JSON value as an HCL expression (JSON is HCL, except for templates)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("${", "$${").replace("%{", "%%{")


def _tf_env(tmp: Path) -> dict[str, str]:
    rc = tmp / "terraformrc"
    rc.write_text("")
    return {
        **os.environ,
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_DATA_DIR": str(tmp / ".terraform-data"),
    }


def _variables_only(root: Path, dest: Path) -> None:
    """The root module's interface and nothing else: variables.tf, stub outputs.

    variables.tf must hold only `variable` blocks (checked), so the copy runs
    exactly the validation rules `terraform plan` runs on the real module.
    """
    text = (root / "variables.tf").read_text()
    blocks = set(read_hcl(root / "variables.tf"))
    assert blocks == {"variable"}, f"variables.tf holds more than variables: {set(blocks)}"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "variables.tf").write_text(text)
    names = [name for block in read_hcl(root / "outputs.tf")["output"] for name in block]
    (dest / "outputs.tf").write_text(
        "".join(f'output "{n}" {{\n  value = "stub-{n}"\n}}\n' for n in names)
    )


def _terraform(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TERRAFORM, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def terraform_verdicts(cases: list[tuple[str, Any]], tmp: Path) -> list[tuple[bool, str]]:
    """(accepted, error message) per case, from one `terraform test` run."""
    module = tmp / "module"
    _variables_only(REPO_ROOT, module)
    tests = module / "tests"
    tests.mkdir()
    for i, (name, value) in enumerate(cases):
        values = {"env": "dev", name: value}
        body = "\n".join(f"  {k} = {_hcl(v)}" for k, v in values.items())
        (tests / f"case{i:03d}.tftest.hcl").write_text(
            f'variables {{\n{body}\n}}\n\nrun "plan" {{\n  command = plan\n}}\n'
        )
    env = _tf_env(tmp)
    init = _terraform(["init", "-input=false", "-no-color"], module, env)
    assert init.returncode == 0, init.stdout + init.stderr
    done = _terraform(["test", "-no-color", "-json"], module, env)
    status: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        msg = json.loads(line)
        run = msg.get("test_run")
        path = msg.get("@testfile", "")
        if run and run.get("progress") == "complete":
            status[path] = run["status"]
        if msg.get("type") == "diagnostic" and msg["diagnostic"]["severity"] == "error":
            d = msg["diagnostic"]
            errors.setdefault(path, []).append(f"{d['summary']}: {d.get('detail', '')}")
    verdicts = []
    for i in range(len(cases)):
        path = f"tests/case{i:03d}.tftest.hcl"
        assert path in status, f"{path}: no result\n{done.stdout[-2000:]}\n{done.stderr}"
        found = errors.get(path, [])
        # Only a failed validation counts as "refused": anything else is a broken case.
        assert all(e.startswith("Invalid value for variable") for e in found), found
        verdicts.append((status[path] == "pass", "; ".join(found)))
    return verdicts


def handler_verdict(name: str, value: Any) -> tuple[bool, str]:
    """Whether the function starts with the environment Terraform would give it."""
    env = evaluate({name: value}).function_environment
    try:
        Settings.from_env(env)
    except SettingsError as exc:
        return False, str(exc)
    return True, ""


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tf-validation")
    return terraform_verdicts([(name, value) for name, value, _ in CASES], tmp)


def test_the_cases_cover_every_handler_setting_terraform_sets():
    """A new setting in the function's environment gets cases here too."""
    covered = {name for name, _, _ in CASES}
    assert covered >= {
        "key_template",
        "source_prefix",
        "rejected_prefix",
        "variants",
        "quality",
        "watermark",
        "metadata",
        "background",
        "max_megapixels",
        "max_object_mb",
        "cache_control",
    }
    env = evaluate({}).function_environment
    config = json.loads(env["IMGPIPE_CONFIG"])
    # Each key of the handler's configuration comes from the variable of the same name.
    assert set(config) <= covered


CASE_IDS = [f"{n}={json.dumps(v, ensure_ascii=True)[:40]}" for n, v, _ in CASES]


@pytest.mark.parametrize(("name", "value", "expected"), CASES, ids=CASE_IDS)
def test_the_handler_accepts_exactly_what_the_table_says(name, value, expected):
    """The handler's side: the value, through Terraform's mapping, into Settings.from_env."""
    handler_ok, handler_error = handler_verdict(name, value)
    assert handler_ok is expected, f"the table is stale: handler {handler_error or 'accepts it'}"


@needs_terraform
@pytest.mark.parametrize(
    ("index", "name", "value", "expected"),
    [(i, n, v, e) for i, (n, v, e) in enumerate(CASES)],
    ids=CASE_IDS,
)
def test_terraform_accepts_what_the_handler_accepts(verdicts, index, name, value, expected):
    """Terraform's side, against the same table (which the test above ties to the handler)."""
    terraform_ok, terraform_error = verdicts[index]
    assert terraform_ok is expected, (
        f"terraform {'accepts' if terraform_ok else 'refuses'} {name} = {value!r} "
        f"({terraform_error or 'no error'}) but the handler "
        f"{'accepts' if expected else 'refuses'} it"
    )


@needs_terraform
def test_env_is_dev_staging_or_prod(tmp_path):
    """`env` never reaches the handler; Terraform alone refuses names it does not know.

    `qa` is refused on purpose: the names and the prod-only alarms assume the
    three environments the README lists (issue 16 found tfparse accepted it).
    """
    cases = [("env", e) for e in ("dev", "staging", "prod", "qa", "Prod", "")]
    got = terraform_verdicts(cases, tmp_path)
    assert [ok for ok, _ in got] == [True, True, True, False, False, False]
    assert "env must be one of dev, staging, prod" in got[3][1]


def test_the_longest_names_terraform_accepts_are_buckets_the_handler_accepts():
    """name_prefix and env end up in SOURCE_BUCKET/TARGET_BUCKET, which the handler checks."""
    env = evaluate(
        {"name_prefix": "a" + "b" * 13 + "c", "env": "staging", "account_id": "9" * 20}
    ).function_environment
    settings = Settings.from_env(env)
    assert len(settings.source_bucket) <= 63
    assert settings.source_bucket.startswith("abbbbbbbbbbbbbc-staging-src-")


# ---------------------------------------------------------------- the examples, from their files


EXAMPLES = examples_using_the_module()


def test_the_examples_that_use_the_module_are_found():
    assert {"minimal", "complete"} <= set(EXAMPLES)


@needs_terraform
@pytest.mark.parametrize("example", EXAMPLES)
def test_terraform_accepts_the_example(example, tmp_path):
    """`terraform plan` of the real example file, against the module's real variables."""
    _variables_only(REPO_ROOT / "modules" / "imgpipe", tmp_path / "modules" / "imgpipe")
    ex = tmp_path / "examples" / example
    ex.mkdir(parents=True)
    # Its module call, without its provider configuration: the stub module
    # has no resources (tests/test_terraform_real.py plans the examples
    # whole, through the stand-in provider).
    main = (REPO_ROOT / "examples" / example / "main.tf").read_text()
    (ex / "main.tf").write_text(
        re.sub(r'^provider "alicloud" \{.*?^\}\n', "", main, flags=re.M | re.S)
    )
    env = _tf_env(tmp_path)
    init = _terraform(["init", "-input=false", "-no-color", "-backend=false"], ex, env)
    assert init.returncode == 0, init.stdout + init.stderr
    plan = _terraform(["plan", "-input=false", "-no-color", "-refresh=false"], ex, env)
    assert plan.returncode == 0, plan.stdout + plan.stderr


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_handler_starts_with_the_examples_environment(example):
    settings = Settings.from_env(
        evaluate_example(example).function_environment
    )  # raises if refused
    args = example_arguments(example)
    cfg = settings.processor
    if "variants" in args:
        assert [(v.name, v.width, v.height, v.formats) for v in cfg.variants] == [
            (v["name"], v.get("width"), v.get("height"), tuple(v.get("formats", ["jpeg", "webp"])))
            for v in args["variants"]
        ]
    if "quality" in args:
        assert {k: cfg.quality[k] for k in args["quality"]} == args["quality"]
    if "watermark" in args:
        wm = args["watermark"]
        assert cfg.watermark.text == wm["text"]
        for key in ("opacity", "position", "relative_size", "min_width", "image", "image_scale"):
            if key in wm:
                assert getattr(cfg.watermark, key) == wm[key], key
    if "key_template" in args:
        assert cfg.key_template == args["key_template"]
    if "metadata" in args:
        assert list(cfg.metadata.keep) == args["metadata"].get("keep", [])
    if "max_megapixels" in args:
        assert cfg.max_megapixels == args["max_megapixels"]
    if "source_prefix" in args:
        assert settings.source_prefix == args["source_prefix"]
    if "rejected_prefix" in args:
        assert settings.rejected_prefix == args["rejected_prefix"]
    if "max_object_mb" in args:
        assert settings.max_object_bytes == args["max_object_mb"] * 1024 * 1024
    if "cache_control" in args:
        assert settings.cache_control == args["cache_control"]
    env = args.get("env")
    assert env is not None and f"-{env}-src-" in settings.source_bucket
