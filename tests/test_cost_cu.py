"""`imgpipe cost`'s CU model against worked examples computed by hand.

Rates: Alibaba Cloud FC "Pay-as-you-go" (docs/cost.md): 75 CU per 10,000
invocations, 1 CU per vCPU-second, 0.15 CU per memory GB-second, 0.05 CU per
disk GB-second; CNY per CU 0.00011 up to 200 million CU a month, 0.00010 up
to 1 billion, 0.00009 above.
"""

import json
import subprocess
import sys

import pytest

from imgpipe import pricing as cost


def test_the_pages_own_example_by_hand():
    # The page's example: 3 M invocations, 512 MB, 200 ms, 0.25 vCPU.
    # invocations 3,000,000 / 10,000 x 75           =  22,500 CU
    # vCPU        3,000,000 x 0.2 s x 0.25 x 1       = 150,000 CU
    # memory      3,000,000 x 0.2 s x 0.5 GB x 0.15  =  45,000 CU
    # disk        3,000,000 x 0.2 s x 0.5 GB x 0.05  =  15,000 CU
    # total 232,500 CU x 0.00011 CNY                 =  25.575 CNY
    e = cost.cu_estimate(3_000_000, 0.25, 512, 200)
    assert (e.invocations_cu, e.vcpu_cu, e.memory_cu, e.disk_cu) == pytest.approx(
        (22_500, 150_000, 45_000, 15_000)
    )
    assert e.total_cu == pytest.approx(232_500)
    assert e.total_cny == pytest.approx(25.575)
    no_disk = cost.cu_estimate(3_000_000, 0.25, 512, 200, disk_mb=0)
    assert no_disk.total_cu == pytest.approx(217_500)
    assert no_disk.total_cny == pytest.approx(23.925)


def test_vcpu_dominates_a_camera_photo():
    # 10,000 photos at 1 vCPU, 1024 MB, 512 MB disk, 150 ms:
    # 75 + 1,500 x 1 + 1,500 x 0.15 + 1,500 x 0.5 x 0.05 = 75 + 1500 + 225 + 37.5 = 1,837.5 CU
    e = cost.cu_estimate(10_000, 1, 1024, 150)
    assert e.total_cu == pytest.approx(1_837.5)
    assert e.cu_per_request == pytest.approx(0.18375)
    assert e.total_cny == pytest.approx(1_837.5 * 0.00011)
    assert e.vcpu_cu > 0.8 * e.total_cu


def test_tiers_price_each_slice_at_its_own_rate():
    assert cost.tiered_cny(200_000_000) == pytest.approx(22_000)
    # 300 M CU: 200 M x 0.00011 + 100 M x 0.00010 = 22,000 + 10,000
    assert cost.tiered_cny(300_000_000) == pytest.approx(32_000)
    # 1.5 G CU: 22,000 + 800 M x 0.0001 + 500 M x 0.00009 = 22,000 + 80,000 + 45,000
    assert cost.tiered_cny(1_500_000_000) == pytest.approx(147_000)


def test_trial_plan_and_traffic():
    rates = cost.CuRates(trial_cu=200_000)
    e = cost.cu_estimate(3_000_000, 0.25, 512, 200, egress_gib=4, rates=rates)
    assert e.billable_cu == pytest.approx(32_500)
    assert e.compute_cny == pytest.approx(32_500 * 0.00011)
    assert e.traffic_cny == pytest.approx(2.0)
    assert cost.cu_estimate(1, 1, 1024, 1, rates=cost.CuRates(trial_cu=1e9)).total_cny == 0


@pytest.mark.parametrize(
    "bad",
    [dict(vcpu=0), dict(memory_mb=0), dict(duration_ms=-1), dict(duration_ms=float("nan"))],
)
def test_bad_figures_are_refused(bad):
    args = dict(requests=1, vcpu=1, memory_mb=1024, duration_ms=100) | bad
    with pytest.raises(ValueError):
        cost.cu_estimate(**args)


def test_cheapest_size_respects_fc_ratios():
    # Work that scales perfectly with vCPU costs the same vCPU-seconds at any size;
    # memory per vCPU is cheapest at the 1 GB : 1 vCPU floor, and the fixed disk
    # is billed for less time on more vCPUs: the largest size at ratio 1 wins.
    vcpu, mem, cu = cost.cheapest_size(lambda v: 100 / v, 256)
    assert (vcpu, mem) == (4.0, 4096)
    # 75/10k + 0.1 vCPU-s + 0.025 s x (4 GB x 0.15 + 0.5 GB x 0.05)
    assert cu == pytest.approx(0.0075 + 0.1 + 0.025 * (0.6 + 0.025))
    # Work that cannot use more than a quarter of a CPU (I/O waits): the smallest share.
    vcpu, mem, _ = cost.cheapest_size(lambda v: 100 / min(v, 0.25) + 50, 128)
    assert vcpu <= 0.25 and 1 <= mem / 1024 / vcpu <= 4
    with pytest.raises(ValueError):
        cost.cheapest_size(lambda v: 100, 10**9)


