"""Outcomes that are not variants.

A `Rejection` is the processor's verdict on the *input*: retrying the same
bytes can never succeed, so callers record it and move on instead of letting
Function Compute retry it into the dead-letter queue. Anything that is not a
`Rejection` (out of memory, a bug) is deliberately left to propagate.
"""

from __future__ import annotations

# The complete vocabulary of rejection reasons. Callers, logs and dashboards
# key on these strings, so they are part of the interface.
EMPTY = "empty"
UNSUPPORTED = "unsupported"
CORRUPT = "corrupt"
TOO_LARGE = "too-large"

REASONS = (EMPTY, UNSUPPORTED, CORRUPT, TOO_LARGE)

# What each reason means, said once: docs/processor.md's table, the summary
# of `imgpipe process` and the handler's outcome table (fc_handler.outcomes).
MEANINGS = {
    EMPTY: "the object has no bytes",
    UNSUPPORTED: "not one of the supported input formats",
    CORRUPT: "the format is recognised but the file is damaged: a header no decoder "
    "accepts, pixel data cut short or broken, a PNG CRC mismatch",
    TOO_LARGE: "more pixels than `max_megapixels`",
}


class Rejection(Exception):
    """The input cannot be turned into variants, permanently."""

    retryable = False

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigError(ValueError):
    """The pipeline configuration is invalid; the message names the field."""
