"""A stand-in `aliyun/alicloud` provider, for running real Terraform offline.

Terraform needs a provider for its schema and for plan/apply answers,
nothing more; the real provider binary cannot be downloaded here. This
program speaks Terraform's plugin protocol 6 (the gRPC stubs and the
go-plugin handshake come from PyPI's `tf` package) and serves the provider's
schema from the snapshot in `tests/data/alicloud/` (read from the provider's
Go source at v1.289.0; see that file's `_source`). It is test tooling: it is
neither packaged nor used by the `imgpipe` CLI. `tests/tfprovider/README.md`
says how Terraform finds it (`dev_overrides`).

What it does the way terraform-plugin-sdk v2 (the provider's SDK) does:

- schema: `id` on every resource; a `timeouts` block where the resource has
  timeouts; `TypeList`/`TypeSet` of `*schema.Resource` as list/set nested
  blocks with min/max items (Required makes min 1, Optional drops it);
  computed-only nested values as attributes; required/optional/computed,
  sensitive and deprecated flags.
- ValidateResourceConfig: the schema's own ValidateFuncs (StringInSlice,
  IntBetween, IntAtLeast, StringLenBetween, StringMatch, FloatBetween,
  IntInSlice, StringIsJSON), ConflictsWith and ExactlyOneOf, with the SDK's
  wording; computed-only attributes cannot be set; deprecated arguments
  warn, removed ones fail. Unknown values are
  not validated (the SDK skips them too).
- PlanResourceChange: defaults for unset arguments; unset computed
  attributes become unknown (`(known after apply)`), so `for_each` over one
  fails as it would in a real plan; ForceNew changes ask for replacement.
  Like the SDK it answers with `legacy_type_system`.
- ApplyResourceChange: unknowns get deterministic fakes (ids in the
  provider's id format where the snapshot documents it, ARNs in their
  format, otherwise a digest of the planned values).

The cloud's limits (`limit_errors`, docs/limits.md): a plan is refused where
the real API would refuse the apply (RAM policy length, FC environment size,
EventBridge expressions per pattern field, CDN domain names, origins, types
and ports), and gRPC messages over 4 MiB are refused as the real provider
refuses them.

What it does not do: talk to a cloud, CustomizeDiff, DiffSuppressFunc,
StateFunc, import, or the provider's runtime checks. README "Proving the
Terraform without a cloud" lists what only the real provider can catch.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import msgpack
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "alicloud"
SCHEMA_FILES = ("provider-schema.json", "extra-schema.json")
FAKE_ACCOUNT_ID = "1234567890123456"

# ------------------------------------------------------------------ values


class _Unknown:
    """cty's unknown value (msgpack extension 0, or 12 with refinements)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


def decode(value: pb.DynamicValue) -> Any:
    if value.msgpack:
        return msgpack.unpackb(
            value.msgpack, raw=False, strict_map_key=False, ext_hook=lambda _c, _d: UNKNOWN
        )
    if value.json:
        return json.loads(value.json)
    return None


def encode(value: Any) -> pb.DynamicValue:
    def default(obj: Any) -> Any:
        if obj is UNKNOWN:
            return msgpack.ExtType(0, b"\x00")
        raise TypeError(f"cannot encode {obj!r}")

    return pb.DynamicValue(msgpack=msgpack.packb(value, default=default, use_bin_type=True))


def has_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


# ------------------------------------------------------------------ schema

_PRIMITIVE = {"String": "string", "Int": "number", "Float": "number", "Bool": "bool"}
_TIMEOUT_KEYS = ("Create", "Read", "Update", "Delete", "Default")


def _elem_type(elem: dict[str, Any] | None) -> Any:
    """The cty type of a primitive collection's element (SDK: TypeString when unset)."""
    if not elem:
        return "string"
    return _cty_type(elem)


