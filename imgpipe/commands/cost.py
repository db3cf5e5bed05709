"""`imgpipe cost`: what Function Compute charges for a monthly workload.

The command line of the model in `imgpipe.pricing`, whose docstring gives
both models (`--pricing cu`, the default, and `article`), every rate and its
source. Every rate is a flag, so a price change is a flag, not a code change.
docs/cost.md has the worked examples.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from imgpipe import argtypes
from imgpipe import bill as _bill
from imgpipe.pricing import (
    CuRates,
    Rates,
    crossover_requests,
    cu_crossover,
    cu_estimate,
    estimate,
    format_cu_estimate,
    format_estimate,
    size_problem,
)

ARTICLE_FLAGS = ("rate_invocations", "rate_gib_second", "free_invocations", "free_gib_seconds")
CU_FLAGS = (
    "vcpu", "disk_mb", "cu_invocations", "cu_vcpu_second", "cu_gb_second",
    "cu_disk_gb_second", "cu_price_cny", "cu_tier_limits", "trial_cu",
)  # fmt: skip


def pricing_of(args) -> str:
    """`--pricing`, or the model whose own flags were given (article if any of its rates)."""
    given_article = [f for f in ARTICLE_FLAGS if getattr(args, f) is not None]
    given_cu = [f for f in CU_FLAGS if getattr(args, f) is not None]
    if args.pricing:
        return args.pricing
    if given_article and given_cu:
        raise ValueError(
            "--"
            + given_article[0].replace("_", "-")
            + " belongs to --pricing article and --"
            + given_cu[0].replace("_", "-")
            + " to --pricing cu; give --pricing"
        )
    return "article" if given_article else "cu"


def run(args) -> int:
    """Print the estimate; the flags were range-checked by `add_arguments`' types."""
    try:
        pricing = pricing_of(args)
    except ValueError as exc:
        print(f"imgpipe cost: {exc}", file=sys.stderr)
        return 2
    if pricing == "cu":
        return run_cu(args)
    d = Rates()

    def pick(name: str, default):
        value = getattr(args, name)
        return default if value is None else value

    rates = Rates(
        per_10k_invocations=pick("rate_invocations", d.per_10k_invocations),
        per_gib_second=pick("rate_gib_second", d.per_gib_second),
        per_egress_gib=args.rate_egress,
        free_invocations=pick("free_invocations", d.free_invocations),
        free_gib_seconds=pick("free_gib_seconds", d.free_gib_seconds),
    )
    est = estimate(args.requests, args.memory_mb, args.duration_ms, args.egress_gib, rates)
    crossover = None
    if args.ecs_monthly_cny is not None:
        per_request = args.egress_gib / args.requests if args.requests else 0.0
        crossover = crossover_requests(  # None: the instance is never cheaper
            args.ecs_monthly_cny, args.memory_mb, args.duration_ms, per_request, rates
        )
    if args.json:
        out = {"pricing": "article", **asdict(est), "rates": asdict(rates)}
        out = {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}
        if args.ecs_monthly_cny is not None:
            out["ecs_monthly_cny"] = args.ecs_monthly_cny
            out["crossover_requests"] = crossover  # null: the instance is never cheaper
        return _print_json(out)
    print(format_estimate(est, crossover, args.ecs_monthly_cny))
    return 0


def _print_json(out: dict) -> int:
    try:
        text = json.dumps(out, indent=2, allow_nan=False)
    except ValueError:  # pragma: no cover - the flags' bounds keep every figure finite
        print("imgpipe cost: the estimate is not a finite number", file=sys.stderr)
        return 1
    print(text)
    return 0


def cu_rates_of(args) -> CuRates:
    d = CuRates()

    def pick(name: str, default):
        value = getattr(args, name, None)
        return default if value is None else value

    return CuRates(
        cu_per_10k_invocations=pick("cu_invocations", d.cu_per_10k_invocations),
        cu_per_vcpu_second=pick("cu_vcpu_second", d.cu_per_vcpu_second),
        cu_per_gb_second=pick("cu_gb_second", d.cu_per_gb_second),
        cu_per_disk_gb_second=pick("cu_disk_gb_second", d.cu_per_disk_gb_second),
        cny_per_cu=pick("cu_price_cny", d.cny_per_cu),
        tier_limits=pick("cu_tier_limits", d.tier_limits),
        per_egress_gib=args.rate_egress,
        trial_cu=pick("trial_cu", d.trial_cu),
    )


def run_cu(args) -> int:
    rates = cu_rates_of(args)
    vcpu = 1.0 if args.vcpu is None else args.vcpu
    disk = 512.0 if args.disk_mb is None else args.disk_mb
    est = cu_estimate(
        args.requests,
        vcpu,
        args.memory_mb,
        args.duration_ms,
        disk_mb=disk,
        egress_gib=args.egress_gib,
        warm_instances=args.warm_instances,
        warm_hours=args.warm_hours,
        rates=rates,
    )
    warn = size_problem(vcpu, args.memory_mb)
    crossover = None
    if args.ecs_monthly_cny is not None:
        crossover = cu_crossover(args.ecs_monthly_cny, est, rates)
    if args.json:
        out = {"pricing": "cu", **asdict(est), "rates": asdict(rates)}
        out = {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}
        if args.ecs_monthly_cny is not None:
            out["ecs_monthly_cny"] = args.ecs_monthly_cny
            out["crossover_requests"] = crossover
        if warn:
            out["warning"] = warn
        out["bill"] = _bill.to_json(_bill.of_args(args, est.total_cny))  # the whole bill
        return _print_json(out)
    print(format_cu_estimate(est, rates))
    if args.ecs_monthly_cny is not None:
        print(
            f"  an always-on instance at {args.ecs_monthly_cny:.2f} CNY/month is cheaper from "
            f"{crossover:,} requests/month"
            if crossover is not None
            else f"  an always-on instance at {args.ecs_monthly_cny:.2f} CNY/month is never "
            "cheaper at these rates"
        )
    if warn:
        print(warn)
    print()
    print(_bill.format_bill(_bill.of_args(args, est.total_cny)))  # the whole bill
    return 0


