"""Flags more than one command takes, defined once: where the stack is
(`--outputs` or `--buckets`), the services' endpoints, and the rest of the
blocks the commands share.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from imgpipe import argtypes
from imgproc import Config, ConfigError, load_config

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


def add_outputs(p: argparse.ArgumentParser) -> None:
    """`--outputs FILE`, required: the commands that work on a deployed stack only."""
    p.add_argument(
        "--outputs", required=True, metavar="FILE", help="`terraform output -json` (- for stdin)"
    )


def add_outputs_or_buckets(p: argparse.ArgumentParser, *, buckets_help: str) -> None:
    """Either a deployed stack (`--outputs`) or make demo's local buckets (`--buckets`)."""
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--outputs", metavar="FILE", help="the stack's `terraform output -json` (- for stdin)"
    )
    where.add_argument("--buckets", type=argtypes.existing_dir, metavar="DIR", help=buckets_help)


def load_config_file(path: Path | None) -> Config:
    """`--config FILE` of `process` and `bench`: the processor configuration, or
    the built-in one; a ConfigError names what is wrong with the file."""
    if path is None:
        return load_config(None)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError((exc.strerror or str(exc)).lower()) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text (a JSON file is expected)") from None
    return load_config(text)
