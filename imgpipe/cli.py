"""The `imgpipe` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imgproc import ConfigError, load_config


def _config(path: Path | None):
    text = path.read_text() if path else None
    return load_config(text)


def _invoke(event_path: Path, buckets: Path) -> int:
    import json

    from fc_handler.settings import SettingsError
    from imgpipe.invoke import invoke

    try:
        event = event_path.read_bytes()
    except OSError as exc:
        print(f"imgpipe invoke: {exc}", file=sys.stderr)
        return 2
    result = invoke(event, buckets)
    print(json.dumps({"invoke": result.summary()}, ensure_ascii=False))
    if isinstance(result.error, SettingsError):
        print(f"imgpipe invoke: configuration: {result.error}", file=sys.stderr)
    return 1 if result.raised else 0


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

    i = sub.add_parser("invoke", help="run the real FC handler on an event, local buckets")
    i.add_argument("event", type=Path, metavar="EVENT.json")
    i.add_argument(
        "--buckets",
        required=True,
        type=Path,
        metavar="DIR",
        help="DIR/<bucket>/<key> stands in for OSS",
    )

    s = sub.add_parser("package-stats", help="cold import time of a host-built package")
    s.add_argument("--zip", type=Path, default=Path("build/host/function.zip"))
    s.add_argument("--repeat", type=int, default=5)

    d = sub.add_parser("demo", help="run the whole pipeline locally on samples or your folder")
    d.add_argument("--source", type=Path, metavar="DIR", help="your images (default: samples)")
    d.add_argument("--work-dir", type=Path, default=Path(".demo"), metavar="DIR")
    d.add_argument(
        "--monthly",
        type=int,
        default=10_000_000,
        metavar="N",
        help="uploads per month for the cost estimate",
    )

    sub.add_parser("tf-check", help="check the Terraform against the provider schema snapshot")

    c = sub.add_parser("cost", help="monthly Function Compute cost of a workload")
    from imgpipe.cost import add_arguments as cost_arguments

    cost_arguments(c)

    args = parser.parse_args(argv)
    if args.command == "demo":
        from imgpipe.demo import main as demo_main

        return demo_main(args.source, args.work_dir, args.monthly)
    if args.command == "cost":
        from imgpipe.cost import run as cost_run

        return cost_run(args)
    if args.command == "tf-check":
        from imgpipe.tfcheck import run as tf_run

        return tf_run()
    if args.command == "package-stats":
        from imgpipe.package_stats import run as stats_run

        return stats_run(args.zip, args.repeat)
    if args.command == "invoke":
        return _invoke(args.event, args.buckets)
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
