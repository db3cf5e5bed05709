"""`imgpipe cost`: what Function Compute charges for a monthly workload.

Pay-as-you-go, as the pricing this project is measured against states it:
0.0133 CNY per 10,000 invocations, 0.000110592 CNY per GiB-second of memory
(memory size x billed duration), 0.50 CNY per GiB of outbound traffic, and
a monthly free tier of 1,000,000 invocations and 400,000 GiB-seconds. Every
rate is a parameter, so a price change is a flag, not a code change.

The reference article's worked example (5 M requests at 512 MiB and 200 ms)
comes to 16.38 CNY with these rates. Its table does not follow from its own
rates (README, "Cost"), so the table is computed here, never copied.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass

from imgpipe import argtypes


@dataclass(frozen=True)
class Rates:
    per_10k_invocations: float = 0.0133
    per_gib_second: float = 0.000110592
    per_egress_gib: float = 0.50
    free_invocations: int = 1_000_000
    free_gib_seconds: float = 400_000


@dataclass(frozen=True)
class Estimate:
    requests: int
    memory_mb: float
    duration_ms: float
    egress_gib: float
    gib_seconds: float
    billable_invocations: int
    billable_gib_seconds: float
    invocations_cny: float
    compute_cny: float
    traffic_cny: float
    total_cny: float


def estimate(
    requests: int,
    memory_mb: float,
    duration_ms: float,
    egress_gib: float = 0.0,
    rates: Rates = Rates(),
) -> Estimate:
    figures = (requests, memory_mb, duration_ms, egress_gib, *asdict(rates).values())
    if not all(math.isfinite(x) for x in figures):
        raise ValueError("every figure and rate must be a finite number")
    if requests < 0 or memory_mb <= 0 or duration_ms < 0 or egress_gib < 0:
        raise ValueError("requests, duration and egress must be >= 0 and memory > 0")
    if min(asdict(rates).values()) < 0:
        raise ValueError("rates and free tiers must be >= 0")
    gib_seconds = requests * (memory_mb / 1024) * (duration_ms / 1000)
    billable_inv = max(0, requests - rates.free_invocations)
    billable_gib_s = max(0.0, gib_seconds - rates.free_gib_seconds)
    invocations = billable_inv / 10_000 * rates.per_10k_invocations
    compute = billable_gib_s * rates.per_gib_second
    traffic = egress_gib * rates.per_egress_gib
    return Estimate(
        requests=requests,
        memory_mb=memory_mb,
        duration_ms=duration_ms,
        egress_gib=egress_gib,
        gib_seconds=gib_seconds,
        billable_invocations=billable_inv,
        billable_gib_seconds=billable_gib_s,
        invocations_cny=invocations,
        compute_cny=compute,
        traffic_cny=traffic,
        total_cny=invocations + compute + traffic,
    )


def crossover_requests(
    monthly_cny: float,
    memory_mb: float,
    duration_ms: float,
    egress_gib_per_request: float = 0.0,
    rates: Rates = Rates(),
) -> int:
    """Smallest monthly volume at which FC costs at least `monthly_cny`.

    Below it FC is cheaper than an always-on instance costing `monthly_cny`
    a month; the cost is monotonic in the volume, so a bisection finds it.
    """
    if monthly_cny <= 0:
        return 0

    def cost(n: int) -> float:
        return estimate(n, memory_mb, duration_ms, n * egress_gib_per_request, rates).total_cny

    lo, hi = 0, 1
    while cost(hi) < monthly_cny:
        hi *= 2
        if hi > 10**15:
            raise ValueError("FC never reaches that monthly cost at these rates")
    while lo < hi:
        mid = (lo + hi) // 2
        if cost(mid) >= monthly_cny:
            hi = mid
        else:
            lo = mid + 1
    return lo


def format_estimate(e: Estimate, crossover: int | None = None, ecs: float | None = None) -> str:
    lines = [
        f"Function Compute, {e.requests:,} requests/month at {e.memory_mb:g} MB, "
        f"{e.duration_ms:.0f} ms each",
        f"  invocations  {e.billable_invocations:>14,} billable   {e.invocations_cny:>12.2f} CNY",
        f"  compute      {e.billable_gib_seconds:>14,.0f} GiB-s      {e.compute_cny:>12.2f} CNY"
        f"   ({e.gib_seconds:,.0f} GiB-s used)",
        f"  traffic      {e.egress_gib:>14,.1f} GiB        {e.traffic_cny:>12.2f} CNY",
        f"  total                                   {e.total_cny:>12.2f} CNY/month",
    ]
    if ecs is not None and crossover is not None:
        lines.append(
            f"  an always-on instance at {ecs:.2f} CNY/month is cheaper from "
            f"{crossover:,} requests/month"
        )
    elif ecs is not None:
        lines.append(
            f"  an always-on instance at {ecs:.2f} CNY/month is never cheaper at these rates"
        )
    return "\n".join(lines)


def run(args) -> int:
    """Print the estimate; the flags were range-checked by `add_arguments`' types."""
    rates = Rates(
        per_10k_invocations=args.rate_invocations,
        per_gib_second=args.rate_gib_second,
        per_egress_gib=args.rate_egress,
        free_invocations=args.free_invocations,
        free_gib_seconds=args.free_gib_seconds,
    )
    est = estimate(args.requests, args.memory_mb, args.duration_ms, args.egress_gib, rates)
    crossover = None
    if args.ecs_monthly_cny is not None:
        per_request = args.egress_gib / args.requests if args.requests else 0.0
        try:
            crossover = crossover_requests(
                args.ecs_monthly_cny, args.memory_mb, args.duration_ms, per_request, rates
            )
        except ValueError:  # FC never costs that much at these rates: never cheaper
            crossover = None
    if args.json:
        out = {**asdict(est), "rates": asdict(rates)}
        out = {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}
        if args.ecs_monthly_cny is not None:
            out["ecs_monthly_cny"] = args.ecs_monthly_cny
            out["crossover_requests"] = crossover  # null: the instance is never cheaper
        try:
            text = json.dumps(out, indent=2, allow_nan=False)
        except ValueError:  # pragma: no cover - the flags' bounds keep every figure finite
            print("imgpipe cost: the estimate is not a finite number", file=sys.stderr)
            return 1
        print(text)
    else:
        print(format_estimate(est, crossover, args.ecs_monthly_cny))
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
    d = Rates()
    parser.add_argument(
        "--rate-invocations",
        metavar="CNY",
        type=RATE,
        default=d.per_10k_invocations,
        help="CNY per 10,000 invocations",
    )
    parser.add_argument("--rate-gib-second", metavar="CNY", type=RATE, default=d.per_gib_second)
    parser.add_argument(
        "--rate-egress", metavar="CNY", type=RATE, default=d.per_egress_gib, help="CNY per GiB"
    )
    parser.add_argument("--free-invocations", metavar="N", type=COUNT, default=d.free_invocations)
    parser.add_argument(
        "--free-gib-seconds", metavar="GIB_S", type=AMOUNT, default=d.free_gib_seconds
    )
