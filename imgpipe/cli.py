"""The `imgpipe` command line.

It speaks to people: a mistake in a flag or a path is one line naming it,
never a Python traceback. Exit status 2 is a usage error (a bad flag, a
path that is not there: argparse's `error: argument --flag: ...`, checked
before any work by the types in `imgpipe.argtypes`), 1 is a failure of
the work itself, 0 is success. A reader that closes the pipe early
(`imgpipe process ... | head -1`) is not an error: see `imgpipe.closedpipe`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imgpipe import argtypes
from imgpipe.closedpipe import tolerate_closed_stdout
from imgproc import ConfigError, load_config

REPEAT = argtypes.integer(1, 1000, meaning="a whole number of runs")


def _config(path: Path | None):
    if path is None:
        return load_config(None)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError((exc.strerror or str(exc)).lower()) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text (a JSON file is expected)") from None
    return load_config(text)


def _invoke(event_path: Path, buckets: Path) -> int:
    import json

    from fc_handler.settings import SettingsError
    from imgpipe.invoke import invoke

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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="imgpipe", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="make the variants of local image files")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--out", required=True, type=argtypes.output_dir, metavar="DIR")
    p.add_argument(
        "--config", type=argtypes.existing_file, metavar="FILE", help="pipeline config JSON"
    )

    b = sub.add_parser("bench", help="time and measure the core against baselines")
    b.add_argument(
        "images", nargs="*", type=argtypes.existing_file, help="default: tests/data/bench/*"
    )
    b.add_argument("--repeat", type=REPEAT, default=5, help="runs per image (1 to 1000)")
    b.add_argument("--methods", type=_methods, default="core,naive,pyvips")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    b.add_argument("--config", type=argtypes.existing_file, metavar="FILE")
    b.add_argument(
        "--e2e",
        action="store_true",
        help="end to end: the real handler against a local OSS stand-in; ms, requests, CU",
    )
    b.add_argument(
        "--latency-ms",
        type=argtypes.number(0, 10_000),
        default=None,
        help="--e2e: the stand-in's round-trip time per request (default 100, docs/cost.md)",
    )

    i = sub.add_parser("invoke", help="run the real FC handler on an event, local buckets")
    i.add_argument("event", type=argtypes.existing_file, metavar="EVENT.json")
    i.add_argument(
        "--buckets",
        required=True,
        type=argtypes.existing_dir,
        metavar="DIR",
        help="an existing DIR; DIR/<bucket>/<key> stands in for OSS",
    )

    s = sub.add_parser("package-stats", help="cold import time of a host-built package")
    s.add_argument("--zip", type=_package_zip, default=Path("build/host/function.zip"))
    s.add_argument("--repeat", type=REPEAT, default=5, help="imports to time (1 to 1000)")

    d = sub.add_parser("demo", help="run the whole pipeline locally on samples or your folder")
    d.add_argument(
        "--source",
        type=argtypes.existing_dir,
        metavar="DIR",
        help="your images (default: samples)",
    )
    d.add_argument("--work-dir", type=Path, default=Path(".demo"), metavar="DIR")
    d.add_argument(
        "--monthly",
        type=argtypes.integer(0, 10**15, meaning="a whole number of uploads"),
        default=10_000_000,
        metavar="N",
        help="uploads per month for the cost estimate",
    )

    sub.add_parser("tf-check", help="fail on deprecated alicloud resources and arguments")

    c = sub.add_parser("cost", help="monthly Function Compute cost of a workload")
    from imgpipe.cost import add_arguments as cost_arguments

    cost_arguments(c)

    k = sub.add_parser("smoke", help="prove a deployed stack end to end, then clean up")
    from imgpipe.smoke import add_arguments as smoke_arguments

    smoke_arguments(k)

    f = sub.add_parser("backfill", help="invoke the function for every source object not current")
    from imgpipe.backfill import add_arguments as backfill_arguments

    backfill_arguments(f)

    r = sub.add_parser("redrive", help="show the dead-letter queue; re-invoke, then delete")
    from imgpipe.redrive import add_arguments as redrive_arguments

    redrive_arguments(r)
    return parser


def _methods(text: str) -> list[str]:
    from imgpipe.bench import METHODS

    methods = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(METHODS)}"
        )
    return methods


def _package_zip(text: str) -> Path:
    """A zip file, or a path not built yet (`package-stats` says how to build it)."""
    import zipfile

    path = Path(text)
    if path.exists() and not (path.is_file() and zipfile.is_zipfile(path)):
        raise argparse.ArgumentTypeError(f"{text}: not a zip file")
    return path


def main(argv: list[str] | None = None) -> int:
    with tolerate_closed_stdout():
        try:
            return _run(parser().parse_args(argv))
        except KeyboardInterrupt:
            print("imgpipe: interrupted", file=sys.stderr)
            return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from imgpipe.demo import main as demo_main

        return demo_main(args.source, args.work_dir, args.monthly)
    if args.command == "cost":
        from imgpipe.cost import run as cost_run

        return cost_run(args)
    if args.command == "smoke":
        from imgpipe.smoke import run as smoke_run

        return smoke_run(args)
    if args.command == "redrive":
        from imgpipe.redrive import run as redrive_run

        return redrive_run(args)
    if args.command == "backfill":
        from imgpipe.backfill import run as backfill_run

        return backfill_run(args)
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
    except ConfigError as exc:
        print(f"imgpipe {args.command}: --config {args.config}: {exc}", file=sys.stderr)
        return 2

    if args.command == "process":
        from imgpipe.process_cmd import run

        return run(args.files, args.out, config)
    if args.command == "bench":
        from imgpipe.bench import OSS_LATENCY_MS, run_bench, run_e2e

        if args.e2e:
            latency = OSS_LATENCY_MS if args.latency_ms is None else args.latency_ms
            return run_e2e(args.images, args.repeat, latency, args.json)

        return run_bench(args.images, args.repeat, args.methods, args.json, args.config)
    raise AssertionError(f"unknown command {args.command}")  # pragma: no cover