# Bounds wide enough for any real workload and tight enough that no product
# of them overflows: 10^15 requests x 1 TiB x a day x 10^6 CNY is still finite.
COUNT = argtypes.integer(0, 10**15)
AMOUNT = argtypes.number(0, 1e12, meaning="an amount")
RATE = argtypes.number(0, 1e6, meaning="a rate")


def add_arguments(parser) -> None:
    parser.add_argument(
        "--requests", metavar="N", type=COUNT, required=True, help="invocations per month"
    )
    parser.add_argument(
        "--memory-mb",
        metavar="MB",
        type=argtypes.number(0, 1_048_576, above_minimum=True),
        required=True,
        help="memory size in MB (> 0)",
    )
    parser.add_argument(
        "--duration-ms",
        metavar="MS",
        type=argtypes.number(0, 86_400_000),
        required=True,
        help="billed ms per request (at most a day)",
    )
    parser.add_argument(
        "--egress-gib", metavar="GIB", type=AMOUNT, default=0.0, help="outbound GiB per month"
    )
    parser.add_argument(
        "--ecs-monthly-cny", metavar="CNY", type=AMOUNT, help="compare with an always-on instance"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--pricing",
        choices=("cu", "article"),
        help="cu: FC 3.0 as it bills today (default); article: the reference article's "
        "FC 2.0 rates and free tier (also chosen by giving one of its rate flags)",
    )
    parser.add_argument(
        "--rate-egress", metavar="CNY", type=RATE, default=0.50, help="CNY per outbound GiB"
    )
    cu = parser.add_argument_group("--pricing cu (defaults: FC 3.0 'Pay-as-you-go', see docs)")
    cu.add_argument(
        "--vcpu",
        metavar="N",
        type=argtypes.number(0, 16, above_minimum=True),
        help="vCPUs per instance (default 1, the module's)",
    )
    cu.add_argument(
        "--disk-mb",
        metavar="MB",
        type=argtypes.number(0, 10_240),
        help="disk per instance in MB (default 512, the module's; 0 leaves disk out)",
    )
    cu.add_argument(
        "--warm-instances",
        metavar="N",
        type=COUNT,
        default=0,
        help="instances kept warm (the module's warm_instances), billed idle: memory and disk",
    )
    cu.add_argument(
        "--warm-hours",
        metavar="H",
        type=argtypes.number(0, 744),
        default=730.0,
        help="hours a month they are kept (default 730: always)",
    )
    cu.add_argument("--cu-invocations", metavar="CU", type=RATE, help="CU per 10,000 (75)")
    cu.add_argument("--cu-vcpu-second", metavar="CU", type=RATE, help="CU per vCPU-second (1)")
    cu.add_argument("--cu-gb-second", metavar="CU", type=RATE, help="CU per memory GB-s (0.15)")
    cu.add_argument("--cu-disk-gb-second", metavar="CU", type=RATE, help="CU per disk GB-s (0.05)")
    cu.add_argument(
        "--cu-price-cny",
        metavar="P1,P2,P3",
        type=_triple,
        help="CNY per CU in tiers 1, 2, 3 (0.00011,0.00010,0.00009)",
    )
    cu.add_argument(
        "--cu-tier-limits",
        metavar="L1,L2",
        type=_pair,
        help="monthly CU where tiers 2 and 3 start (200000000,1000000000)",
    )
    cu.add_argument(
        "--trial-cu", metavar="CU", type=AMOUNT, help="trial CU plan left to use up (0)"
    )
    _bill.add_arguments(parser)  # the whole bill's flags (imgpipe/bill.py)
    art = parser.add_argument_group("--pricing article")
    art.add_argument("--rate-invocations", metavar="CNY", type=RATE, help="per 10,000 (0.0133)")
    art.add_argument("--rate-gib-second", metavar="CNY", type=RATE, help="(0.000110592)")
    art.add_argument("--free-invocations", metavar="N", type=COUNT, help="(1,000,000)")
    art.add_argument("--free-gib-seconds", metavar="GIB_S", type=AMOUNT, help="(400,000)")


def _numbers(text: str, n: int) -> tuple[float, ...]:
    parts = text.split(",")
    if len(parts) != n:
        raise argparse.ArgumentTypeError(f"{n} comma-separated numbers required, got {text!r}")
    return tuple(AMOUNT(p.strip()) for p in parts)


def _triple(text: str) -> tuple[float, float, float]:
    return _numbers(text, 3)  # type: ignore[return-value]


def _pair(text: str) -> tuple[float, float]:
    low, high = _numbers(text, 2)
    if low > high:
        raise argparse.ArgumentTypeError(f"tier limits must be in order, got {text!r}")
    return low, high
