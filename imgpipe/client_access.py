"""`imgpipe upload-policy` and `imgpipe url`: what an app's server hands a browser.

Both start from a deployed stack's `terraform output -json` and the
credentials in the environment (`ALIBABA_CLOUD_ACCESS_KEY_ID`,
`ALIBABA_CLOUD_ACCESS_KEY_SECRET`, and `ALIBABA_CLOUD_SECURITY_TOKEN` for
the STS credentials of the signer role: docs/uploading.md), and make
nothing but a signature: no request leaves the machine.

- `upload-policy`: a PostObject form for one browser upload under
  `<source_prefix><--key-prefix><random>/`, at most `--max-mb` (default and
  ceiling: the stack's `max_object_mb`), of the image types the function
  processes, valid `--expires` seconds (`imgpipe.upload_policy`);
- `url KEY`: a signed GET URL for one object of the target bucket (a
  variant, a "ready" manifest, a rejection record), valid `--expires`
  seconds (`imgpipe.urls`).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from imgpipe import argtypes, stackoutputs

REQUIRED = ("source_bucket", "target_bucket", "queue_arn", "pipeline_config")
# A policy for a page someone has open: minutes. An hour at most, so a
# leaked form stops working soon (OSS itself sets no ceiling).
MAX_POLICY_S = 3600
DEFAULT_POLICY_S = 600
DEFAULT_URL_S = 3600


class StackError(Exception):
    """The outputs or credentials cannot be used; the message says why."""


@dataclass(frozen=True)
class Deployed:
    source_bucket: str
    target_bucket: str
    region: str
    source_prefix: str
    max_object_bytes: int
    image_suffixes: tuple[str, ...]

    @classmethod
    def from_outputs(cls, outputs: dict[str, Any]) -> Deployed:
        found = stackoutputs.values(outputs, REQUIRED, StackError)
        region, _account = stackoutputs.region_account(
            str(found["queue_arn"]), "queue_arn", "mns", StackError
        )
        pipeline, _config = stackoutputs.pipeline(found, StackError)
        try:
            max_bytes = int(pipeline["max_object_bytes"])
            suffixes = tuple(str(s) for s in pipeline["image_suffixes"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"pipeline_config lacks max_object_bytes or image_suffixes ({exc}): re-apply"
            raise StackError(msg) from None
        return cls(
            source_bucket=str(found["source_bucket"]),
            target_bucket=str(found["target_bucket"]),
            region=region,
            source_prefix=str(pipeline["source_prefix"]),
            max_object_bytes=max_bytes,
            image_suffixes=suffixes,
        )


def _key_prefix(text: str) -> str:
    """--key-prefix: a folder under the source prefix (`web/`, `app/avatars/`)."""
    if text.startswith("/") or not text.endswith("/") or ".." in text.split("/"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a folder such as web/ (ends with '/', no leading '/', no '..')"
        )
    return text


def add_policy_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--outputs", required=True, metavar="FILE", help="`terraform output -json` (- for stdin)"
    )
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
    stackoutputs.add_endpoint_arguments(p, "oss")
    p.add_argument("--json", action="store_true", help="print the form as JSON")


def add_url_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("key", metavar="KEY", help="an object of the target bucket (a variant's key)")
    p.add_argument(
        "--outputs", required=True, metavar="FILE", help="`terraform output -json` (- for stdin)"
    )
    p.add_argument(
        "--expires",
        type=argtypes.integer(1, 7 * 24 * 3600, meaning="a whole number of seconds"),
        default=DEFAULT_URL_S,
        metavar="SECONDS",
        help=f"how long the URL works (default {DEFAULT_URL_S}, at most 7 days)",
    )
    stackoutputs.add_endpoint_arguments(p, "oss")


def _setup(args: argparse.Namespace, command: str):
    from imgpipe.smoke import Credentials, SetupError

    try:
        stack = Deployed.from_outputs(stackoutputs.read(args.outputs))
        creds = Credentials.from_env()
    except (OSError, ValueError, StackError, SetupError) as exc:
        print(f"imgpipe {command}: {exc}", file=sys.stderr)
        return None
    return stack, creds


def run_policy(args: argparse.Namespace, now: datetime | None = None) -> int:
    from imgpipe import upload_policy

    setup = _setup(args, "upload-policy")
    if setup is None:
        return 2
    stack, creds = setup
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
    endpoint = stackoutputs.oss_endpoint(args.oss_endpoint, stack.region)
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


def run_url(args: argparse.Namespace) -> int:
    from imgpipe import urls

    setup = _setup(args, "url")
    if setup is None:
        return 2
    stack, creds = setup
    signer = urls.Signer(
        stackoutputs.oss_endpoint(args.oss_endpoint, stack.region),
        creds.access_key_id,
        creds.access_key_secret,
        creds.security_token,
    )
    print(urls.variant_url(signer, stack.target_bucket, args.key, args.expires))
    return 0
