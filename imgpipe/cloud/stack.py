"""A deployed stack as every command sees it: from its `terraform output -json`
(`Stack.from_outputs`) or, locally, from the dev environment's evaluated
Terraform (`Stack.local`), as `make demo` runs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fc_handler.current import Outputs, outputs_for
from fc_handler.settings import Settings, SettingsError, is_image_key, parse_suffixes
from imgpipe.cloud import outputs
from imgpipe.cloud.errors import SetupError
from imgpipe.cloud.eventpattern import matches
from imgpipe.cloud.terraform import LOCAL_ACCOUNT, LOCAL_REGION, evaluate

# What each command needs of the outputs; the region and account come from
# the first ARN among them (acs:<service>:<region>:<account>:...).
FUNCTION_OUTPUTS = (
    "source_bucket",
    "target_bucket",
    "function_name",
    "function_arn",
    "event_filter_pattern",
    "pipeline_config",
)
QUEUE_OUTPUTS = ("source_bucket", "target_bucket", "queue_name", "queue_arn", "pipeline_config")
_ARNS = {"function_arn": "fc", "queue_arn": "mns"}


@dataclass(frozen=True)
class Stack:
    """What the local tools need to know about a deployment (or the demo's)."""

    source_bucket: str
    target_bucket: str
    source_prefix: str
    rejected_prefix: str
    config: Any  # imgproc.Config
    region: str
    account: str
    pattern: dict[str, Any] = field(default_factory=dict)
    memory_mb: int = 1024
    function_name: str | None = None
    queue_name: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)  # local runs
    max_object_bytes: int | None = None
    # Endings the handler takes (IMAGE_SUFFIXES): the deployed pattern
    # routes every key under the prefix (EventBridge's 5 expressions).
    image_suffixes: tuple[str, ...] = Settings.image_suffixes

    def ignore_reason(self, item: Any) -> str | None:
        """Why the handler would ignore this listed object, so invoking it is waste.

        The handler's own rule (`fc_handler.handle`), for what a listing
        knows: with one bucket for sources and outputs, one of the function's
        own outputs. Without this each rerun would invoke them again, since
        they never get variants. An empty object and one over
        MAX_OBJECT_BYTES are invoked: the handler rejects them with a record
        (`empty`; `too-large`, never downloaded), so they are current once
        done, and the backfill leaves the same records as an upload would.
        """
        guarded = (*self.config.output_prefixes(), self.rejected_prefix)
        if self.source_bucket == self.target_bucket and item.key.startswith(guarded):
            return "own-output"
        return None

    def routes(self, item: Any, event: dict[str, Any]) -> bool:
        """Whether the deployed routing takes this object: the pattern, then the ending.

        The ending is the handler's test (IMAGE_SUFFIXES, any case), which
        took over from the pattern where EventBridge's 5 expressions per
        field could not: an object either fails is "filtered", as before.
        """
        return matches(self.pattern, event) and is_image_key(item.key, self.image_suffixes)

    def outputs(self, source_key: str) -> Outputs:
        """Every key the function writes for `source_key`: the handler's own list."""
        return outputs_for(self.config, self.source_prefix, self.rejected_prefix, source_key)

    @classmethod
    def from_outputs(
        cls,
        found_outputs: dict[str, Any],
        required: Sequence[str] = FUNCTION_OUTPUTS,
        *,
        memory_mb: int = 1024,
    ) -> Stack:
        """Read `terraform output -json` (each output is `{"value": ...}`).

        `required`: the outputs the command cannot do without (a stack
        applied before an output existed fails here, naming it).
        """
        found = outputs.values(found_outputs, required)
        arn = next(name for name in required if name in _ARNS)
        region, account = outputs.region_account(str(found[arn]), arn, _ARNS[arn])
        pipeline, config = outputs.pipeline(found)
        pattern: dict[str, Any] = {}
        if "event_filter_pattern" in required:
            try:
                pattern = json.loads(found["event_filter_pattern"])
            except (ValueError, TypeError) as exc:
                raise SetupError(f"event_filter_pattern output is not JSON: {exc}") from None
        return cls(
            source_bucket=str(found["source_bucket"]),
            target_bucket=str(found["target_bucket"]),
            source_prefix=str(pipeline["source_prefix"]),
            rejected_prefix=str(pipeline.get("rejected_prefix", "rejected/")),
            config=config,
            pattern=pattern,
            memory_mb=memory_mb,
            region=region,
            account=account,
            function_name=_optional(found.get("function_name")),
            queue_name=_optional(found.get("queue_name")),
            max_object_bytes=_positive_int(pipeline.get("max_object_bytes")),
            image_suffixes=_suffixes(pipeline.get("image_suffixes")),
        )

    @classmethod
    def local(cls, config_json: str | None = None, variables: dict | None = None) -> Stack:
        """The dev environment's evaluated Terraform, as `make demo` runs it.

        `config_json` replaces the processor configuration (IMGPIPE_CONFIG),
        to try a variant change locally before changing `var.variants`.
        """
        ev = evaluate({"env": "dev", **(variables or {})})
        env = dict(ev.function_environment)
        if config_json is not None:
            env["IMGPIPE_CONFIG"] = config_json
        settings = Settings.from_env(env)
        return cls(
            source_bucket=settings.source_bucket,
            target_bucket=settings.target_bucket,
            source_prefix=settings.source_prefix,
            rejected_prefix=settings.rejected_prefix,
            config=settings.processor,
            pattern=ev.filter_pattern,
            memory_mb=int(ev.one("alicloud_fcv3_function")["memory_size"]),
            region=LOCAL_REGION,
            account=LOCAL_ACCOUNT,
            environment=env,
            max_object_bytes=settings.max_object_bytes,
            image_suffixes=settings.image_suffixes,
        )


def _optional(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _suffixes(value: Any) -> tuple[str, ...]:
    """pipeline_config's image_suffixes; a stack from before it had them: the handler's default."""
    if value is None:
        return Settings.image_suffixes
    try:
        return parse_suffixes(",".join(value))
    except (SettingsError, TypeError) as exc:
        raise SetupError(f"pipeline_config output: image_suffixes: {exc}") from None


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
