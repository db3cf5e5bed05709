"""Printing to a pipe whose reader may go away: `imgpipe process ... | head -1`.

Python ignores SIGPIPE, so a write to a pipe nobody reads any more raises
`BrokenPipeError` where it happens, and once more when the interpreter
flushes stdout on its way out ("Exception ignored ... BrokenPipeError").

What the commands do instead (a decision, not a Python default): when the
reader goes, the command stops printing and goes on with its work. `process`
still writes every variant of every input it was given (the files are what
was asked for; `head -1` only wanted the first line), `invoke` lets the
handler finish its event, `demo` finishes its uploads. The exit status is
the work's, as if every line had been read: closing a pipe early is the
reader's choice, not a failure of the command. Nothing is printed about it.
stderr is treated the same way (`imgpipe process ... 2>&1 | head -1`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO


class ReaderTolerantStream:
    """A text stream that turns into a sink when its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        self.reader_gone = True
        # The stream's buffer still holds what could not be written, and the
        # interpreter flushes it at exit: from now on it goes to /dev/null.
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a file (a test's capture)
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def tolerate_closed_stdout() -> Iterator[ReaderTolerantStream]:
    """`sys.stdout` and `sys.stderr` stop printing, silently, once their reader has gone."""
    out, err = sys.stdout, sys.stderr
    safe_out, safe_err = ReaderTolerantStream(out), ReaderTolerantStream(err)
    sys.stdout, sys.stderr = safe_out, safe_err  # type: ignore[assignment]
    try:
        yield safe_out
    finally:
        sys.stdout, sys.stderr = out, err
        safe_out.flush()
        safe_err.flush()
