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
BASE += ["--egress-gib", "10", "--vcpu", "2", "--disk-mb", "512", "--warm-instances", "1"]
ARTICLE_BASE = [
    a for a in BASE if a not in ("--vcpu", "2", "--disk-mb", "512", "--warm-instances", "1")
]

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
    "--warm-instances": (("cu",), "2"),
    "--warm-hours": (("cu",), "100"),
    "--rate-invocations": (("article",), "0.02"),
    "--rate-gib-second": (("article",), "0.0002"),
    "--free-invocations": (("article",), "2000000"),
    "--free-gib-seconds": (("article",), "100000"),
}
NOT_AN_INPUT = {"--help", "--json", "--pricing"}  # output form; the model (tested below)

# The whole bill's flags (imgpipe/bill.py), tried under --pricing cu: flag ->
# (what else the bill needs for the flag to matter, a value other than the default)
BILL_VALUES = {
    "--serving": ([], "cdn"),
    "--views": (["--rate-oss-egress", "0.5"], "3"),
    "--origin-fetches": (["--serving", "cdn", "--rate-oss-origin", "0.1"], "2"),
    "--month": (["--rate-oss-ia", "0.01"], "24"),
    "--source-bytes": ([], "5000000"),
    "--variant-bytes": ([], "100000,20000"),
    "--log-bytes": (["--rate-sls-gb", "0.5"], "900"),
    "--dead-letter-fraction": (["--requests", "30000000", "--rate-mns-requests", "0.5"], "0.9"),
    "--upload-expiration-days": ([], "60"),
    "--noncurrent-version-expiration-days": ([], "1"),
    "--variants-ia-days": (["--rate-oss-ia", "0.01"], "30"),
    "--usd-cny": ([], "7.1"),
    "--rate-oss-standard": ([], "0.02"),
    "--rate-oss-ia": ([], "0.01"),
    "--rate-oss-put": ([], "0.01"),
    "--rate-oss-get": ([], "0.01"),
    "--rate-oss-egress": ([], "0.5"),
    "--rate-oss-origin": (["--serving", "cdn"], "0.1"),
    "--rate-cdn": (["--serving", "cdn"], "0.2"),
    "--rate-eventbridge": ([], "5"),
    "--rate-sls-gb": ([], "0.3"),
    "--rate-mns-queue-day": ([], "0.1"),
    "--rate-mns-requests": (
        ["--requests", "30000000", "--dead-letter-fraction", "1"],
        "0.3",
    ),
}


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
    assert cost_flags() - NOT_AN_INPUT == set(VALUES) | set(BILL_VALUES)


def _bill_figures(out: dict) -> tuple:
    bill = out["bill"]
    return (tuple(ln["monthly"] for ln in bill["lines"]), bill["totals"], bill["total_cny"])


@pytest.mark.parametrize("flag", list(BILL_VALUES))
def test_each_bill_flag_changes_the_bill(capsys, flag):
    needs, value = BILL_VALUES[flag]
    before = estimate(capsys, "cu", needs)
    changed = estimate(capsys, "cu", [*needs, flag, value])
    assert _bill_figures(changed) != _bill_figures(before), flag


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


# ------------------------------------------------------------ the text report

# 3 M requests of 200 ms at 0.25 vCPU and 512 MB, by hand from docs/cost.md's
# rates: 3 M / 10k x 75 = 22,500 CU; 600,000 s x 0.25 vCPU = 150,000; x 0.5 GB x
# 0.15 = 45,000; disk 0.5 GB x 0.05 = 15,000; 232,500 CU, 1,000 of them from
# the trial plan: 231,500 x 0.00011 CNY = 25.4650, shown 25.46.
CU_TEXT = """\
Function Compute (CU pricing), 3,000,000 requests/month at 0.25 vCPU, 512 MB, 200 ms each
  invocations            22,500 CU           2.48 CNY   (3,000,000 x 75/10k)
  vCPU                  150,000 CU          16.50 CNY   (0.25 vCPU x 1/vCPU-s)
  memory                 45,000 CU           4.95 CNY   (512 MB x 0.15/GB-s)
  disk                   15,000 CU           1.65 CNY   (512 MB x 0.05/GB-s)
  CU total              232,500 CU   (0.077 CU per request; 231,500 after the trial plan)
  compute                                 25.46 CNY   (tiered)
  traffic                0.0 GiB           0.00 CNY
  total                                   25.46 CNY/month
"""

