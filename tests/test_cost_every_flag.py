"""`imgpipe cost`: every flag the command line accepts changes the estimate.

The flags are read from the parser itself, so a new flag that the estimate
then ignores fails here until it is given a value below and moves a figure.
Each flag is tried under the model it belongs to (`--pricing cu` or
`article`); the shared ones under both.
"""

from __future__ import annotations

import argparse
import json

import pytest

from imgpipe.cli import main, parser

# A workload past every free tier and across a CU tier boundary, so that no
# rate or tier multiplies a zero: 5 M requests of 2 s at 2 GB and 2 vCPU.
BASE = ["--requests", "5000000", "--memory-mb", "2048", "--duration-ms", "2000"]
BASE += ["--egress-gib", "10", "--vcpu", "2", "--disk-mb", "512"]
ARTICLE_BASE = [a for a in BASE if a not in ("--vcpu", "2", "--disk-mb", "512")]

# flag -> (the model(s) it is tried under, a value other than the default)
VALUES = {
    "--requests": (("cu", "article"), "6000000"),
    "--memory-mb": (("cu", "article"), "3072"),
    "--duration-ms": (("cu", "article"), "2500"),
    "--egress-gib": (("cu", "article"), "20"),
    "--rate-egress": (("cu", "article"), "0.8"),
    "--ecs-monthly-cny": (("cu", "article"), "300"),
    "--vcpu": (("cu",), "1"),
    "--disk-mb": (("cu",), "10240"),
    "--cu-invocations": (("cu",), "80"),
    "--cu-vcpu-second": (("cu",), "1.2"),
    "--cu-gb-second": (("cu",), "0.2"),
    "--cu-disk-gb-second": (("cu",), "0.07"),
    "--cu-price-cny": (("cu",), "0.0002,0.0001,0.00009"),
    "--cu-tier-limits": (("cu",), "1000000,2000000"),
    "--trial-cu": (("cu",), "100000"),
    "--rate-invocations": (("article",), "0.02"),
    "--rate-gib-second": (("article",), "0.0002"),
    "--free-invocations": (("article",), "2000000"),
    "--free-gib-seconds": (("article",), "100000"),
}
NOT_AN_INPUT = {"--help", "--json", "--pricing"}  # output form; the model (tested below)


def cost_flags() -> set[str]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[
        "cost"
    ]
    return {s for a in sub._actions for s in a.option_strings if s.startswith("--")}


def estimate(capsys, pricing: str, extra: list[str]) -> dict:
    base = BASE if pricing == "cu" else ARTICLE_BASE
    assert main(["cost", *base, "--pricing", pricing, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_flag_of_the_command_line_is_tried_here():
    assert cost_flags() - NOT_AN_INPUT == set(VALUES)


@pytest.mark.parametrize(
    ("flag", "pricing"), [(f, p) for f, (models, _) in VALUES.items() for p in models]
)
def test_each_flag_changes_the_estimate(capsys, flag, pricing):
    value = VALUES[flag][1]
    base = BASE if pricing == "cu" else ARTICLE_BASE
    if flag in base:  # a flag the base gives: another value
        argv = list(base)
        argv[argv.index(flag) + 1] = value
        assert main(["cost", *argv, "--pricing", pricing, "--json"]) == 0
        changed = json.loads(capsys.readouterr().out)
    else:
        changed = estimate(capsys, pricing, [flag, value])
    before = estimate(capsys, pricing, [])
    if flag == "--ecs-monthly-cny":
        assert changed["crossover_requests"] and "crossover_requests" not in before
    else:
        assert changed["total_cny"] != before["total_cny"], (flag, pricing)


def test_the_pricing_flag_chooses_the_model(capsys):
    cu, article = estimate(capsys, "cu", []), estimate(capsys, "article", [])
    assert (cu["pricing"], article["pricing"]) == ("cu", "article")
    assert cu["total_cny"] != article["total_cny"]
