"""`imgpipe cost`: what Function Compute charges for a monthly workload.

Two models; `--pricing cu` (the default) is how FC bills today:

**cu**: since 2024-08-27 every billable item is converted to compute units
(CU) and CU are priced per month in tiers. Alibaba Cloud, Function Compute,
"Pay-as-you-go" (help.aliyun.com/en/functioncompute/fc/product-overview/
pay-as-you-go-billing-methods), conversion factors: 75 CU per 10,000
invocations, 1 CU per active vCPU-second (idle vCPU: 0), 0.15 CU per
GB-second of memory, 0.05 CU per GB-second of disk; CNY prices per CU,
monthly tiers: (0, 200 million] 0.00011, (200 million, 1 billion] 0.00010,
above 1 billion 0.00009. The same page lists discounted prices (0.000088,
0.000080, 0.000072) for a promotion that ran 2024-08-27 to 2026-08-27; it is
over, so the defaults are the list prices. On-demand CPU instances are
billed by the millisecond, so the billed duration is the measured one.
vCPU, memory and disk are billed as *configured* x duration, not as used:
an instance waiting on OSS pays its full vCPU. FC 3.0 has no monthly free
tier any more; first-time users get a one-off trial CU plan ("Billing
overview", FC 3.0), whose size the page does not state: `--trial-cu`
(default 0) subtracts one if you still have it. Memory and disk GB are
MB / 1024 (the page's example: 512 MB = 0.5 GB). Disk: FC 3.0 offers 512 MB
or 10 GB (CreateFunctionInput.diskSize; the module sets 512) and this model
bills whichever is given with `--disk-mb`, which errs high if FC waives the
512 MB default (not stated on the page; `--disk-mb 0` leaves it out).

**article**: the reference article's FC 2.0 rates: 0.0133 CNY per 10,000
invocations, 0.000110592 CNY per GiB-second of memory (memory size x billed
duration), after a monthly free tier of 1,000,000 invocations and 400,000
GiB-seconds. Its worked example (5 M requests at 512 MiB and 200 ms) comes
to 16.38 CNY with these rates. Its table does not follow from its own rates
(README, "Cost"), so the table is computed here, never copied. Passing one of
this model's rate flags (`--rate-invocations`, `--rate-gib-second`,
`--free-invocations`, `--free-gib-seconds`) selects it, since the flags mean
nothing to the CU model.

Warm instances (`--warm-instances N`, the module's `warm_instances`): the
CU model adds N provisioned instances kept for `--warm-hours` a month
(default 730, all the time). The module keeps their vCPU unallocated
between requests (`always_allocate_cpu = false`), and the same page bills
an idle vCPU at 0 CU, so an idle warm instance costs its memory and disk:
N x hours x 3,600 s x (GB x 0.15 + disk GB x 0.05) CU. Its requests are
already in the estimate as active time.

Both add 0.50 CNY per GiB of outbound traffic (`--egress-gib`); FC bills
Internet traffic through CDT since 2024-01-05, so check your CDT price.
Every rate is a parameter, so a price change is a flag, not a code change.
docs/cost.md has the worked examples.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from imgpipe import argtypes
from imgpipe import bill as _bill


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


@dataclass(frozen=True)
class CuRates:
    """FC 3.0's conversion factors and CNY per CU by monthly tier (module docstring)."""

    cu_per_10k_invocations: float = 75.0
    cu_per_vcpu_second: float = 1.0
    cu_per_gb_second: float = 0.15
    cu_per_disk_gb_second: float = 0.05
    # CNY per CU: tier 1 up to tier_limits[0] CU a month, tier 2 up to
    # tier_limits[1], tier 3 above.
    cny_per_cu: tuple[float, float, float] = (0.00011, 0.00010, 0.00009)
    tier_limits: tuple[float, float] = (200_000_000, 1_000_000_000)
    per_egress_gib: float = 0.50
    trial_cu: float = 0.0


@dataclass(frozen=True)
class CuEstimate:
    requests: int
    vcpu: float
    memory_mb: float
    disk_mb: float
    duration_ms: float
    egress_gib: float
    warm_instances: int
    warm_hours: float
    invocations_cu: float
    vcpu_cu: float
    memory_cu: float
    disk_cu: float
    warm_cu: float
    total_cu: float
    billable_cu: float
    compute_cny: float
    traffic_cny: float
    total_cny: float

    @property
    def cu_per_request(self) -> float:
        return self.total_cu / self.requests if self.requests else 0.0


def tiered_cny(cu: float, rates: CuRates = CuRates()) -> float:
    """CNY for a month's `cu`, each slice at its tier's price."""
    (p1, p2, p3), (l1, l2) = rates.cny_per_cu, rates.tier_limits
    return min(cu, l1) * p1 + max(0.0, min(cu, l2) - l1) * p2 + max(0.0, cu - l2) * p3