# The article's rates: 4,999,000 billable invocations x 0.0133 / 10k = 6.65;
# 500,000 GiB-s less 400,000 free = 100,000 x 0.000110592 = 11.06.
ARTICLE_TEXT = (
    "Function Compute, 5,000,000 requests/month at 512 MB, 200 ms each\n"
    "  invocations       4,999,000 billable           6.65 CNY\n"
    "  compute             100,000 GiB-s             11.06 CNY"
    "   (of 500,000 GiB-s used; 400,000 in the free tier)\n"
    "  traffic                 0.0 GiB                0.00 CNY\n"
    "  total                                          17.71 CNY/month\n"
)


def run_cost(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["cost", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_cu_report_line_by_line(capsys):
    code, out, _ = run_cost(
        capsys, "--requests", "3000000", "--memory-mb", "512", "--duration-ms", "200",
        "--vcpu", "0.25", "--trial-cu", "1000",
    )  # fmt: skip
    # FC's report as before; the whole bill follows it (tests/test_bill.py)
    assert code == 0 and out.startswith(CU_TEXT + "\nThe whole bill, month 12 of 3,000,000")


def test_the_article_report_line_by_line(capsys):
    code, out, _ = run_cost(
        capsys, "--requests", "5000000", "--memory-mb", "512", "--duration-ms", "200",
        "--free-invocations", "1000",
    )  # fmt: skip
    assert code == 0 and out == ARTICLE_TEXT


@pytest.mark.parametrize("pricing", ["cu", "article"])
def test_the_always_on_comparison_both_ways(capsys, pricing):
    from imgpipe.pricing import CuRates, Rates, cu_estimate
    from imgpipe.pricing import estimate as article_estimate

    base = ["--requests", "3000000", "--memory-mb", "1024", "--duration-ms", "200"]
    base += ["--pricing", pricing]
    _, out, _ = run_cost(capsys, *base, "--ecs-monthly-cny", "50")
    # the last line of FC's report (the whole bill follows it under --pricing cu)
    (line,) = [ln for ln in out.splitlines() if ln.startswith("  an always-on instance")]
    assert line.startswith("  an always-on instance at 50.00 CNY/month is cheaper from ")
    n = int(line.split("from ")[1].split(" ")[0].replace(",", ""))

    def cost(requests: int) -> float:
        if pricing == "cu":
            return cu_estimate(requests, 1.0, 1024, 200, rates=CuRates()).total_cny
        return article_estimate(requests, 1024, 200, rates=Rates()).total_cny

    assert cost(n) >= 50 > cost(n - 1)  # the smallest volume at which FC costs as much
    _, out, _ = run_cost(capsys, *base, "--ecs-monthly-cny", "1000000000000")
    assert [ln for ln in out.splitlines() if ln.startswith("  an always-on")] == [
        "  an always-on instance at 1000000000000.00 CNY/month is never cheaper at these rates"
    ]
    _, out, _ = run_cost(capsys, *base, "--ecs-monthly-cny", "50", "--json")
    assert json.loads(out)["crossover_requests"] == n


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--vcpu", "1", "--rate-invocations", "0"],
            "--rate-invocations belongs to --pricing article and --vcpu to --pricing cu; "
            "give --pricing",
        ),
        (
            ["--free-gib-seconds", "0", "--trial-cu", "5"],
            "--free-gib-seconds belongs to --pricing article and --trial-cu to --pricing cu; "
            "give --pricing",
        ),
    ],
)
def test_flags_of_both_models_without_pricing_is_one_line_and_status_2(capsys, flags, message):
    code, out, err = run_cost(
        capsys, "--requests", "1", "--memory-mb", "512", "--duration-ms", "1", *flags
    )
    assert (code, out, err) == (2, "", f"imgpipe cost: {message}\n")


@pytest.mark.parametrize(
    ("flag", "value", "model"),
    [
        ("--rate-gib-second", "0.0002", "article"),
        ("--cu-gb-second", "0.2", "cu"),
        (None, None, "cu"),
    ],
)
def test_a_models_own_flag_chooses_it(capsys, flag, value, model):
    extra = [flag, value] if flag else []
    _, out, _ = run_cost(capsys, *ARTICLE_BASE, *extra, "--json")
    assert json.loads(out)["pricing"] == model


