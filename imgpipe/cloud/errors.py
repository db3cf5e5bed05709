"""What can go wrong talking to a deployment, one class per kind, for every command.

Each command words the message in its own terms (`imgpipe backfill: ...`)
and picks the exit status: a `SetupError` before any work is a usage
problem (2), any `CloudError` during the work a failure (1).
"""

from __future__ import annotations


class CloudError(Exception):
    """A cloud service, or its local stand-in, could not do what was asked."""


class SetupError(CloudError):
    """The deployment cannot be used as given: its outputs, the credentials or an
    endpoint are wrong; the message says what to fix."""


class MnsError(SetupError):
    """MNS refused a request; `code` is its error code (e.g. ReceiptHandleError)."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class InvokeError(CloudError):
    """An invocation FC did not accept; `retryable` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ListingError(CloudError):
    """A listing failed after its retries; the message names the marker to resume at."""