def cu_estimate(
    requests: int,
    vcpu: float,
    memory_mb: float,
    duration_ms: float,
    *,
    disk_mb: float = 512,
    egress_gib: float = 0.0,
    warm_instances: int = 0,
    warm_hours: float = 730.0,
    rates: CuRates = CuRates(),
) -> CuEstimate:
    """One month of `requests` invocations of `duration_ms` each at this size,
    plus `warm_instances` kept idle for `warm_hours` (module docstring)."""
    flat = [
        v for v in (*asdict(rates).values(),) for v in (v if isinstance(v, tuple | list) else (v,))
    ]
    figures = (requests, vcpu, memory_mb, disk_mb, duration_ms, egress_gib, warm_hours, *flat)
    if not all(math.isfinite(x) for x in figures):
        raise ValueError("every figure and rate must be a finite number")
    if requests < 0 or duration_ms < 0 or egress_gib < 0 or disk_mb < 0:
        raise ValueError("requests, duration, disk and egress must be >= 0")
    if warm_instances < 0 or not 0 <= warm_hours <= 744:
        raise ValueError("warm instances must be >= 0 and warm hours 0-744 (a month)")
    if vcpu <= 0 or memory_mb <= 0:
        raise ValueError("vCPU and memory must be > 0")
    if min(flat) < 0 or rates.tier_limits[0] > rates.tier_limits[1]:
        raise ValueError("rates must be >= 0 and the tier limits in order")
    seconds = requests * duration_ms / 1000
    invocations_cu = requests / 10_000 * rates.cu_per_10k_invocations
    vcpu_cu = seconds * vcpu * rates.cu_per_vcpu_second
    memory_cu = seconds * memory_mb / 1024 * rates.cu_per_gb_second
    disk_cu = seconds * disk_mb / 1024 * rates.cu_per_disk_gb_second
    # idle vCPU: 0 CU (the module sets always_allocate_cpu = false)
    warm_seconds = warm_instances * warm_hours * 3600
    warm_cu = warm_seconds * (
        memory_mb / 1024 * rates.cu_per_gb_second + disk_mb / 1024 * rates.cu_per_disk_gb_second
    )
    total_cu = invocations_cu + vcpu_cu + memory_cu + disk_cu + warm_cu
    billable = max(0.0, total_cu - rates.trial_cu)
    compute = tiered_cny(billable, rates)
    traffic = egress_gib * rates.per_egress_gib
    return CuEstimate(
        requests=requests,
        vcpu=vcpu,
        memory_mb=memory_mb,
        disk_mb=disk_mb,
        duration_ms=duration_ms,
        egress_gib=egress_gib,
        warm_instances=warm_instances,
        warm_hours=warm_hours,
        invocations_cu=invocations_cu,
        vcpu_cu=vcpu_cu,
        memory_cu=memory_cu,
        disk_cu=disk_cu,
        warm_cu=warm_cu,
        total_cu=total_cu,
        billable_cu=billable,
        compute_cny=compute,
        traffic_cny=traffic,
        total_cny=compute + traffic,
    )


def format_cu_estimate(e: CuEstimate, rates: CuRates = CuRates()) -> str:
    price = rates.cny_per_cu[0]
    parts = [
        ("invocations", e.invocations_cu, f"{e.requests:,} x {rates.cu_per_10k_invocations:g}/10k"),
        ("vCPU", e.vcpu_cu, f"{e.vcpu:g} vCPU x {rates.cu_per_vcpu_second:g}/vCPU-s"),
        ("memory", e.memory_cu, f"{e.memory_mb:g} MB x {rates.cu_per_gb_second:g}/GB-s"),
        ("disk", e.disk_cu, f"{e.disk_mb:g} MB x {rates.cu_per_disk_gb_second:g}/GB-s"),
    ]
    if e.warm_instances:
        parts.append(
            (
                "warm (idle)",
                e.warm_cu,
                f"{e.warm_instances} x {e.warm_hours:g} h, memory and disk; idle vCPU 0",
            )
        )
    lines = [
        f"Function Compute (CU pricing), {e.requests:,} requests/month at {e.vcpu:g} vCPU, "
        f"{e.memory_mb:g} MB, {e.duration_ms:.0f} ms each",
    ]
    for name, cu, how in parts:
        lines.append(f"  {name:12} {cu:>16,.0f} CU   {cu * price:>12.2f} CNY   ({how})")
    lines.append(
        f"  CU total     {e.total_cu:>16,.0f} CU   ({e.cu_per_request:.3f} CU per request"
        + (f"; {e.billable_cu:,.0f} after the trial plan" if rates.trial_cu else "")
        + ")"
    )
    lines.append(f"  compute                          {e.compute_cny:>12.2f} CNY   (tiered)")
    lines.append(f"  traffic      {e.egress_gib:>13,.1f} GiB   {e.traffic_cny:>12.2f} CNY")
    lines.append(f"  total                            {e.total_cny:>12.2f} CNY/month")
    return "\n".join(lines)


