"""`imgpipe demo` (and `make demo`): the whole pipeline on this machine, its
samples (`samples`), its run and day two (`run`) and its HTML page (`report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from imgpipe import argtypes
from imgpipe.commands.demo.pipeline import main


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        type=argtypes.existing_dir,
        metavar="DIR",
        help="your images (default: samples)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".demo"),
        metavar="DIR",
        help="emptied, then holds the buckets, the log, the dead letters and report.html "
        "(default: .demo); refused if it holds files the demo did not write",
    )
    p.add_argument(
        "--monthly",
        type=argtypes.integer(0, 10**15, meaning="a whole number of uploads"),
        default=10_000_000,
        metavar="N",
        help="uploads per month for the cost estimate",
    )


def run(args: argparse.Namespace) -> int:
    return main(args.source, args.work_dir, args.monthly)