@pytest.mark.parametrize(
    ("memory", "vcpu", "warned"),
    [
        ("1024", "1", False),
        ("4096", "1", False),
        # 64 MB steps, so that only the ratio can be wrong
        ("960", "1", True),
        ("4160", "1", True),
        ("512", "0.5", False),
    ],
)
def test_the_memory_per_vcpu_ratio_fc_allows_on_both_sides(capsys, memory, vcpu, warned):
    _, out, _ = run_cost(
        capsys, "--requests", "1", "--memory-mb", memory, "--duration-ms", "1", "--vcpu", vcpu
    )
    note = "not between 1 and 4): priced as given"  # imgpipe.pricing.size_problem's words
    assert (note in out) is warned, out
    _, out, _ = run_cost(
        capsys,
        "--requests",
        "1",
        "--memory-mb",
        memory,
        "--duration-ms",
        "1",
        "--vcpu",
        vcpu,
        "--json",
    )
    assert ("warning" in json.loads(out)) is warned


def test_the_crossover_is_priced_with_every_sizing_flag(capsys):
    """--disk-mb, --vcpu, --egress-gib and the warm instances count in the volume
    where FC costs as much as the always-on instance, as they do in the estimate."""
    base = ["--requests", "3000000", "--memory-mb", "1024", "--duration-ms", "200"]
    base += ["--ecs-monthly-cny", "300", "--json"]
    crossovers = set()
    for extra in (
        [],
        ["--disk-mb", "10240"],
        ["--vcpu", "0.5"],
        ["--egress-gib", "100"],
        ["--warm-instances", "1"],
        ["--warm-instances", "1", "--warm-hours", "100"],
    ):
        _, out, _ = run_cost(capsys, *base, *extra)
        crossovers.add(json.loads(out)["crossover_requests"])
    assert len(crossovers) == 6


def test_the_json_names_the_rates_it_used(capsys):
    _, out, _ = run_cost(capsys, *BASE, "--cu-gb-second", "0.2", "--json")
    rates = json.loads(out)["rates"]
    assert rates["cu_per_gb_second"] == 0.2 and rates["cu_per_vcpu_second"] == 1.0
    _, out, _ = run_cost(capsys, *ARTICLE_BASE, "--rate-gib-second", "0.0002", "--json")
    assert json.loads(out)["rates"]["per_gib_second"] == 0.0002


def test_warm_instances_have_a_line_of_their_own_and_no_trial_is_mentioned_without_one(capsys):
    """By hand: 2 instances x 100 h x 3,600 s x (0.5 GB x 0.15 + 0.5 GB disk x
    0.05) CU/s = 72,000 CU, at 0.00011 CNY = 7.92 CNY; idle vCPU is free. With
    no trial plan left, the total says nothing of one."""
    code, out, _ = run_cost(
        capsys, "--requests", "3000000", "--memory-mb", "512", "--duration-ms", "200",
        "--vcpu", "0.25", "--warm-instances", "2", "--warm-hours", "100",
    )  # fmt: skip
    lines = out.splitlines()
    assert code == 0
    assert lines[5] == (
        "  warm (idle)            72,000 CU           7.92 CNY   "
        "(2 x 100 h, memory and disk; idle vCPU 0)"
    )
    assert lines[6] == "  CU total              304,500 CU   (0.102 CU per request)"


def test_a_size_fc_does_not_offer_is_priced_with_a_note_naming_each_problem(capsys):
    _, out, _ = run_cost(
        capsys, "--requests", "1000", "--memory-mb", "1000", "--duration-ms", "200",
        "--vcpu", "0.33", "--json",
    )  # fmt: skip
    assert json.loads(out)["warning"] == (
        "note: not a size FC 3.0 offers (0.33 vCPU is not a 0.05 step from 0.05 to 16; "
        "1000 MB is not a 64 MB step from 128 to 32768): priced as given"
    )