def size_problem(vcpu: float, memory_mb: float) -> str | None:
    """What makes (vcpu, memory_mb) a size FC 3.0 does not offer, or None.

    ROS ALIYUN::FC3::Function, Cpu: "单位为 vCPU,为 0.05 vCPU 的倍数。最小值为
    0.05,最大值为 16。同时 cpu 和 memorySize(按 GB 计算)比例要在 1:1 和 1:4 之间"
    (https://help.aliyun.com/zh/ros/developer-reference/aliyun-fc3-function);
    memory in 64 MB steps, 128-32768 MB, as variables.tf validates `memory_mb`.
    """
    problems = []
    if not 0.05 <= vcpu <= 16 or abs(vcpu * 20 - round(vcpu * 20)) > 1e-9:
        problems.append(f"{vcpu:g} vCPU is not a 0.05 step from 0.05 to 16")
    if not 128 <= memory_mb <= 32768 or memory_mb % 64:
        problems.append(f"{memory_mb:g} MB is not a 64 MB step from 128 to 32768")
    ratio = memory_mb / 1024 / vcpu
    if not 1 <= ratio <= 4:
        problems.append(f"memory GB / vCPU is {ratio:.2f}, not between 1 and 4")
    if not problems:
        return None
    return "note: not a size FC 3.0 offers (" + "; ".join(problems) + "): priced as given"


def cheapest_size(
    duration_ms_at: Callable[[float], float],
    min_memory_mb: int,
    *,
    vcpus: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 81)),
    rates: CuRates = CuRates(),
    disk_mb: float = 512,
) -> tuple[float, int, float]:
    """(vCPU, memory MB, CU per request) costing least for one request.

    FC 3.0 allows vCPU in 0.05 steps and memory in 64 MB steps with memory
    GB / vCPU between 1 and 4 (`size_problem`). For each vCPU the
    cheapest memory is the smallest allowed that holds `min_memory_mb`;
    `duration_ms_at(vcpu)` is how long one request takes with that share of
    a CPU (the caller's model of its own measurements).
    """
    best: tuple[float, int, float] | None = None
    for vcpu in vcpus:
        low = max(min_memory_mb, math.ceil(vcpu * 1024 / 64) * 64, 128)
        mem = math.ceil(low / 64) * 64
        if size_problem(vcpu, mem):
            continue  # this vCPU cannot hold that much memory
        cu = cu_estimate(1, vcpu, mem, duration_ms_at(vcpu), disk_mb=disk_mb, rates=rates)
        if best is None or cu.total_cu < best[2]:
            best = (vcpu, mem, cu.total_cu)
    if best is None:
        raise ValueError(f"no allowed vCPU/memory pair holds {min_memory_mb} MB")
    return best


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
        # "0 GiB-s (226,286 used)" read as a contradiction: say where the rest went
        f"   (of {e.gib_seconds:,.0f} GiB-s used; "
        f"{e.gib_seconds - e.billable_gib_seconds:,.0f} in the free tier)",
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
        try:
            crossover = crossover_requests(
                args.ecs_monthly_cny, args.memory_mb, args.duration_ms, per_request, rates
            )
        except ValueError:  # FC never costs that much at these rates: never cheaper
            crossover = None
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
        crossover = _cu_crossover(args.ecs_monthly_cny, est, rates)
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


def _cu_crossover(monthly_cny: float, est: CuEstimate, rates: CuRates) -> int | None:
    """Smallest monthly volume at which FC (CU model) costs at least `monthly_cny`."""
    if monthly_cny <= 0:
        return 0
    egress_per = est.egress_gib / est.requests if est.requests else 0.0

    def cost(n: int) -> float:
        return cu_estimate(
            n, est.vcpu, est.memory_mb, est.duration_ms,
            disk_mb=est.disk_mb, egress_gib=n * egress_per, rates=rates,
        ).total_cny  # fmt: skip

    lo, hi = 0, 1
    while cost(hi) < monthly_cny:
        hi *= 2
        if hi > 10**15:
            return None
    while lo < hi:
        mid = (lo + hi) // 2
        if cost(mid) >= monthly_cny:
            hi = mid
        else:
            lo = mid + 1
    return lo


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
    import argparse

    parts = text.split(",")
    if len(parts) != n:
        raise argparse.ArgumentTypeError(f"{n} comma-separated numbers required, got {text!r}")
    return tuple(AMOUNT(p.strip()) for p in parts)


def _triple(text: str) -> tuple[float, float, float]:
    return _numbers(text, 3)  # type: ignore[return-value]


def _pair(text: str) -> tuple[float, float]:
    import argparse

    low, high = _numbers(text, 2)
    if low > high:
        raise argparse.ArgumentTypeError(f"tier limits must be in order, got {text!r}")
    return low, high
