"""What Function Compute charges for a monthly workload: the model `imgpipe cost`,
`imgpipe backfill --dry-run`, `imgpipe bench` and the demo all price with.

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

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass


def _validate(
    rates: Rates | CuRates,
    *,
    at_least_zero: Mapping[str, float],
    above_zero: Mapping[str, float],
) -> None:
    """The one check of both models' inputs: every figure and rate a finite
    number, none negative, memory and vCPU above zero."""
    rate_values = [
        x for v in asdict(rates).values() for x in (v if isinstance(v, tuple | list) else (v,))
    ]
    figures = [*at_least_zero.values(), *above_zero.values(), *rate_values]
    if not all(math.isfinite(x) for x in figures):
        raise ValueError("every figure and rate must be a finite number")
    wrong = [name for name, v in at_least_zero.items() if v < 0]
    wrong += [name for name, v in above_zero.items() if v <= 0]
    if wrong:
        raise ValueError(f"{', '.join(wrong)}: must be >= 0 (memory and vCPU > 0)")
    if min(rate_values) < 0:
        raise ValueError("rates and free tiers must be >= 0")


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
    _validate(
        rates,
        at_least_zero={"requests": requests, "duration": duration_ms, "egress": egress_gib},
        above_zero={"memory": memory_mb},
    )
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
    _validate(
        rates,
        at_least_zero={
            "requests": requests,
            "duration": duration_ms,
            "disk": disk_mb,
            "egress": egress_gib,
            "warm instances": warm_instances,
        },
        above_zero={"vCPU": vcpu, "memory": memory_mb},
    )
    if not 0 <= warm_hours <= 744:
        raise ValueError("warm hours must be 0-744 (a month)")
    if rates.tier_limits[0] > rates.tier_limits[1]:
        raise ValueError("the tier limits must be in order")
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


def smallest_volume(cost: Callable[[int], float], monthly_cny: float) -> int | None:
    """The smallest monthly volume `n` with `cost(n) >= monthly_cny`: where an
    always-on instance costing `monthly_cny` a month becomes the cheaper one.

    Both cost models grow with the volume, so doubling then bisecting finds
    it; None when FC stays cheaper up to 10^15 requests (rates of zero).
    An instance that costs nothing, or less than FC's idle cost, gives 0.
    """
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


def crossover_requests(
    monthly_cny: float,
    memory_mb: float,
    duration_ms: float,
    egress_gib_per_request: float = 0.0,
    rates: Rates = Rates(),
) -> int | None:
    """The article model's crossover (`smallest_volume`)."""
    return smallest_volume(
        lambda n: estimate(n, memory_mb, duration_ms, n * egress_gib_per_request, rates).total_cny,
        monthly_cny,
    )


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


def cu_crossover(monthly_cny: float, est: CuEstimate, rates: CuRates) -> int | None:
    """The CU model's crossover (`smallest_volume`), at `est`'s size, traffic
    per request and warm instances (FC bills them every month, whatever the volume)."""
    egress_per = est.egress_gib / est.requests if est.requests else 0.0

    def cost(n: int) -> float:
        return cu_estimate(
            n, est.vcpu, est.memory_mb, est.duration_ms,
            disk_mb=est.disk_mb, egress_gib=n * egress_per,
            warm_instances=est.warm_instances, warm_hours=est.warm_hours, rates=rates,
        ).total_cny  # fmt: skip

    return smallest_volume(cost, monthly_cny)
