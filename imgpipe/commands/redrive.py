"""`imgpipe redrive`: show the dead-letter queue, and send its events back to FC.

Both kinds of message that reach the queue are understood
(`imgpipe.cloud.deadletters`); each is one line: age, layer, object, reason.

`--peek` changes nothing: MNS's PeekMessage shows at most 16 messages
without receiving them. Without it, messages are received in batches of
16, each event is re-invoked **asynchronously** (FC 3.0 InvokeFunction,
through `imgpipe.cloud.fc.FcInvoker`, retried on 429/5xx), and a message is
deleted only after FC accepted its re-invoke (202). A message that cannot be
parsed, or whose re-invoke FC did not accept, is kept and reported: it
becomes visible again when its visibility timeout passes. A delete whose
receipt handle expired meanwhile (a re-invoke slower than the visibility
timeout) is reported too: the message will be seen again and its second
re-invoke is harmless, the handler finding the work current.

Locally (`--buckets .demo/buckets`), the queue is the demo's
`dead-letters.jsonl` (messages in MNS's fields), the function the real
handler in-process, and "delete" removes the line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imgpipe import argtypes, flags
from imgpipe.cloud import deployment
from imgpipe.cloud.deadletters import MnsDeadLetters
from imgpipe.cloud.errors import SetupError
from imgpipe.cloud.stack import FUNCTION_OUTPUTS
from imgpipe.jobs.redrive import redrive


def add_arguments(p: argparse.ArgumentParser) -> None:
    flags.add_outputs_or_buckets(
        p,
        buckets_help="local buckets (make demo's .demo/buckets); "
        "the queue is DIR/../dead-letters.jsonl",
    )
    p.add_argument("--peek", action="store_true", help="show the messages, change nothing")
    p.add_argument(
        "--retries",
        type=argtypes.integer(0, 20, meaning="a whole number of retries"),
        default=4,
        help="retries of a throttled or failed re-invoke before the message is kept",
    )
    flags.add_endpoint_arguments(p, "mns", "fc")


def run(args: argparse.Namespace) -> int:
    try:
        if args.buckets is not None:
            where = deployment.local(Path(args.buckets))
        else:
            where = deployment.deployed(
                args.outputs,
                (*FUNCTION_OUTPUTS, "queue_name"),
                fc_endpoint=args.fc_endpoint,
                mns_endpoint=args.mns_endpoint,
            )
        queue, invoker = where.dead_letters(), where.invoker
    except (OSError, ValueError, SetupError) as exc:
        print(f"imgpipe redrive: {exc}", file=sys.stderr)
        return 2
    try:
        if args.peek:
            letters = queue.peek()
            for letter in letters:
                print(letter.line())
            more = " (MNS peeks at most 16)" if isinstance(queue, MnsDeadLetters) else ""
            print(f"{len(letters)} message(s){more}; nothing changed")
            return 0
        report = redrive(queue, invoker, retries=args.retries)
    except SetupError as exc:  # MNS unreachable or refusing: classified, no traceback
        print(f"imgpipe redrive: {exc}", file=sys.stderr)
        return 1
    print(f"re-invoked and deleted {len(report.redriven)}; kept {len(report.kept)}")
    return 1 if report.kept else 0
