"""The redrive run: re-invoke each understood dead letter, delete it only once
FC accepted (`imgpipe redrive`, and the demo's day two).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imgpipe.cloud.deadletters import DeadLetter, FileDeadLetters
from imgpipe.cloud.errors import InvokeError


@dataclass
class Report:
    redriven: list[DeadLetter] = field(default_factory=list)
    kept: list[tuple[DeadLetter, str]] = field(default_factory=list)


def redrive(
    queue: Any,
    invoker: Callable[[bytes], str],
    *,
    retries: int = 4,
    backoff_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> Report:
    """Re-invoke every understood message; delete it only once FC accepted."""
    report = Report()
    for received in queue.receive():
        letter = received.letter
        if letter.problem or letter.event is None:
            report.kept.append((letter, letter.problem or "no event"))
            say(letter.line())
            continue
        error = None
        for attempt in range(retries + 1):
            try:
                invoker(letter.event)
                error = None
                break
            except InvokeError as exc:
                error = f"re-invoke failed: {exc}"
                if not exc.retryable:
                    break
            if attempt < retries:
                sleep(min(backoff_s * 2**attempt, 20.0))
        if error is None:
            error = queue.delete(received.handle)
        if error is None:
            report.redriven.append(letter)
            say(f"{letter.line()}  -> re-invoked, deleted")
        else:
            report.kept.append((letter, error))
            say(f"{letter.line()}  -> KEPT: {error}")
    if isinstance(queue, FileDeadLetters):
        queue.commit()
    return report
