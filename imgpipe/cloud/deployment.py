"""One stack's services, deployed or local, behind the same small interface.

A command that lists sources, checks outputs, invokes the function or reads
the dead-letter queue asks for a `Deployment` and never learns which kind it
got:

- `stack`: `terraform output -json`, or the dev environment's evaluated
  Terraform;
- `sources(prefix, after)`: OSS ListObjects (`objects.list_oss`), or the
  bucket's folder (`objects.list_local`);
- `target`: `fc_handler.storage_oss.OssStorage`, or
  `fc_handler.storage.LocalStorage`;
- `invoker`: FC 3.0 InvokeFunction, asynchronous (`fc.FcInvoker`), or the
  real handler in-process (`fc.LocalInvoker`);
- `dead_letters()`: the MNS queue (`deadletters.MnsDeadLetters`), or the
  demo's `dead-letters.jsonl` (`deadletters.FileDeadLetters`).

The test servers (tests/standins.py) stand in for OSS, FC and MNS behind
the deployed column: the endpoints are flags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oss2

from fc_handler.storage import LocalStorage, Storage
from fc_handler.storage_oss import OssStorage
from imgpipe.cloud import outputs
from imgpipe.cloud.credentials import Credentials
from imgpipe.cloud.deadletters import FileDeadLetters, MnsDeadLetters
from imgpipe.cloud.errors import SetupError
from imgpipe.cloud.fc import FcInvoker, LocalInvoker
from imgpipe.cloud.mns import MnsQueue
from imgpipe.cloud.objects import Listed, list_local, list_oss
from imgpipe.cloud.stack import FUNCTION_OUTPUTS, Stack


@dataclass
class Deployment:
    stack: Stack
    sources: Callable[[str, str], Iterator[Listed]]  # (prefix, after) -> objects in key order
    target: Storage
    invoker: Callable[[bytes], str]
    dead_letters: Callable[[], Any]  # -> MnsDeadLetters | FileDeadLetters
    work_dir: Path | None = None  # local runs: make demo's work directory

    @property
    def is_local(self) -> bool:
        return self.work_dir is not None


def local(buckets: Path, config_json: str | None = None) -> Deployment:
    """make demo's buckets (`.demo/buckets`), its function log and dead-letter file.

    `config_json` replaces the processor configuration (`Stack.local`); one
    that does not parse raises ValueError (`SettingsError`) naming it.
    """
    stack = Stack.local(config_json)
    work = buckets.parent
    return Deployment(
        stack=stack,
        sources=lambda prefix, after: list_local(buckets, stack.source_bucket, prefix, after),
        target=LocalStorage(buckets),
        invoker=LocalInvoker(buckets, stack.environment, work / "function.log"),
        dead_letters=lambda: FileDeadLetters(work / "dead-letters.jsonl"),
        work_dir=work,
    )


def deployed(
    outputs_path: str,
    required: Sequence[str] = FUNCTION_OUTPUTS,
    *,
    memory_mb: int = 1024,
    function: str | None = None,
    oss_endpoint: str | None = None,
    fc_endpoint: str | None = None,
    mns_endpoint: str | None = None,
) -> Deployment:
    """The stack of `outputs_path` (`terraform output -json`, `-` for stdin).

    Raises SetupError (a file that cannot be read, outputs that lack what
    `required` names, no credentials), before any request is made.
    """
    found = outputs.read(outputs_path)
    stack = Stack.from_outputs(found, required, memory_mb=memory_mb)
    if function:
        stack = dataclasses.replace(stack, function_name=function)
    creds = Credentials.from_env()
    auth = creds.oss_auth()
    oss_url = outputs.oss_endpoint(oss_endpoint, stack.region)
    source = oss2.Bucket(auth, oss_url, stack.source_bucket)
    mns_url = outputs.mns_endpoint(mns_endpoint, stack.region, stack.account)
    return Deployment(
        stack=stack,
        sources=lambda prefix, after: list_oss(source, prefix, after),
        target=OssStorage(auth, oss_url),
        invoker=FcInvoker(
            str(stack.function_name), region=stack.region, credentials=creds, endpoint=fc_endpoint
        ),
        dead_letters=lambda: MnsDeadLetters(MnsQueue(mns_url, str(stack.queue_name), creds)),
    )


# What a signature for a client needs (`imgpipe upload-policy`, `imgpipe url`).
SIGNING_OUTPUTS = ("source_bucket", "target_bucket", "queue_arn", "pipeline_config")


def for_signing(outputs_path: str) -> tuple[Stack, Credentials]:
    """The stack and the credentials a client's signature needs; no request is made.

    Raises SetupError naming what is missing: an output, `max_object_bytes`
    in `pipeline_config` (a stack applied before it had it), the credentials.
    """
    stack = Stack.from_outputs(outputs.read(outputs_path), SIGNING_OUTPUTS)
    if stack.max_object_bytes is None:
        msg = "pipeline_config lacks max_object_bytes: re-apply the stack"
        raise SetupError(msg)
    return stack, Credentials.from_env()
