"""`imgpipe process`: the processor on local files, one JSON line per input."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from fc_handler.localfs import write_atomic
from imgproc import Config, Rejection, output_key, process


def process_file(source: Path, out_dir: Path, config: Config) -> dict[str, Any]:
    """Process one file; returns the JSON record. Unclassified errors propagate."""
    started = time.perf_counter()
    record: dict[str, Any] = {"source": str(source), "status": "ok", "reason": None, "outputs": []}
    try:
        result = process(source.read_bytes(), config)
    except Rejection as rej:
        record.update(status="rejected", reason=rej.reason, detail=rej.detail)
    else:
        for out in result.outputs:
            key = output_key(config.key_template, source.name, out.variant, out.format)
            path = out_dir / key
            write_atomic(path, out.data)
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


def run(files: list[Path], out_dir: Path, config: Config) -> int:
    failed = 0
    for source in files:
        started = time.perf_counter()
        try:
            record = process_file(source, out_dir, config)
        except Exception as exc:  # noqa: BLE001 - reported, and turns the exit code non-zero
            failed += 1
            record = {
                "source": str(source),
                "status": "error",
                "reason": type(exc).__name__,
                "detail": str(exc),
                "outputs": [],
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        print(json.dumps(record, ensure_ascii=False), flush=True)
    if failed:
        print(f"imgpipe process: {failed} input(s) failed unexpectedly", file=sys.stderr)
    return 1 if failed else 0