def _cty_type(spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind in _PRIMITIVE:
        return _PRIMITIVE[kind]
    if kind == "Map":
        return ["map", _elem_type(spec.get("elem"))]
    collection = "list" if kind == "List" else "set"
    if spec.get("block"):
        attrs = {n: _cty_type(s) for n, s in spec["block"].items()}
        return [collection, ["object", attrs]]
    return [collection, _elem_type(spec.get("elem"))]


def build_block(args: dict[str, Any]) -> dict[str, Any]:
    """terraform-plugin-sdk's coreConfigSchema for one schema.Resource's map."""
    attrs: dict[str, dict[str, Any]] = {}
    blocks: dict[str, dict[str, Any]] = {}
    for name, spec in args.items():
        computed_only = spec["computed"] and not spec["optional"] and not spec["required"]
        nested = spec.get("block")
        if nested and spec["type"] in ("List", "Set") and not computed_only:
            min_items = spec.get("min_items", 0) or 0
            max_items = spec.get("max_items", 0) or 0
            if spec["required"] and min_items == 0:
                min_items = 1
            if spec["optional"] and min_items > 0:
                min_items = 0
            blocks[name] = {
                "nesting": spec["type"].lower(),
                "min": min_items,
                "max": max_items,
                "block": build_block(nested),
                "spec": spec,
            }
        else:
            attrs[name] = {
                "type": _cty_type(spec),
                "required": bool(spec["required"]),
                # The SDK makes an argument that is neither optional,
                # required nor computed optional; the snapshot has none.
                "optional": bool(spec["optional"]),
                "computed": bool(spec["computed"]),
                "sensitive": bool(spec.get("sensitive")),
                "spec": spec,
            }
    return {"attrs": attrs, "blocks": blocks}


def build_resource(spec: dict[str, Any], *, data_source: bool = False) -> dict[str, Any]:
    block = build_block(spec["arguments"])
    if "id" not in block["attrs"]:
        block["attrs"]["id"] = {
            "type": "string",
            "required": False,
            "optional": True,
            "computed": True,
            "sensitive": False,
            "spec": {},
        }
    timeouts = spec.get("timeouts") or {}
    if timeouts and not data_source:
        block["blocks"]["timeouts"] = {
            "nesting": "single",
            "min": 0,
            "max": 0,
            "block": {
                "attrs": {
                    key.lower(): {
                        "type": "string",
                        "required": False,
                        "optional": True,
                        "computed": False,
                        "sensitive": False,
                        "spec": {},
                    }
                    for key in _TIMEOUT_KEYS
                    if key in timeouts
                },
                "blocks": {},
            },
            "spec": {},
        }
    return block


def _arg(kind: str, **flags: Any) -> dict[str, Any]:
    """One argument in the snapshot's form (for the data sources written out here)."""
    spec = {"type": kind, "required": False, "optional": False, "computed": False}
    spec.update(force_new=False, deprecated=None, allowed=None, block=None)
    spec.update(flags)
    return spec


def _service_activation(default: str | None) -> dict[str, Any]:
    """The `alicloud_<product>_service` data sources: `enable = "On"` opens the service."""
    enable = _arg(
        "String",
        optional=True,
        validation={"func": "StringInSlice", "allowed": ["On", "Off"], "ignore_case": False},
    )
    if default is not None:
        enable["default"] = default
    return {"arguments": {"enable": enable, "status": _arg("String", computed=True)}}


# The data sources the configurations read, written out from the provider's
# source (the snapshot covers resources only):
# - alicloud_account: alicloud/data_source_alicloud_account.go at commit
#   0612d7569dc6c40e76b6758f08452274361dc863: one computed `id`.
# - alicloud_{event_bridge,fc,mns}_service: data_source_alicloud_<name>.go at
#   0612d7569dc6c40e76b6758f08452274361dc863 (event_bridge at 21a842f9714a),
#   enable (On/Off, default Off) and a computed status;
#   alicloud_log_service at 081a1e0471d4 has no default for `enable`.
DATA_SOURCES: dict[str, dict[str, Any]] = {
    "alicloud_account": {"arguments": {"id": _arg("String", computed=True)}},
    "alicloud_event_bridge_service": _service_activation("Off"),
    "alicloud_fc_service": _service_activation("Off"),
    "alicloud_mns_service": _service_activation("Off"),
    "alicloud_log_service": _service_activation(None),
}
SERVICE_IDS = {
    "alicloud_event_bridge_service": "EventBridgeService",
    "alicloud_fc_service": "FcService",
    "alicloud_mns_service": "MnsService",
    "alicloud_log_service": "LogService",
}

# The provider block: the credential and placement arguments of
# alicloud/provider.go that a configuration here may set. All optional (the
# provider reads the environment); this is a subset, not the whole block.
PROVIDER_ARGS = {
    name: {
        "type": "String",
        "required": False,
        "optional": True,
        "computed": False,
        "force_new": False,
        "deprecated": None,
        "allowed": None,
        "block": None,
        "sensitive": name in ("secret_key", "security_token"),
    }
    for name in (
        "region",
        "access_key",
        "secret_key",
        "security_token",
        "profile",
        "shared_credentials_file",
        "account_id",
        "ecs_role_name",
    )
}


def load_resources(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    """Resource type -> {"spec": snapshot entry, "block": protocol schema}."""
    out: dict[str, dict[str, Any]] = {}
    for name in SCHEMA_FILES:
        for rtype, spec in json.loads((directory / name).read_text()).items():
            if rtype.startswith("alicloud_") and rtype not in out:
                out[rtype] = {"spec": spec, "block": build_resource(spec)}
    return out


def block_pb(block: dict[str, Any]) -> pb.Schema.Block:
    attrs = []
    for name in sorted(block["attrs"]):
        a = block["attrs"][name]
        attrs.append(
            pb.Schema.Attribute(
                name=name,
                type=json.dumps(a["type"]).encode(),
                required=a["required"],
                optional=a["optional"],
                computed=a["computed"],
                sensitive=a["sensitive"],
                deprecated=bool(a["spec"].get("deprecated")),
                description=a["spec"].get("deprecated") or "",
            )
        )
    nesting = {
        "list": pb.Schema.NestedBlock.LIST,
        "set": pb.Schema.NestedBlock.SET,
        "single": pb.Schema.NestedBlock.SINGLE,
    }
    blocks = [
        pb.Schema.NestedBlock(
            type_name=name,
            block=block_pb(b["block"]),
            nesting=nesting[b["nesting"]],
            min_items=b["min"],
            max_items=b["max"],
        )
        for name, b in sorted(block["blocks"].items())
    ]
    return pb.Schema.Block(attributes=attrs, block_types=blocks)


# ------------------------------------------------------------------ validation
# The messages are terraform-plugin-sdk v2's (helper/validation, schema.go).


def _fmt_float(x: float) -> str:
    return f"{x:f}"


def _go_quote_list(items: list[Any]) -> str:
    return "[" + " ".join(json.dumps(str(i)) for i in items) + "]"


def check_value(key: str, value: Any, v: dict[str, Any]) -> str | None:
    """One ValidateFunc; the error message, or None."""
    func = v.get("func", "")
    args = v.get("args") or []
    if func == "StringInSlice":
        allowed = [str(a) for a in v["allowed"]]
        ok = (
            value.lower() in [a.lower() for a in allowed]
            if v.get("ignore_case")
            else value in allowed
        )
        return None if ok else f"expected {key} to be one of {_go_quote_list(allowed)}, got {value}"
    if func == "IntInSlice":
        return (
            None
            if value in v["allowed"]
            else f"expected {key} to be one of [{' '.join(map(str, v['allowed']))}], got {value}"
        )
    if func == "IntBetween":
        lo, hi = args
        ok = lo <= value <= hi
        return None if ok else f"expected {key} to be in the range ({lo} - {hi}), got {_num(value)}"
    if func == "IntAtLeast":
        return (
            None
            if value >= args[0]
            else f"expected {key} to be at least ({args[0]}), got {_num(value)}"
        )
    if func == "FloatBetween":
        lo, hi = args
        return (
            None
            if lo <= value <= hi
            else f"expected {key} to be in the range ({_fmt_float(lo)} - {_fmt_float(hi)}), "
            f"got {_fmt_float(value)}"
        )
    if func == "StringLenBetween":
        lo, hi = args
        return (
            None
            if lo <= len(value) <= hi
            else f"expected length of {key} to be in the range ({lo} - {hi}), got {value}"
        )
    if func == "StringMatch":
        if re.search(v["regex"], value):
            return None
        if v.get("message"):
            return f"invalid value for {key} ({v['message']})"
        pattern = json.dumps(v["regex"])
        return f"expected value of {key} to match regular expression {pattern}, got {value}"
    if func.endswith("StringIsJSON"):
        try:
            json.loads(value)
        except ValueError as exc:
            return f"{json.dumps(key)} contains an invalid JSON: {exc}"
        return None
    if func == "validateOssBucketDateTimestamp":
        # alicloud/validators.go: time.Parse("2006-01-02", v)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return None
        return f"{json.dumps(value)} cannot be parsed as date YYYY-MM-DD Format"
    return None


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _path(steps: list[str | int]) -> pb.AttributePath:
    return pb.AttributePath(
        steps=[
            pb.AttributePath.Step(element_key_int=s)
            if isinstance(s, int)
            else pb.AttributePath.Step(attribute_name=s)
            for s in steps
        ]
    )


def _diag(summary: str, steps: list[str | int], *, warning: bool = False, detail: str = ""):
    return pb.Diagnostic(
        severity=pb.Diagnostic.WARNING if warning else pb.Diagnostic.ERROR,
        summary=summary,
        detail=detail,
        attribute=_path(steps) if steps else None,
    )


def _given(value: Any) -> bool:
    """Set in the configuration, as the SDK's ResourceConfig.Get sees it (no empty blocks)."""
    return value is not None and value is not UNKNOWN and value != []


def validate_block(block: dict[str, Any], config: Any, steps: list[str | int]) -> list:
    """Validate one object of configuration against one block schema."""
    diags: list = []
    if config is None or config is UNKNOWN:
        return diags
    for name, a in block["attrs"].items():
        spec = a["spec"]
        value = config.get(name)
        here = [*steps, name]
        key = ".".join(str(s) for s in here)
        for group in (spec.get("exactly_one_of") or [],):
            if not group:
                continue
            keys = sorted(set([*group, name]))
            unknown = sum(1 for k in keys if config.get(k) is UNKNOWN)
            given = [k for k in keys if _given(config.get(k))]
            if not given and not unknown:
                diags.append(_diag(f'"{name}": one of `{",".join(keys)}` must be specified', here))
            elif len(given) > 1:
                diags.append(
                    _diag(
                        f'"{name}": only one of `{",".join(keys)}` can be specified, '
                        f"but `{','.join(given)}` were specified.",
                        here,
                    )
                )
        if value is None:
            continue
        if a["computed"] and not a["optional"] and not a["required"]:
            diags.append(_diag(f'"{name}": this field cannot be set', here))
            continue
        if spec.get("removed"):
            diags.append(_diag(spec["removed"], here))
            continue
        if spec.get("deprecated"):
            diags.append(
                _diag("Argument is deprecated", here, warning=True, detail=spec["deprecated"])
            )
        for other in spec.get("conflicts_with") or []:
            if _given(config.get(other)):
                diags.append(_diag(f'"{name}": conflicts with {other}', here))
        if value is UNKNOWN or not spec.get("validation"):
            continue
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            message = check_value(key, value, spec["validation"])
            if message:
                diags.append(_diag(message, here))
    for name, b in block["blocks"].items():
        value = config.get(name)
        if value is None or value is UNKNOWN:
            continue
        if spec_removed := b["spec"].get("removed"):
            diags.append(_diag(spec_removed, [*steps, name]))
            continue
        if b["nesting"] == "single":
            diags += validate_block(b["block"], value, [*steps, name])
            continue
        for i, item in enumerate(value):
            # Set elements have no index in an attribute path: point at the block.
            where = [*steps, name, i] if b["nesting"] == "list" else [*steps, name]
            diags += validate_block(b["block"], item, where)
    return diags


# ------------------------------------------------------------------ the cloud's limits
# What the real API refuses at create or update, with its source
# (docs/limits.md has the table). The real provider sends these values
# unchecked and the apply fails; the stand-in refuses them when it plans,
# so that every offline plan of every configuration proves them.

GRPC_MAX_MESSAGE = 4 * 1024 * 1024  # terraform-plugin-sdk v1's gRPC server (grpc-go default)
RAM_POLICY_MAX = 6144
FC_ENVIRONMENT_MAX = 4096
PATTERN_EXPRESSIONS_MAX = 5


def _count_pattern_expressions(pattern: Any, path: str = "") -> dict[str, int]:
    """Map-form expressions ({prefix}, {suffix}, ...) in each leaf list of an event pattern."""
    counts: dict[str, int] = {}
    if isinstance(pattern, dict):
        for key, value in pattern.items():
            counts.update(_count_pattern_expressions(value, f"{path}.{key}" if path else key))
    elif isinstance(pattern, list):
        counts[path] = sum(1 for item in pattern if isinstance(item, dict))
    return counts


def limit_errors(rtype: str, planned: dict[str, Any]) -> list[tuple[str, list[str | int]]]:
    """(message, attribute path) for each documented limit `planned` breaks."""
    errors: list[tuple[str, list[str | int]]] = []
    if rtype == "alicloud_ram_policy":
        doc = planned.get("policy_document")
        if isinstance(doc, str) and len(doc) > RAM_POLICY_MAX:
            errors.append(
                (
                    f"RAM CreatePolicy refuses this policy_document: {len(doc)} characters, "
                    f"and 'The document must be 1 to {RAM_POLICY_MAX:,} characters in length' "
                    "(https://alibabacloud.com/help/en/resource-management/api-createpolicy)",
                    ["policy_document"],
                )
            )
    if rtype == "alicloud_fcv3_function":
        env = planned.get("environment_variables")
        if isinstance(env, dict) and not has_unknown(env):
            size = sum(len(k.encode()) + len(str(v).encode()) for k, v in env.items())
            if size > FC_ENVIRONMENT_MAX:
                errors.append(
                    (
                        f"FC refuses these environment_variables: {size} bytes of names and "
                        "values, and 'The total size of all environment variables cannot exceed "
                        "4 KB' (https://www.alibabacloud.com/help/en/functioncompute/fc/"
                        "environment-variables)",
                        ["environment_variables"],
                    )
                )
    if rtype == "alicloud_fcv3_trigger":
        raw = planned.get("trigger_config")
        if isinstance(raw, str):
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                pattern = json.loads(json.loads(raw).get("eventRuleFilterPattern") or "{}")
                for field, n in sorted(_count_pattern_expressions(pattern).items()):
                    if n > PATTERN_EXPRESSIONS_MAX:
                        errors.append(
                            (
                                f"EventBridge refuses this event pattern: {n} expressions in "
                                f"field {field!r}, and 'Expressions per field in stringExpression "
                                f"mode | {PATTERN_EXPRESSIONS_MAX} (map structure)' "
                                "(https://help.aliyun.com/en/eventbridge/product-overview/limits)",
                                ["trigger_config"],
                            )
                        )
    errors += cdn_limit_errors(rtype, planned)
    return errors


# CDN (serving mode cdn, docs/serving.md). The provider at v1.289.0 checks
# neither cdn_type nor domain_name (resource_alicloud_cdn_domain_new.go,
# lines 32-36 and 92-96); AddCdnDomain refuses what its documentation rules
# out, as the provider's page writes it (website/docs/r/cdn_domain_new.html.markdown
# at v1.289.0): cdn_type "Valid values are `web`, `download`, `video`" (line 54),
# the domain's labels (line 57: "1 to 63 characters, must contain only
# alphanumeric characters or "-", and must not begin or end with "-", and "-"
# must not in the 3th and 4th character positions at the same time. Suffix
# `.sh` and `.tel` are not supported"), a wildcard as ".example.com" (ROS
# ALIYUN::CDN::Domain: "The domain name must start with a period (.)"), a
# source's port "Valid values are `443` and `80`" (line 91). An `oss` origin is
# the bucket's public endpoint: "Enter a public endpoint of an OSS bucket as
# your origin (private endpoints are not supported). Example:
# ***.oss-cn-hangzhou.aliyuncs.com" (CDN user guide, "Configure an origin",
# help.aliyun.com/en/cdn/user-guide/configure-an-origin-server).
CDN_TYPES = ("web", "download", "video")
_CDN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_OSS_ORIGIN = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\.oss-[a-z0-9-]+\.aliyuncs\.com$")
_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$")
# l2_oss_key, the private-bucket origin: its switch is private_oss_auth, on or
# off (the provider's acceptance test, resource_alicloud_cdn_domain_config_test.go
# at v1.289.0, lines 1115-1161).
L2_OSS_KEY_ARGS = {"private_oss_auth": ("on", "off")}


def cdn_domain_error(name: str) -> str | None:
    """Why AddCdnDomain refuses `name`, or None."""
    host = name[1:] if name.startswith(".") else name
    labels = host.split(".")
    if len(labels) < 2 or not all(_CDN_LABEL.match(label) for label in labels):
        return "labels of 1-63 lower-case letters, digits or '-', not starting or ending with '-'"
    if any(label[2:4] == "--" for label in labels):
        return "'-' in both the 3rd and 4th place of a label"
    if labels[-1] in ("sh", "tel"):
        return "suffixes .sh and .tel are not supported"
    return None


def cdn_limit_errors(rtype: str, planned: dict[str, Any]) -> list[tuple[str, list[str | int]]]:
    errors: list[tuple[str, list[str | int]]] = []
    page = "(AddCdnDomain; website/docs/r/cdn_domain_new.html.markdown at v1.289.0)"
    if rtype == "alicloud_cdn_domain_new":
        name = planned.get("domain_name")
        if isinstance(name, str) and (why := cdn_domain_error(name)):
            errors.append((f"CDN refuses domain_name {name!r}: {why} {page}", ["domain_name"]))
        kind = planned.get("cdn_type")
        if isinstance(kind, str) and kind not in CDN_TYPES:
            errors.append(
                (f"CDN refuses cdn_type {kind!r}: valid values are web, download, video {page}",
                 ["cdn_type"])
            )  # fmt: skip
        for source in planned.get("sources") or []:
            if not isinstance(source, dict) or has_unknown(source):
                continue
            content, port = source.get("content"), source.get("port")
            if port not in (80, 443, None):
                errors.append((f"CDN refuses origin port {port}: 80 or 443 {page}", ["sources"]))
            shape = {
                "oss": _OSS_ORIGIN,
                "ipaddr": _IPV4,
            }.get(source.get("type") or "")
            internal = isinstance(content, str) and "-internal." in content
            if shape is not None and (
                internal or not (isinstance(content, str) and shape.match(content))
            ):
                errors.append(
                    (f"CDN refuses a {source.get('type')} origin {content!r}: an oss origin is "
                     "a bucket's public endpoint, <bucket>.oss-<region>.aliyuncs.com (private "
                     "endpoints are not supported), an ipaddr origin an IPv4 address",
                     ["sources"])
                )  # fmt: skip
    if rtype == "alicloud_cdn_domain_config" and planned.get("function_name") == "l2_oss_key":
        args = {
            a.get("arg_name"): a.get("arg_value")
            for a in planned.get("function_args") or []
            if isinstance(a, dict) and not has_unknown(a)
        }
        for arg, value in args.items():
            allowed = L2_OSS_KEY_ARGS.get(str(arg))
            if allowed is None or value not in allowed:
                errors.append(
                    (f"CDN refuses l2_oss_key argument {arg}={value!r}: private_oss_auth on or off",
                     ["function_args"])
                )  # fmt: skip
    return errors


# ------------------------------------------------------------------ plan and apply


def _default(spec: dict[str, Any]) -> Any:
    value = spec.get("default")
    if value is None:
        return None
    if spec.get("type") in ("Int", "Float"):
        return float(value) if isinstance(value, str) else value
    if spec.get("type") == "Bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return str(value) if not isinstance(value, bool) else str(value).lower()


def plan_block(block: dict[str, Any], proposed: Any, config: Any, *, creating: bool) -> Any:
    """The SDK's plan of one object: defaults, then unknown for unset computed."""
    if proposed is None or proposed is UNKNOWN:
        return proposed
    out = dict(proposed)
    config = config if isinstance(config, dict) else {}
    for name, a in block["attrs"].items():
        if config.get(name) is not None:
            continue
        default = _default(a["spec"])
        if default is not None and a["optional"]:
            out[name] = default
        elif a["computed"] and (creating or out.get(name) is None):
            out[name] = UNKNOWN
    for name, b in block["blocks"].items():
        value = out.get(name)
        conf = config.get(name)
        if value is None or value is UNKNOWN:
            continue
        if b["nesting"] == "single":
            out[name] = plan_block(b["block"], value, conf, creating=creating)
            continue
        # Elements meet their configuration by position: exact for lists and
        # for a new object's sets (proposed = config). For a set in a replaced
        # object a miss only makes a configured computed value unknown.
        confs = conf if isinstance(conf, list) else []
        out[name] = [
            plan_block(b["block"], item, confs[i] if i < len(confs) else None, creating=creating)
            for i, item in enumerate(value)
        ]
    return out


def replace_paths(block: dict[str, Any], prior: Any, planned: Any) -> list[list[str]]:
    """Top-level ForceNew arguments whose value changes."""
    paths = []
    for name, a in block["attrs"].items():
        if a["spec"].get("force_new") and planned.get(name) != prior.get(name):
            paths.append([name])
    for name, b in block["blocks"].items():
        if b["spec"].get("force_new") and planned.get(name) != prior.get(name):
            paths.append([name])
    return paths


def _digest(value: Any) -> str:
    known = json.dumps(value, sort_keys=True, default=lambda _o: None)
    return hashlib.sha256(known.encode()).hexdigest()[:12]


# Ids in the format each resource's documentation gives (snapshot `id_format`).
ID_FORMATS = {
    "alicloud_oss_bucket": "{bucket}",
    "alicloud_oss_bucket_acl": "{bucket}",
    "alicloud_oss_bucket_public_access_block": "{bucket}",
    "alicloud_ram_role": "{role_name}",
    "alicloud_ram_policy": "{policy_name}",
    "alicloud_ram_role_policy_attachment": "role:{policy_name}:{policy_type}:{role_name}",
    "alicloud_fcv3_function": "{function_name}",
    "alicloud_fcv3_trigger": "{function_name}:{trigger_name}",
    "alicloud_fcv3_async_invoke_config": "{function_name}",
    "alicloud_fcv3_concurrency_config": "{function_name}",
    "alicloud_message_service_queue": "{queue_name}",
    "alicloud_log_project": "{project_name}",
    "alicloud_log_store": "{project_name}:{logstore_name}",
    "alicloud_event_bridge_service_linked_role": "{product_name}",
    "alicloud_ots_instance": "{name}",
    "alicloud_ots_table": "{instance_name}:{table_name}",
    "alicloud_ims_oidc_provider": "{oidc_provider_name}",
    "alicloud_oss_bucket_object": "{key}",
    "alicloud_fcv3_provision_config": "{function_name}",
    "alicloud_cdn_domain_new": "{domain_name}",
}
FAKE_FORMATS = {
    ("alicloud_ram_role", "arn"): "acs:ram::{account}:role/{role_name}",
    ("alicloud_fcv3_function", "function_arn"): (
        "acs:fc:{region}:{account}:functions/{function_name}"
    ),
    ("alicloud_oss_bucket", "extranet_endpoint"): "oss-{region}.aliyuncs.com",
    ("alicloud_oss_bucket", "intranet_endpoint"): "oss-{region}-internal.aliyuncs.com",
    ("alicloud_oss_bucket", "location"): "oss-{region}",
    # CDN's CNAMEs are the domain under a CDN zone; the zone here is a fake.
    ("alicloud_cdn_domain_new", "cname"): "{domain_name}.w.cdn-standin.invalid",
}


def fake(type_: Any, label: str) -> Any:
    if type_ == "string":
        return label
    if type_ == "number":
        return 0
    if type_ == "bool":
        return False
    if type_[0] in ("list", "set"):
        return []
    if type_[0] == "map":
        return {}
    return {k: None for k in type_[1]}


def fill_unknowns(block: dict[str, Any], value: Any, label: str) -> Any:
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, a in block["attrs"].items():
        if has_unknown(out.get(name)):
            out[name] = fake(a["type"], f"{name}-{label}")
    for name, b in block["blocks"].items():
        item = out.get(name)
        if b["nesting"] == "single":
            out[name] = fill_unknowns(b["block"], item, label)
        elif isinstance(item, list):
            out[name] = [fill_unknowns(b["block"], i, label) for i in item]
    return out


def apply_fakes(
    rtype: str, block: dict[str, Any], planned: dict[str, Any], region: str
) -> dict[str, Any]:
    label = _digest(planned)
    fmt = {k: v for k, v in planned.items() if isinstance(v, (str, int, float))}
    fmt.update(account=FAKE_ACCOUNT_ID, region=region)
    out = dict(planned)
    for name in block["attrs"]:
        if out.get(name) is not UNKNOWN:
            continue
        template = ID_FORMATS.get(rtype) if name == "id" else FAKE_FORMATS.get((rtype, name))
        if template:
            with contextlib.suppress(KeyError):  # a part of the id is not set
                out[name] = template.format_map(fmt)
    if out.get("id") is UNKNOWN:
        out["id"] = f"{rtype.removeprefix('alicloud_')}-{label}"
    return fill_unknowns(block, out, label)


# ------------------------------------------------------------------ the service


def _log(event: str, type_name: str, **values: Any) -> None:
    """Debugging aid: IMGPIPE_TFPROVIDER_LOG=<file> appends one JSON line per call."""
    path = os.environ.get("IMGPIPE_TFPROVIDER_LOG")
    if path:
        with open(path, "a") as fh:
            line = {"event": event, "type": type_name, **values}
            fh.write(json.dumps(line, default=repr, sort_keys=True) + "\n")


class AlicloudStandIn(rpc.ProviderServicer):
    def __init__(self) -> None:
        self.resources = load_resources()
        self.data_sources = {
            name: build_resource(spec, data_source=True) for name, spec in DATA_SOURCES.items()
        }
        self.provider_block = build_block(PROVIDER_ARGS)
        self.region = "cn-hangzhou"

    def GetMetadata(self, request, context):
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(
                plan_destroy=True, get_provider_schema_optional=True
            ),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=t) for t in self.resources],
            data_sources=[
                pb.GetMetadata.DataSourceMetadata(type_name=t) for t in self.data_sources
            ],
        )

    def GetProviderSchema(self, request, context):
        return pb.GetProviderSchema.Response(
            provider=pb.Schema(block=block_pb(self.provider_block)),
            provider_meta=pb.Schema(block=pb.Schema.Block()),
            resource_schemas={
                t: pb.Schema(block=block_pb(r["block"])) for t, r in self.resources.items()
            },
            data_source_schemas={
                t: pb.Schema(block=block_pb(b)) for t, b in self.data_sources.items()
            },
            server_capabilities=pb.ServerCapabilities(
                plan_destroy=True, get_provider_schema_optional=True
            ),
        )

    def ValidateProviderConfig(self, request, context):
        return pb.ValidateProviderConfig.Response()

    def ConfigureProvider(self, request, context):
        config = decode(request.config) or {}
        region = config.get("region")
        if isinstance(region, str):
            self.region = region
        return pb.ConfigureProvider.Response()

    def ValidateResourceConfig(self, request, context):
        block = self.resources[request.type_name]["block"]
        diags = validate_block(block, decode(request.config), [])
        return pb.ValidateResourceConfig.Response(diagnostics=diags)

    def ValidateDataResourceConfig(self, request, context):
        block = self.data_sources[request.type_name]
        diags = validate_block(block, decode(request.config), [])
        return pb.ValidateDataResourceConfig.Response(diagnostics=diags)

    def UpgradeResourceState(self, request, context):
        state = json.loads(request.raw_state.json) if request.raw_state.json else None
        return pb.UpgradeResourceState.Response(upgraded_state=encode(state))

    def ReadResource(self, request, context):
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(self, request, context):
        block = self.resources[request.type_name]["block"]
        prior = decode(request.prior_state)
        proposed = decode(request.proposed_new_state)
        config = decode(request.config)
        if proposed is None:
            return pb.PlanResourceChange.Response(
                planned_state=request.proposed_new_state, legacy_type_system=True
            )
        planned = plan_block(block, proposed, config, creating=prior is None)
        replace = [] if prior is None else replace_paths(block, prior, planned)
        if replace:  # a new object: its computed attributes are unknown again
            planned = plan_block(block, proposed, config, creating=True)
        _log("plan", request.type_name, prior=prior, planned=planned, replace=replace)
        limits = limit_errors(request.type_name, planned)
        if limits:
            return pb.PlanResourceChange.Response(
                diagnostics=[_diag(message, path) for message, path in limits]
            )
        return pb.PlanResourceChange.Response(
            planned_state=encode(planned),
            requires_replace=[_path(p) for p in replace],
            planned_private=request.prior_private,
            legacy_type_system=True,
        )

    def ApplyResourceChange(self, request, context):
        planned = decode(request.planned_state)
        if planned is None:
            return pb.ApplyResourceChange.Response(
                new_state=request.planned_state, legacy_type_system=True
            )
        block = self.resources[request.type_name]["block"]
        new = apply_fakes(request.type_name, block, planned, self.region)
        return pb.ApplyResourceChange.Response(
            new_state=encode(new), private=request.planned_private, legacy_type_system=True
        )

    def ReadDataSource(self, request, context):
        config = decode(request.config) or {}
        state = dict(config)
        for name, a in self.data_sources[request.type_name]["attrs"].items():
            if state.get(name) is None and _default(a["spec"]) is not None:
                state[name] = _default(a["spec"])
        if request.type_name == "alicloud_account":
            state["id"] = FAKE_ACCOUNT_ID
        elif request.type_name in SERVICE_IDS:
            # What the provider's Read sets (data_source_alicloud_<name>.go).
            opened = state.get("enable") == "On"
            name = SERVICE_IDS[request.type_name]
            state["id"] = f"{name}HasBeenOpened" if opened else f"{name}HasNotBeenOpened"
            state["status"] = "Opened" if opened else ""
        return pb.ReadDataSource.Response(state=encode(state))

    def ImportResourceState(self, request, context):
        diag = _diag(f"{request.type_name}: import is not supported by the stand-in provider", [])
        return pb.ImportResourceState.Response(diagnostics=[diag])

    def GetFunctions(self, request, context):
        return pb.GetFunctions.Response()

    def StopProvider(self, request, context):
        return pb.StopProvider.Response()


