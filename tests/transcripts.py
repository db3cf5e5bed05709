"""Transcripts: what a command printed, with what varies between runs masked.

Issue 24 restructured `imgpipe/` under the promise that users see nothing
of it: every command's `--help`, output and exit status the same. The
transcripts under `tests/data/transcripts/` were written by the code
*before* that restructuring (`IMGPIPE_WRITE_TRANSCRIPTS=1 pytest
tests/test_cli_transcripts.py`, at commit e19f8fb) and every later run is
compared with them. A deliberate change to what a command prints rewrites
them the same way, and the diff shows in review.

What is masked, and only that: the run's temporary directory, the clone's
path, local ports,
request ids, repetitions of a masked progress line,
and numbers measured on this machine (timings, rates, and the cost block the
demo computes from its timings). Counts, keys, outcomes and words stay.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TRANSCRIPTS = Path(__file__).parent / "data" / "transcripts"
REPO = Path(__file__).resolve().parent.parent  # a clone's path differs from another's
WRITE = os.environ.get("IMGPIPE_WRITE_TRANSCRIPTS") == "1"

_FLOAT = re.compile(r"\d[\d,]*\.\d+")
_RATE = re.compile(r"\(\d[\d,]*/s\)")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")
_DIGITS = re.compile(r"\d[\d,]*(\.\d+)?")
_SPACES = re.compile(r"(?<=\S) +(?=\S)")


def normalise(
    text: str,
    *,
    tmp: Path | None = None,
    timed_blocks: tuple[str, ...] = (),
    measured: bool = True,
) -> str:
    """`text` with what differs between runs of the same code masked.

    `timed_blocks`: (start, end) pairs flattened, lines from a line starting
    with `start` up to one starting with `end` (inclusive) have every number
    masked (the demo's cost estimate, computed from this machine's timings).
    `measured=False`: the output has no timings (`imgpipe cost`), so no
    number is masked. A line where something was masked has its runs of
    spaces between words made one: the width of a timing moves the columns
    around it (`6  <f>` on an idle machine, `6 <f>` when a timing takes a
    digit more under load).
    """
    if tmp is not None:
        text = text.replace(str(tmp.resolve()), "<TMP>").replace(str(tmp), "<TMP>")
    text = text.replace(str(REPO), "<REPO>")
    text = _UUID.sub("<uuid>", _PORT.sub(r"\1:<PORT>", text))
    lines = []
    inside = False
    pairs = list(zip(timed_blocks[::2], timed_blocks[1::2]))
    for line in text.splitlines():
        start = any(line.lstrip().startswith(s) for s, _ in pairs)
        inside = inside or start
        if inside:
            masked = _DIGITS.sub("<n>", line)
            if any(line.lstrip().startswith(e) for _, e in pairs):
                inside = False
        elif measured:
            masked = _RATE.sub("(<n>/s)", _FLOAT.sub("<f>", line))
        else:
            masked = line
        if masked != line:
            masked = _SPACES.sub(" ", masked)
        masked = masked.rstrip()
        if masked != line.rstrip() and lines and lines[-1] == masked:
            continue  # a progress line repeated: how often depends on this machine's speed
        lines.append(masked)
    return "\n".join(lines) + "\n"


def check(name: str, text: str) -> None:
    """Compare with the stored transcript `name` (or write it, see the docstring)."""
    path = TRANSCRIPTS / f"{name}.txt"
    if WRITE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no transcript {path}; IMGPIPE_WRITE_TRANSCRIPTS=1 writes it"
    want = path.read_text(encoding="utf-8")
    assert text == want, f"{name}: the output differs from {path}"
