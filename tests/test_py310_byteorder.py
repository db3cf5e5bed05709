"""What vermin (tests/test_runtime_compat.py) does not see: `int.from_bytes` and
`int.to_bytes` take their byte order as optional only from Python 3.11 ("Changed
in version 3.11: Added default argument values for length and byteorder",
docs.python.org, int.to_bytes). FC's python3.10 raises TypeError without it,
and this machine's 3.11 would never show it."""

from __future__ import annotations

import ast
from pathlib import Path

FUNCTION_SRC = Path(__file__).resolve().parent.parent / "function_src"


def test_every_from_bytes_and_to_bytes_call_gives_the_byte_order():
    missing = []
    calls = 0
    for path in sorted(FUNCTION_SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name not in ("from_bytes", "to_bytes"):
                continue
            calls += 1
            positional = 2 if name == "to_bytes" else 1  # to_bytes(length, byteorder)
            given = len(node.args) > positional or any(k.arg == "byteorder" for k in node.keywords)
            if not given:
                missing.append(f"{path.relative_to(FUNCTION_SRC)}:{node.lineno}")
    assert calls, "no call found: the check would prove nothing"
    assert missing == []