def _cost(*args):
    return subprocess.run(
        [sys.executable, "-m", "imgpipe", "cost", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_default_is_cu_and_shows_each_part():
    done = _cost("--requests", "3000000", "--memory-mb", "512", "--duration-ms", "200",
                 "--vcpu", "0.25")  # fmt: skip
    assert done.returncode == 0, done.stderr
    for needle in ("22,500 CU", "150,000 CU", "45,000 CU", "15,000 CU", "232,500 CU", "25.5"):
        assert needle in done.stdout
    done = _cost("--requests", "3000000", "--memory-mb", "512", "--duration-ms", "200",
                 "--vcpu", "0.25", "--json", "--cu-price-cny", "0.0002,0.0001,0.0001")  # fmt: skip
    out = json.loads(done.stdout)
    assert out["pricing"] == "cu" and out["total_cny"] == pytest.approx(232_500 * 0.0002)


def test_cli_article_still_gives_16_38():
    done = _cost("--pricing", "article", "--requests", "5000000", "--memory-mb", "512",
                 "--duration-ms", "200")  # fmt: skip
    assert done.returncode == 0 and "16.38 CNY/month" in done.stdout


def test_cli_mixing_models_is_one_line_and_status_2():
    done = _cost("--requests", "1", "--memory-mb", "512", "--duration-ms", "1",
                 "--vcpu", "1", "--rate-invocations", "0")  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "--pricing" in done.stderr


def test_cli_warns_about_a_ratio_fc_refuses():
    done = _cost("--requests", "1", "--memory-mb", "8192", "--duration-ms", "1", "--vcpu", "1")
    assert done.returncode == 0 and "between 1 and 4" in done.stdout


@pytest.mark.parametrize(
    ("vcpu", "memory_mb", "problem"),
    [
        (1, 1024, None),
        (0.05, 128, None),
        (0.35, 1024, None),
        (16, 32768, None),
        (1, 4096, None),  # 1:4, the edge
        (0.33, 1024, "0.33 vCPU is not a 0.05 step"),
        (1, 1000, "1000 MB is not a 64 MB step"),
        (1, 64, "64 MB is not a 64 MB step from 128"),
        (1, 4160, "memory GB / vCPU is 4.06"),
        (2, 1984, "memory GB / vCPU is 0.97"),
        (16.05, 32768, "16.05 vCPU is not a 0.05 step from 0.05 to 16"),
    ],
)
def test_sizes_fc_does_not_offer_are_named(vcpu, memory_mb, problem):
    said = cost.size_problem(vcpu, memory_mb)
    assert (said is None) == (problem is None)
    if problem:
        assert problem in said and said.endswith("priced as given")


def test_cli_says_a_size_fc_does_not_offer_and_still_prices_it():
    done = _cost("--requests", "1000", "--memory-mb", "1000", "--vcpu", "0.33",
                 "--duration-ms", "100")  # fmt: skip
    assert done.returncode == 0 and "CNY/month" in done.stdout
    assert "0.33 vCPU is not a 0.05 step" in done.stdout and "1000 MB is not a 64 MB" in done.stdout


def test_article_model_says_where_free_gib_seconds_went():
    """'0 GiB-s (150,000 GiB-s used)' read as a contradiction (issue 15)."""
    from imgpipe.pricing import estimate, format_estimate

    text = format_estimate(estimate(300_000, 1024, 500))
    compute = next(line for line in text.splitlines() if "compute" in line)
    assert "0 GiB-s" in compute
    assert "(of 150,000 GiB-s used; 150,000 in the free tier)" in compute


def test_warm_instances_cost_their_idle_memory_and_disk():
    """One instance kept warm all month at 640 MB and 512 MB of disk, worked by hand:
    730 h x 3,600 s x (0.625 GB x 0.15 + 0.5 GB x 0.05) = 2,628,000 x 0.11875 = 312,075 CU,
    34.33 CNY at tier 1; idle vCPU is 0 CU (the module's always_allocate_cpu = false)."""
    from imgpipe.pricing import cu_estimate

    none = cu_estimate(1_000_000, 0.2, 640, 300)
    warm = cu_estimate(1_000_000, 0.2, 640, 300, warm_instances=1)
    assert none.warm_cu == 0
    assert warm.warm_cu == pytest.approx(312_075)
    assert warm.total_cu - none.total_cu == pytest.approx(312_075)
    assert warm.vcpu_cu == none.vcpu_cu  # no idle vCPU
    # two instances for office hours only (22 days x 10 h)
    office = cu_estimate(1_000_000, 0.2, 640, 300, warm_instances=2, warm_hours=220)
    assert office.warm_cu == pytest.approx(2 * 220 * 3600 * 0.11875)
    with pytest.raises(ValueError, match="warm"):
        cu_estimate(1, 1, 1024, 1, warm_hours=745)


def test_the_cli_prices_warm_instances(capsys):
    from imgpipe.cli import main

    code = main(
        ["cost", "--requests", "1000000", "--memory-mb", "640", "--vcpu", "0.2",
         "--duration-ms", "300", "--warm-instances", "1", "--json"]
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["warm_instances"] == 1 and out["warm_cu"] == pytest.approx(312_075)


# ---------------------------------------------------------------- the crossover


@pytest.mark.parametrize(
    ("per_request", "idle", "monthly", "expected"),
    [
        (3.0, 0.0, 10.0, 4),  # 9 < 10 <= 12
        (3.0, 0.0, 9.0, 3),  # exactly 9 at 3: FC costs as much there
        (3.0, 0.0, 0.5, 1),
        (3.0, 0.0, 0.0, 0),  # a free instance is never dearer
        (3.0, 0.0, 3 * 700_001.0, 700_001),  # far past the first doublings
        (1.0, 50.0, 20.0, 0),  # FC's idle (warm) cost alone is dearer
        (0.0, 0.0, 1.0, None),  # FC never costs that much: the instance never wins
    ],
)
def test_the_smallest_volume_is_exact_at_each_side(per_request, idle, monthly, expected):
    n = cost.smallest_volume(lambda n: idle + per_request * n, monthly)
    assert n == expected


def test_the_crossovers_use_the_rates_and_traffic_they_are_given():
    """Both models' crossover: the smallest volume where the estimate itself
    (with the same rates, egress per request and warm instances) reaches the
    instance's monthly cost."""
    rates = cost.Rates(per_gib_second=0.0002, per_egress_gib=0.8)
    n = cost.crossover_requests(300.0, 1024, 200, 0.0005, rates)

    def article(v: int) -> float:
        return cost.estimate(v, 1024, 200, v * 0.0005, rates).total_cny

    assert article(n) >= 300.0 > article(n - 1)
    assert n != cost.crossover_requests(300.0, 1024, 200, 0.0005)  # the default rates
    assert n != cost.crossover_requests(300.0, 1024, 200, 0.0, rates)  # no traffic

    cu_rates = cost.CuRates(cny_per_cu=(0.0002, 0.0002, 0.0002))
    est = cost.cu_estimate(
        2_000, 0.5, 1024, 200, egress_gib=1.0, warm_instances=1, warm_hours=10, rates=cu_rates
    )
    m = cost.cu_crossover(300.0, est, cu_rates)

    def cu(v: int) -> float:
        return cost.cu_estimate(
            v,
            0.5,
            1024,
            200,
            egress_gib=v * 1.0 / 2_000,
            warm_instances=1,
            warm_hours=10,
            rates=cu_rates,
        ).total_cny

    assert cu(m) >= 300.0 > cu(m - 1)
    assert m != cost.cu_crossover(300.0, est, cost.CuRates())
    idle = cost.cu_estimate(0, 0.5, 1024, 200, rates=cu_rates)
    assert cost.cu_crossover(300.0, idle, cu_rates) == cost.cu_crossover(
        300.0, cost.cu_estimate(10, 0.5, 1024, 200, rates=cu_rates), cu_rates
    )  # no traffic: the volume the estimate was made at does not matter


def test_cheapest_size_starts_at_fcs_128_mb_floor_and_prices_with_the_given_rates_and_disk():
    """`imgpipe bench`'s recommendation: work that a bigger CPU share does not
    speed up is cheapest at 0.05 vCPU with FC's smallest memory, 128 MB; its CU
    are the estimate's, with the rates and disk it is given."""
    vcpu, mem, cu = cost.cheapest_size(lambda v: 100, 64, vcpus=(0.05, 0.1))
    assert (vcpu, mem) == (0.05, 128)
    assert cu == pytest.approx(cost.cu_estimate(1, 0.05, 128, 100).total_cu)
    rates = cost.CuRates(cu_per_vcpu_second=10.0)
    _, _, dear = cost.cheapest_size(lambda v: 100, 64, vcpus=(0.05,), rates=rates)
    assert dear == pytest.approx(cost.cu_estimate(1, 0.05, 128, 100, rates=rates).total_cu)
    _, _, disk = cost.cheapest_size(lambda v: 100, 64, vcpus=(0.05,), disk_mb=10240)
    assert disk == pytest.approx(cost.cu_estimate(1, 0.05, 128, 100, disk_mb=10240).total_cu)
    assert len({cu, dear, disk}) == 3
    with pytest.raises(ValueError, match="no allowed vCPU/memory pair holds 1000000000 MB"):
        cost.cheapest_size(lambda v: 100, 10**9)