@pytest.mark.parametrize("pricing", ["article", "cu"])
def test_the_json_comparison_names_the_instance_and_crosses_where_the_model_does(capsys, pricing):
    """`--ecs-monthly-cny 300 --json`: the instance's price is in the output,
    and the crossover is the model's own, with the rates, traffic per request
    and sizing given on the command line (every float rounded to 6 places)."""
    from imgpipe import pricing as model

    argv = ["--requests", "3000000", "--memory-mb", "1024", "--duration-ms", "333"]
    argv += ["--egress-gib", "300", "--ecs-monthly-cny", "300", "--pricing", pricing, "--json"]
    if pricing == "article":
        argv += ["--rate-gib-second", "0.0001234567"]
        expected = model.crossover_requests(
            300.0, 1024, 333, 300 / 3_000_000, model.Rates(per_gib_second=0.0001234567)
        )
    else:
        argv += ["--cu-price-cny", "0.00012345,0.00012345,0.00012345"]
        rates = model.CuRates(cny_per_cu=(0.00012345, 0.00012345, 0.00012345))
        est = model.cu_estimate(3_000_000, 1.0, 1024, 333, egress_gib=300, rates=rates)
        expected = model.cu_crossover(300.0, est, rates)
    code, out, _ = run_cost(capsys, *argv)
    data = json.loads(out)
    assert code == 0 and out.startswith('{\n  "pricing": ')
    assert data["ecs_monthly_cny"] == 300.0 and data["crossover_requests"] == expected
    if pricing == "cu":  # the whole bill follows the CU estimate; its FC line is that total
        assert data["bill"]["lines"][0]["monthly"] == data["total_cny"]
    if pricing == "article":
        raw = model.estimate(3_000_000, 1024, 333, 300, model.Rates(per_gib_second=0.0001234567))
    else:
        raw = est
    fields = [k for k, v in vars(raw).items() if isinstance(v, float)]
    assert all(data[k] == round(getattr(raw, k), 6) for k in fields)
    assert any(getattr(raw, k) != round(getattr(raw, k), 6) for k in fields)  # some were cut


def test_memory_is_refused_at_zero_and_past_a_terabyte_and_taken_just_inside(capsys):
    base = ["--requests", "1000", "--duration-ms", "100", "--json"]
    for memory, accepted in (("0", False), ("0.5", True), ("1048576", True), ("1048577", False)):
        code, _, err = (
            run_cost(capsys, *base, "--memory-mb", memory)
            if accepted
            else (_refused(capsys, *base, "--memory-mb", memory))
        )
        assert (code == 0) is accepted, (memory, err)


def _refused(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(["cost", *argv])
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def test_tier_limits_may_be_equal_but_not_reversed_nor_short(capsys):
    base = ["--requests", "1000", "--memory-mb", "512", "--duration-ms", "100", "--json"]
    code, _, _ = run_cost(capsys, *base, "--cu-tier-limits", "5,5")
    assert code == 0
    for value, error in (
        ("6,5", "tier limits must be in order, got '6,5'"),
        ("5", "2 comma-separated numbers required, got '5'"),
    ):
        code, _, err = _refused(capsys, *base, "--cu-tier-limits", value)
        assert code == 2 and f"argument --cu-tier-limits: {error}" in err


@pytest.mark.parametrize(
    ("flag", "low", "high", "past"),
    [
        ("--duration-ms", "0", "86400000", "86400001"),  # a day at most
        ("--vcpu", "0.05", "16", "16.05"),  # FC's largest
        ("--disk-mb", "0", "10240", "10241"),  # FC's 10 GB disk
        ("--warm-hours", "0", "744", "744.5"),  # a 31-day month
    ],
)
def test_each_sizing_flag_takes_its_bounds_and_refuses_one_step_past(capsys, flag, low, high, past):
    base = ["--requests", "1000", "--memory-mb", "2048", "--duration-ms", "100", "--json"]
    base += ["--warm-instances", "1"]
    for value in (low, high):
        code, _, err = run_cost(capsys, *base, flag, value)
        assert code == 0, (value, err)
    code, _, err = _refused(capsys, *base, flag, past)
    assert code == 2 and f"argument {flag}: must be <=" in err
    if flag == "--vcpu":
        code, _, err = _refused(capsys, *base, flag, "0")
        assert code == 2 and "argument --vcpu: must be > 0, got 0" in err
    else:
        code, _, err = _refused(capsys, *base, flag, "-1")
        assert code == 2 and f"argument {flag}: must be >= 0, got -1" in err


def test_no_requests_with_traffic_and_an_instance_to_compare_is_priced_not_a_crash(capsys):
    from imgpipe import pricing as model

    code, out, err = run_cost(
        capsys, "--requests", "0", "--memory-mb", "512", "--duration-ms", "100",
        "--egress-gib", "5", "--ecs-monthly-cny", "100", "--pricing", "article", "--json",
    )  # fmt: skip
    assert code == 0 and "Traceback" not in err
    assert json.loads(out)["crossover_requests"] == model.crossover_requests(100.0, 512, 100, 0.0)
