"""`imgpipe invoke`: the real FC handler on one event file, local folders as OSS."""

from __future__ import annotations

import argparse
import json
import sys

from fc_handler.settings import VARIABLES, SettingsError
from imgpipe import argtypes
from imgpipe.cloud.localfc import invoke


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = _environment_help() + "\n\n" + (p.epilog or "")
    p.add_argument(
        "event",
        type=argtypes.existing_file,
        metavar="EVENT.json",
        help="a CloudEvent as EventBridge delivers it (one object or a list)",
    )
    p.add_argument(
        "--buckets",
        required=True,
        type=argtypes.existing_dir,
        metavar="DIR",
        help="an existing DIR; DIR/<bucket>/<key> stands in for OSS",
    )


def _environment_help() -> str:
    lines = ["environment (as Terraform sets it in FC):"]
    for name, (default, what) in VARIABLES.items():
        need = "required" if default is None else f"default {default!r}"
        lines.append(f"  {name:28} {what} ({need})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    event_path, buckets = args.event, args.buckets
    try:
        event = event_path.read_bytes()
    except OSError as exc:
        print(
            f"imgpipe invoke: {event_path}: {(exc.strerror or str(exc)).lower()}", file=sys.stderr
        )
        return 2
    result = invoke(event, buckets)
    print(json.dumps({"invoke": result.summary()}, ensure_ascii=False, default=str), flush=True)
    if isinstance(result.error, SettingsError):
        print(f"imgpipe invoke: configuration: {result.error}", file=sys.stderr)
    return 1 if result.raised else 0
