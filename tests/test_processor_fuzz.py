"""Mutated corpus bytes give `ok` or a classified rejection, nothing else."""

from __future__ import annotations

import os

from conftest import IMAGES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgproc import REASONS, Rejection, parse_config, process

# Small decodable seeds of every input format, so each example runs in ms.
SEEDS = sorted(p.name for p in IMAGES.iterdir() if p.stat().st_size < 40_000 and p.suffix != ".csv")
CFG = parse_config({"max_megapixels": 4})  # bounds the work a mutated header can ask for


@st.composite
def mutated(draw):
    data = bytearray((IMAGES / draw(st.sampled_from(SEEDS))).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "header", "zero"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "header":  # the first 64 bytes hold sizes, chunk lengths, brands
            hpos = draw(st.integers(0, min(63, len(data) - 1)))
            data[hpos] = draw(st.integers(0, 255))
        else:
            end = min(len(data), pos + draw(st.integers(1, 512)))
            data[pos:end] = bytes(end - pos)
    return bytes(data)


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_mutated_inputs_are_ok_or_classified(data):
    try:
        result = process(data, CFG)
    except Rejection as rej:
        assert rej.reason in REASONS
        assert rej.detail
    else:
        assert result.outputs
        for out in result.outputs:
            assert out.data and out.width >= 1 and out.height >= 1
