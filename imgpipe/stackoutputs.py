"""A deployed stack's `terraform output -json`, read one way for every command.

`imgpipe smoke`, `backfill` and `redrive` all start from the same outputs:
the values unwrapped from `{"value": ...}`, the required ones present, the
region and account taken from an ARN, the processor configuration and
prefixes from `pipeline_config`. Each command raises its own error class
(the `error` argument) so it can word the failure in its own terms.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import imgpipe  # noqa: F401 - puts function_src on sys.path

if TYPE_CHECKING:
    from imgproc.config import Config


class OutputsFileError(ValueError):
    """The --outputs file cannot be read or is not JSON; the message names it."""


def read(path: str) -> dict[str, Any]:
    """`terraform output -json` from a file, or from stdin for `-`.

    A missing or unreadable file, or one that is not JSON, is an
    `OutputsFileError` (a ValueError) worded once for every command:
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


def values(
    outputs: dict[str, Any], required: Sequence[str], error: type[Exception]
) -> dict[str, Any]:
    """Each output's value, or `error` naming every required one that is missing."""
    found = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in outputs.items()}
    missing = [name for name in required if found.get(name) in (None, "")]
    if missing:
        msg = f"the stack's outputs lack {', '.join(missing)}"
        raise error(msg + " (run `terraform output -json` after apply)")
    return found


def region_account(arn: str, name: str, service: str, error: type[Exception]) -> tuple[str, str]:
    """(region, account) of an `acs:<service>:<region>:<account>:...` ARN output."""
    parts = arn.split(":")
    if len(parts) < 5 or parts[:2] != ["acs", service] or not parts[2] or not parts[3]:
        raise error(f"{name} {arn!r} is not acs:{service}:<region>:<account>:...")
    return parts[2], parts[3]


def pipeline(found: dict[str, Any], error: type[Exception]) -> tuple[dict[str, Any], Config]:
    """The `pipeline_config` output: its JSON (with `source_prefix`) and processor Config."""
    from imgproc.config import ConfigError, parse_config

    try:
        settings = json.loads(found["pipeline_config"])
        config = parse_config(settings["processor"])
        str(settings["source_prefix"])
    except (ValueError, KeyError, TypeError, ConfigError) as exc:
        raise error(f"pipeline_config output is not the module's JSON: {exc}") from None
    return settings, config


# The deployed services' endpoints: one flag and one default for each, the
# same in every command that talks to them (smoke, backfill, redrive).
_ENDPOINT_HELP = {
    "oss": "default: https://oss-<region>.aliyuncs.com",
    "mns": "default: https://<account>.mns.<region>.aliyuncs.com",
    "fc": "default: the SDK's for the region",
}


def add_endpoint_arguments(p: argparse.ArgumentParser, *services: str) -> None:
    """`--oss-endpoint`, `--mns-endpoint`, `--fc-endpoint` (those named)."""
    for service in services:
        p.add_argument(f"--{service}-endpoint", metavar="URL", help=_ENDPOINT_HELP[service])


def add_outputs_or_buckets(p: argparse.ArgumentParser, *, buckets_help: str) -> None:
    """Either a deployed stack (`--outputs`) or make demo's local buckets (`--buckets`)."""
    from imgpipe import argtypes

    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--outputs", metavar="FILE", help="the stack's `terraform output -json` (- for stdin)"
    )
    where.add_argument("--buckets", type=argtypes.existing_dir, metavar="DIR", help=buckets_help)


def oss_endpoint(given: str | None, region: str) -> str:
    return given or f"https://oss-{region}.aliyuncs.com"


def mns_endpoint(given: str | None, region: str, account: str) -> str:
    return given or f"https://{account}.mns.{region}.aliyuncs.com"
