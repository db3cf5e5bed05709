"""A deployed stack's `terraform output -json`, read one way for every command.

`imgpipe smoke`, `backfill` and `redrive` all start from the same outputs:
the values unwrapped from `{"value": ...}`, the required ones present, the
region and account taken from an ARN, the processor configuration and
prefixes from `pipeline_config` (`imgpipe.cloud.stack.Stack.from_outputs`).
Every problem is a `SetupError` whose message names the output or file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imgpipe.cloud.errors import SetupError
from imgproc.config import Config, ConfigError, parse_config


class OutputsFileError(SetupError):
    """The --outputs file cannot be read or is not JSON; the message names it."""


def read(path: str) -> dict[str, Any]:
    """`terraform output -json` from a file, or from stdin for `-`.

    A missing or unreadable file, or one that is not JSON, is an
    `OutputsFileError` worded once for every command:
    `--outputs FILE: what is wrong` and how to make the file.
    """
    where = "stdin" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        what = (exc.strerror or str(exc)).lower()
        msg = f"--outputs {where}: {what} (write it with `terraform output -json > {where}`)"
        raise OutputsFileError(msg) from None
    try:
        outputs = json.loads(text)
    except ValueError as exc:
        msg = f"--outputs {where}: not JSON ({exc}); it should hold `terraform output -json`"
        raise OutputsFileError(msg) from None
    if not isinstance(outputs, dict):
        msg = f"--outputs {where}: not `terraform output -json` (a JSON object of outputs)"
        raise OutputsFileError(msg)
    return outputs


def values(outputs: dict[str, Any], required: Sequence[str]) -> dict[str, Any]:
    """Each output's value, or a SetupError naming every required one that is missing."""
    found = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in outputs.items()}
    missing = [name for name in required if found.get(name) in (None, "")]
    if missing:
        msg = f"the stack's outputs lack {', '.join(missing)}"
        raise SetupError(msg + " (run `terraform output -json` after apply)")
    return found


def region_account(arn: str, name: str, service: str) -> tuple[str, str]:
    """(region, account) of an `acs:<service>:<region>:<account>:...` ARN output."""
    parts = arn.split(":")
    if len(parts) < 5 or parts[:2] != ["acs", service] or not parts[2] or not parts[3]:
        raise SetupError(f"{name} {arn!r} is not acs:{service}:<region>:<account>:...")
    return parts[2], parts[3]


def pipeline(found: dict[str, Any]) -> tuple[dict[str, Any], Config]:
    """The `pipeline_config` output: its JSON (with `source_prefix`) and processor Config."""
    try:
        settings = json.loads(found["pipeline_config"])
        config = parse_config(settings["processor"])
        str(settings["source_prefix"])
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise SetupError(f"pipeline_config output is not the module's JSON: {exc}") from None
    return settings, config


def oss_endpoint(given: str | None, region: str) -> str:
    return given or f"https://oss-{region}.aliyuncs.com"


def mns_endpoint(given: str | None, region: str, account: str) -> str:
    return given or f"https://{account}.mns.{region}.aliyuncs.com"
