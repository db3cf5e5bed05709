"""What each outcome of the handler means, said once.

The handler logs one of these names per object; `imgpipe process` reports
the processor's side of the same verdicts (`ok` is `processed`, `rejected`
is `rejected`) and says what the pipeline would then do, from here; the
outcome table of docs/function.md is these rows, word for word (a test
keeps them in step, as it does the variables table). A rejection's
reasons and their meanings are the processor's (`imgproc.errors`).
"""

from __future__ import annotations

from typing import NamedTuple

from imgproc.errors import REASONS


class Described(NamedTuple):
    when: str
    then: str


PROCESSED, CURRENT, DELETED = "processed", "current", "deleted"
REJECTED, IGNORED, FAILED = "rejected", "ignored", "failed"

OUTCOMES: dict[str, Described] = {
    PROCESSED: Described(
        "every variant was written",
        "outputs under the key template, each with `Content-Type`, `Cache-Control` and "
        "metadata `x-oss-meta-source-bucket`, `-source-key`, `-source-etag`, "
        "`-config-fingerprint` (percent-encoded)",
    ),
    CURRENT: Described(
        "every variant (or the rejection record) already carries this object's ETag and "
        "this configuration's fingerprint",
        "nothing downloaded, nothing written (duplicates, retries after a partial success, "
        "backfills)",
    ),
    DELETED: Described(
        "a deletion event for an object that is still gone (`DELETE_VARIANTS_WITH_SOURCE`)",
        "its variants and rejection record deleted",
    ),
    REJECTED: Described(
        "the processor refused the bytes ("
        + ", ".join(f"`{r}`" for r in REASONS)
        + "; `too-large`: more pixels than `max_megapixels`, or more memory than the "
        "instance has, see *Memory*); an empty object is rejected as `empty`; an object over "
        "`MAX_OBJECT_BYTES` is `too-large`, never downloaded",
        "a JSON record at `REJECTED_PREFIX<path>.json` in the target bucket; not retried "
        "(it could never succeed)",
    ),
    IGNORED: Described(
        "not a finished creation (`InitiateMultipartUpload`, `UploadPart`, deletions when "
        "`DELETE_VARIANTS_WITH_SOURCE` is false, a deleted object that exists again...), "
        "another bucket, outside `SOURCE_PREFIX`, under the function's own output or "
        "rejection prefixes (recursion guard when source and target are one bucket), a "
        "folder marker, a key without an `IMAGE_SUFFIXES` ending (`not-an-image-suffix`), an "
        "object deleted since the event",
        "nothing written; the log line says why",
    ),
    FAILED: Described(
        "no answer, timeouts, a body cut short, OSS 5xx, 429, an expired STS token "
        "(`retryable: true`); 403 AccessDenied, 409 and other 4xx (`retryable: false`: the "
        "role or a bucket policy needs fixing, and the event waits in the queue for a "
        "replay; never `ignored`); bugs",
        "after the event's other records are done, the handler **raises**: FC retries the "
        "invocation and then sends it to the MNS dead-letter queue",
    ),
}


def table_rows() -> list[str]:
    """The Markdown rows of docs/function.md's outcome table."""
    return [f"| `{name}` | {d.when} | {d.then} |" for name, d in OUTCOMES.items()]
