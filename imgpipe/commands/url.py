"""`imgpipe url KEY`: a signed GET URL for one object of the target bucket (a
variant, a "ready" manifest, a rejection record), valid `--expires` seconds
(`imgpipe.cloud.urls`). Like `upload-policy`, a signature only: no request
leaves the machine.
"""

from __future__ import annotations

import argparse
import sys

from imgpipe import argtypes, flags
from imgpipe.cloud import deployment, outputs, urls
from imgpipe.cloud.errors import SetupError

DEFAULT_URL_S = 3600


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", metavar="KEY", help="an object of the target bucket (a variant's key)")
    flags.add_outputs(p)
    p.add_argument(
        "--expires",
        type=argtypes.integer(1, 7 * 24 * 3600, meaning="a whole number of seconds"),
        default=DEFAULT_URL_S,
        metavar="SECONDS",
        help=f"how long the URL works (default {DEFAULT_URL_S}, at most 7 days)",
    )
    flags.add_endpoint_arguments(p, "oss")


def run(args: argparse.Namespace) -> int:
    try:
        stack, creds = deployment.for_signing(args.outputs)
    except SetupError as exc:
        print(f"imgpipe url: {exc}", file=sys.stderr)
        return 2
    signer = urls.Signer(
        outputs.oss_endpoint(args.oss_endpoint, stack.region),
        creds.access_key_id,
        creds.access_key_secret,
        creds.security_token,
    )
    print(urls.variant_url(signer, stack.target_bucket, args.key, args.expires))
    return 0
