"""`imgpipe process`: the processor on local files, one JSON line per input.

Each input gets its line, whatever happens to the others: `ok`,
`rejected` (the processor's verdict, with its reason), `unreadable` (the
path is missing, a directory, not a regular file, or not readable),
`unwritable` (a variant could not be written under `--out`), or `error`
(anything else: a bug, reported in one line, never a traceback). The
problems a person can fix (a path, a permission) also get one line on
stderr naming the path and what is wrong with it.

After the JSON lines, one line on stderr sums it up for a person (`summary`:
how many of each status, the variants and their bytes, where they went);
`--quiet` leaves it out. stderr, so `| jq` and `| head` see only JSON.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from pathlib import Path
from typing import Any

from fc_handler.localfs import write_atomic
from imgpipe import argtypes, flags
from imgproc import Config, ConfigError, Rejection, output_key, process
from imgproc.errors import MEANINGS

# errno -> the `reason` of an unreadable or unwritable path
_REASONS = {
    errno.ENOENT: "not-found",
    errno.EISDIR: "is-a-directory",
    errno.ENOTDIR: "not-a-directory",
    errno.EACCES: "permission-denied",
    errno.EPERM: "permission-denied",
    errno.ENOSPC: "no-space",
    errno.EROFS: "read-only",
}


class PathProblem(Exception):
    """An input that cannot be read or an output that cannot be written."""

    def __init__(self, status: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def describe(path: Path | str, exc: OSError) -> tuple[str, str]:
    """(reason, "<path>: what is wrong") for an OSError on `path`."""
    what = (exc.strerror or str(exc)).lower()
    return _REASONS.get(exc.errno or 0, "os-error"), f"{path}: {what}"


def read_input(source: Path) -> bytes:
    """The bytes of a regular file, or PathProblem saying what is wrong."""
    try:
        if source.exists() and not source.is_dir() and not source.is_file():
            # A FIFO or a device would block or never end (/dev/zero).
            raise PathProblem("unreadable", "not-a-file", f"{source}: not a regular file")
        return source.read_bytes()
    except OSError as exc:
        reason, detail = describe(source, exc)
        raise PathProblem("unreadable", reason, detail) from None


def process_file(source: Path, out_dir: Path, config: Config) -> dict[str, Any]:
    """Process one file; returns the JSON record.

    PathProblem and unclassified errors propagate; `run` reports them."""
    started = time.perf_counter()
    record: dict[str, Any] = {"source": str(source), "status": "ok", "reason": None, "outputs": []}
    data = read_input(source)
    try:
        result = process(data, config)
    except Rejection as rej:
        record.update(status="rejected", reason=rej.reason, detail=rej.detail)
    else:
        del data
        for out in result.outputs:
            key = output_key(config.key_template, source.name, out.variant, out.format)
            path = out_dir / key
            try:
                write_atomic(path, out.data)
            except OSError as exc:
                reason, detail = describe(exc.filename or path, exc)
                raise PathProblem("unwritable", reason, detail) from None
            record["outputs"].append(
                {
                    "key": key,
                    "path": str(path),
                    "variant": out.variant,
                    "format": out.format,
                    "width": out.width,
                    "height": out.height,
                    "bytes": len(out.data),
                }
            )
    record["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return record


def summary(records: list[dict], out_dir: Path) -> str:
    """One line for a person: `imgpipe process: 3 inputs: 2 ok (12 variants, ...`."""
    counts: dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    variants = sum(len(r["outputs"]) for r in records)
    written = sum(o["bytes"] for r in records for o in r["outputs"])
    parts = []
    for status in ("ok", "rejected", "unreadable", "unwritable", "error"):
        if n := counts.get(status):
            same = [r for r in records if r["status"] == status]
            reasons = sorted({r["reason"] for r in same if r["reason"]})
            if status == "rejected":  # said as the processor's table says it
                reasons = [f"{r}: {MEANINGS.get(r, r).replace('`', '')}" for r in reasons]
            parts.append(f"{n} {status}" + (f" ({', '.join(reasons)})" if reasons else ""))
    inputs = f"{len(records)} input" + ("" if len(records) == 1 else "s")
    return (
        f"imgpipe process: {inputs}: {', '.join(parts)}; "
        f"{variants} variants, {written:,} bytes written under {out_dir}"
    )


def process_files(files: list[Path], out_dir: Path, config: Config, *, quiet: bool = False) -> int:
    """Process every input in turn; 0 if each is ok or rejected, else 1."""
    failed = unexpected = 0
    records: list[dict] = []
    for source in files:
        started = time.perf_counter()
        try:
            record = process_file(source, out_dir, config)
        except PathProblem as problem:
            failed += 1
            print(f"imgpipe process: {problem.detail}", file=sys.stderr)
            record = _failure(source, problem.status, problem.reason, problem.detail, started)
        except Exception as exc:  # noqa: BLE001 - reported, and turns the exit code non-zero
            failed += 1
            unexpected += 1
            detail = f"{type(exc).__name__}: {exc}"
            print(f"imgpipe process: {source}: failed unexpectedly: {detail}", file=sys.stderr)
            record = _failure(source, "error", type(exc).__name__, str(exc), started)
        print(json.dumps(record, ensure_ascii=False), flush=True)
        records.append({k: record[k] for k in ("status", "reason", "outputs")})
    if unexpected:
        print(
            f"imgpipe process: {unexpected} input(s) failed unexpectedly "
            "(a bug: please report it with the input)",
            file=sys.stderr,
        )
    if not quiet:
        sys.stdout.flush()  # the summary comes after the JSON lines, also in `2>&1`
        print(summary(records, out_dir), file=sys.stderr)
    return 1 if failed else 0


def _failure(source: Path, status: str, reason: str, detail: str, started: float) -> dict:
    return {
        "source": str(source),
        "status": status,
        "reason": reason,
        "detail": detail,
        "outputs": [],
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="image files to process")
    p.add_argument(
        "--out",
        required=True,
        type=argtypes.output_dir,
        metavar="DIR",
        help="where the variants go (created if missing): DIR/<key from the key template>",
    )
    p.add_argument(
        "--config",
        type=argtypes.existing_file,
        metavar="FILE",
        help="pipeline config JSON (variants, quality, watermark...); default: the built-in",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no summary line on stderr: the JSON lines only"
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = flags.load_config_file(args.config)
    except ConfigError as exc:
        print(f"imgpipe process: --config {args.config}: {exc}", file=sys.stderr)
        return 2
    return process_files(args.files, args.out, config, quiet=args.quiet)
