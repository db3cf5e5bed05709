"""EventBridge event-pattern matching, for testing the deployed pattern locally.

Semantics as documented for EventBridge (shared/alicloud/README.md): exact
values, `prefix`, `suffix`, `contains`, `anything-but`, `numeric`, `cidr` (IPv4) and
`exists`; AND across keys, OR within a list; a nested object descends into
the event. Matching is case-sensitive. An event value that is a list matches
when any of its elements does. The local demo and the tests match events
with the pattern evaluated from the Terraform that is deployed, so what is
tested here is what EventBridge will be given.
"""

from __future__ import annotations

import ipaddress
from typing import Any

_MISSING = object()


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether `event` (a parsed CloudEvent) matches `pattern`."""
    if not isinstance(pattern, dict):
        raise ValueError(f"a pattern is an object, got {type(pattern).__name__}")
    for key, rule in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(rule, dict):
            if value is _MISSING or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not _any_rule(rule, value):
                return False
        else:
            raise ValueError(f"pattern field {key!r} must be a list or an object")
    return True


def _any_rule(rules: list[Any], value: Any) -> bool:
    candidates = value if isinstance(value, list) else [value]
    return any(_rule(rule, v) for rule in rules for v in candidates) or (
        # `exists: false` matches a missing field, which has no candidate value
        value is _MISSING and any(isinstance(r, dict) and r.get("exists") is False for r in rules)
    )


def _rule(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return value is not _MISSING and value == rule and type(value) is type(rule)
    if len(rule) != 1:
        raise ValueError(f"a matching rule has exactly one operator, got {sorted(rule)}")
    ((op, arg),) = rule.items()
    if op == "exists":
        return (value is not _MISSING) == bool(arg)
    if value is _MISSING:
        return False
    if op == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if op == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if op == "contains":
        return isinstance(value, str) and arg in value
    if op == "anything-but":
        if isinstance(arg, dict):
            return not _rule(arg, value)
        banned = arg if isinstance(arg, list) else [arg]
        return value not in banned
    if op == "numeric":
        return _numeric(arg, value)
    if op == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(arg, strict=False)
        except (ValueError, TypeError):
            return False
    raise ValueError(f"unknown pattern operator {op!r}")


def _numeric(arg: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    ops = {
        "=": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    return all(ops[arg[i]](value, arg[i + 1]) for i in range(0, len(arg), 2))
