"""The `imgpipe` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imgpipe import _function  # noqa: F401  (puts function_src on sys.path)
from imgproc import ConfigError, load_config


def _config(path: Path | None):
    text = path.read_text() if path else None
    return load_config(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imgpipe", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="make the variants of local image files")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument("--config", type=Path, metavar="FILE", help="pipeline config JSON")

    b = sub.add_parser("bench", help="time and measure the core against baselines")
    b.add_argument("images", nargs="*", type=Path, help="default: tests/data/bench/*")
    b.add_argument("--repeat", type=int, default=5)
    b.add_argument("--methods", default="core,naive,pyvips")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    b.add_argument("--config", type=Path, metavar="FILE")

    args = parser.parse_args(argv)
    try:
        config = _config(args.config)
    except (ConfigError, OSError) as exc:
        print(f"imgpipe: {exc}", file=sys.stderr)
        return 2

    if args.command == "process":
        from imgpipe.process_cmd import run

        return run(args.files, args.out, config)
    if args.command == "bench":
        from imgpipe.bench import run_bench

        return run_bench(args.images, args.repeat, args.methods.split(","), args.json, args.config)
    parser.error(f"unknown command {args.command}")  # pragma: no cover
    return 2