# ------------------------------------------------------------------ go-plugin


def serve(*, reattach: bool = False) -> None:
    """go-plugin's handshake over a unix socket with AutoMTLS (as tf.runner does).

    With `reattach`, serve without TLS until killed and print the
    TF_REATTACH_PROVIDERS value instead of the handshake.
    """
    import tempfile

    from tf.runner import _self_signed_cert  # the `tf` package's cached self-signed cert

    stopped = futures.Future()

    class Controller(controller_rpc.GRPCControllerServicer):
        def Shutdown(self, request, context):
            if not stopped.done():
                stopped.set_result(True)
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):
        def StreamStdio(self, request, context):
            return iter([])

    # The real provider's message limit: terraform-plugin-sdk v1 serves gRPC
    # with grpc-go's default of 4 MiB per received message (provider issue
    # #7355: "received message larger than max (7884827 vs. 4194304)").
    # Python's grpc has the same default; it is set here so that it is seen.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", GRPC_MAX_MESSAGE)],
    )
    rpc.add_ProviderServicer_to_server(AlicloudStandIn(), server)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)
    with tempfile.TemporaryDirectory(prefix="tfprovider-") as tmp:
        socket = f"{tmp}/plugin.sock"
        if reattach:
            # One long-lived process for many terraform commands: Terraform
            # connects to it (TF_REATTACH_PROVIDERS) instead of starting one.
            server.add_insecure_port(f"unix://{socket}")
            server.start()
            config = {
                "registry.terraform.io/aliyun/alicloud": {
                    "Protocol": "grpc",
                    "ProtocolVersion": 6,
                    "Pid": os.getpid(),
                    "Test": True,
                    "Addr": {"Network": "unix", "String": socket},
                }
            }
            print(json.dumps(config), flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.wait_for_termination()
            return
        chain, credentials = _self_signed_cert()
        server.add_secure_port(f"unix://{socket}", credentials)
        server.start()
        cert = base64.b64encode(chain).decode().rstrip("=")
        print(f"1|6|unix|{socket}|grpc|{cert}", flush=True)
        try:
            # wait_for_termination returns True on timeout: poll for Shutdown.
            while server.wait_for_termination(0.05) and not stopped.done():
                pass
        except KeyboardInterrupt:
            pass
        server.stop(grace=0)


def main() -> int:
    if "--reattach" in sys.argv[1:]:
        serve(reattach=True)
        return 0
    if os.environ.get("TF_PLUGIN_MAGIC_COOKIE") is None:
        print(
            "This is a Terraform provider (a test stand-in for aliyun/alicloud); "
            "Terraform runs it. See tests/tfprovider/README.md.",
            file=sys.stderr,
        )
        return 1
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
