"""Argument types for the `imgpipe` command line: every flag checked up front.

Each is an argparse `type=`, so a bad value stops the command before any
work with argparse's one line, naming the flag:

    imgpipe demo: error: argument --monthly: must be >= 0, got -5

and exit status 2. Numbers must be finite (`nan`, `inf` are refused) and in
range; paths that must exist are checked for what they are. The bounds are
wide (no real workload is near them); they exist so that no product of
flags can overflow into `inf` or `nan` downstream.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path


def _fmt(limit: float) -> str:
    return f"{limit:,}" if isinstance(limit, int) else f"{limit:g}"


def integer(
    minimum: int = 0, maximum: int = 10**15, *, meaning: str = "a whole number"
) -> Callable[[str], int]:
    """A whole number in [minimum, maximum] (`1_000_000` and `1e6` are fine)."""

    def parse(text: str) -> int:
        value: float | int
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{meaning} required, got {text!r}") from None
            if not math.isfinite(value) or value != int(value):
                raise argparse.ArgumentTypeError(f"{meaning} required, got {text!r}") from None
            value = int(value)
        _check_range(value, text, minimum, maximum, minimum_open=False)
        return int(value)

    return parse


def number(
    minimum: float = 0.0,
    maximum: float = 1e12,
    *,
    above_minimum: bool = False,
    meaning: str = "a number",
) -> Callable[[str], float]:
    """A finite number in [minimum, maximum] (or (minimum, maximum])."""

    def parse(text: str) -> float:
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{meaning} required, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        _check_range(value, text, minimum, maximum, minimum_open=above_minimum)
        return value + 0.0  # -0.0 becomes 0.0: no "-0.00" in any output

    return parse


def _check_range(
    value: float, text: str, minimum: float, maximum: float, *, minimum_open: bool
) -> None:
    if minimum_open and value <= minimum:
        raise argparse.ArgumentTypeError(f"must be > {_fmt(minimum)}, got {text}")
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {_fmt(minimum)}, got {text}")
    if value > maximum:
        raise argparse.ArgumentTypeError(f"must be <= {_fmt(maximum)}, got {text}")


def existing_dir(text: str) -> Path:
    """A directory that exists (`--buckets`, `--source`)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied")
    return path


def existing_file(text: str) -> Path:
    """A regular file that exists and can be read (`EVENT.json`, `--config`)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: permission denied")
    return path


def output_dir(text: str) -> Path:
    """A directory to write into: it may not exist yet, but must not be a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: exists and is not a directory")
    return path
