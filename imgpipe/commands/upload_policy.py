"""`imgpipe upload-policy`: the PostObject form an app's server hands a browser.

From a deployed stack's `terraform output -json` and the credentials in the
environment (the signer role's STS credentials: docs/uploading.md); makes
nothing but a signature, no request leaves the machine. One browser upload
under `<source_prefix><--key-prefix><random>/`, at most `--max-mb` (default
and ceiling: the stack's `max_object_mb`), of the image types the function
processes, valid `--expires` seconds (`imgpipe.cloud.upload_policy`).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from imgpipe import argtypes, flags
from imgpipe.cloud import deployment, outputs, upload_policy
from imgpipe.cloud.errors import SetupError

# A policy for a page someone has open: minutes. An hour at most, so a
# leaked form stops working soon (OSS itself sets no ceiling).
MAX_POLICY_S = 3600
DEFAULT_POLICY_S = 600


def _key_prefix(text: str) -> str:
    """--key-prefix: a folder under the source prefix (`web/`, `app/avatars/`)."""
    if text.startswith("/") or not text.endswith("/") or ".." in text.split("/"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a folder such as web/ (ends with '/', no leading '/', no '..')"
        )
    return text


def add_arguments(p: argparse.ArgumentParser) -> None:
    flags.add_outputs(p)
    p.add_argument(
        "--key-prefix",
        type=_key_prefix,
        default="web/",
        metavar="FOLDER",
        help="under the stack's source prefix; a random folder per policy goes below it "
        "(default: web/)",
    )
    p.add_argument(
        "--expires",
        type=argtypes.integer(1, MAX_POLICY_S, meaning="a whole number of seconds"),
        default=DEFAULT_POLICY_S,
        metavar="SECONDS",
        help=f"how long the policy is valid (default {DEFAULT_POLICY_S}, at most {MAX_POLICY_S})",
    )
    p.add_argument(
        "--max-mb",
        type=argtypes.number(0, 5 * 1024, above_minimum=True),
        default=None,
        metavar="MB",
        help="largest upload in MiB (default and ceiling: the stack's max_object_mb)",
    )
    flags.add_endpoint_arguments(p, "oss")
    p.add_argument("--json", action="store_true", help="print the form as JSON")


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    try:
        stack, creds = deployment.for_signing(args.outputs)
    except SetupError as exc:
        print(f"imgpipe upload-policy: {exc}", file=sys.stderr)
        return 2
    max_bytes = stack.max_object_bytes
    if args.max_mb is not None:
        wanted = int(args.max_mb * 1024 * 1024)
        if wanted > max_bytes:
            print(
                f"imgpipe upload-policy: --max-mb {args.max_mb:g} is over the stack's "
                f"max_object_mb ({max_bytes / 2**20:g}): the function would reject such "
                "an upload unread",
                file=sys.stderr,
            )
            return 2
        max_bytes = wanted
    now = now or datetime.now(timezone.utc)
    endpoint = outputs.oss_endpoint(args.oss_endpoint, stack.region)
    prefix = f"{stack.source_prefix}{args.key_prefix}{uuid.uuid4().hex[:12]}/"
    try:
        form = upload_policy.form(
            url=upload_policy.bucket_url(stack.source_bucket, endpoint),
            bucket=stack.source_bucket,
            key_prefix=prefix,
            max_bytes=max_bytes,
            types=upload_policy.content_types(stack.image_suffixes),
            expiration=now + timedelta(seconds=args.expires),
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            security_token=creds.security_token,
        )
    except upload_policy.PolicyError as exc:
        print(f"imgpipe upload-policy: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(form.as_json(), indent=1))
        return 0
    print(f"POST {form.url}  (multipart/form-data; the file field last)")
    for name, value in form.fields.items():
        print(f"  {name}: {value}")
    print(f"  Content-Type: one of {', '.join(form.content_types)}")
    print("  file: the photo")
    print(
        f"Allows one or more uploads under {prefix} of 1 to {max_bytes} bytes "
        f"until {form.expiration}."
    )
    return 0
