"""The whole bill (`imgpipe.bill`, `imgpipe.prices`): the pages' own examples,
every line by hand, and the counts it assumes measured on the real handler.

The request counts, the log bytes and the default sizes are not trusted:
the real handler runs against local buckets wrapped in a counter, its log
line is measured, and the real processor makes the default photo's outputs.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import BENCH, IMAGES

from fc_handler.handle import HEADER_BYTES, handle_event
from fc_handler.logs import emit
from fc_handler.settings import Settings
from fc_handler.storage import LocalStorage, NotFound
from imgpipe import bill as B
from imgpipe import prices as P
from imgpipe.cli import main
from imgpipe.cloud.events import cloudevent

GIB = 2**30

# ---------------------------------------------------------------- the pages' examples


def test_oss_storage_the_pages_hourly_price():
    # "USD 0.0173 per GB-month ... USD 0.000024 per GB-hour (0.0173/30/24)"
    assert round(P.OSS_STANDARD.value / 30 / 24, 6) == 0.000024
    # OSS bills GB x hours at price/30/24: 30 uploads of 1 GB in a month, one
    # a day; on day d (0..29) d + 1 are stored: 465 GB-days = 15.5 GB-months
    assert math.isclose(B.gb_months(30, GIB, 0, None, 1), 465 / 30)
    # a GB that leaves after 10 days: 30 uploads, each counted <= 10 days
    held = sum(min(d + 1, 10) for d in range(30))
    assert math.isclose(B.gb_months(30, GIB, 0, 10, 1), held / 30)


def test_cdn_the_pages_worked_example():
    # "51200 GB x USD 0.04 + 1000 GB x USD 0.03 = USD 2078"
    assert math.isclose(P.tiered(52_200, P.CDN), 2078.0)
    assert math.isclose(P.tiered(51_200, P.CDN), 2048.0)  # the first tier, whole
    # past 1 PB (1,048,576 GB): the last tier's 0.02
    beyond = P.tiered(1_048_576 + 1000, P.CDN) - P.tiered(1_048_576, P.CDN)
    assert math.isclose(beyond, 20.0)


def test_mns_the_pages_example():
    # "30 queues ... 0.08 x 30 = 2.4 USD": 30 queue-days; the module's one
    # queue for a 30-day month is the same 30 queue-days
    line = next(ln for ln in _bill(B.Workload(1000)).lines if ln.name == "MNS dead-letter queue")
    assert (line.monthly, line.currency) == (pytest.approx(2.4), "USD")


def test_eventbridge_system_bus_to_fc_is_free():
    line = next(ln for ln in _bill(B.Workload(10**9)).lines if ln.name == "EventBridge")
    assert line.monthly == 0.0 and "system event bus" in P.EVENTBRIDGE.quote


# ---------------------------------------------------------------- every line by hand

# 3,000 uploads a month (100 a day), a 1 MiB source and two outputs of 1 MiB
# and 1 KiB, billed in month 5 (days 120-149), every rate given.
MIB = 2**20
WORK = B.Workload(
    photos=3000,
    month=5,
    source_bytes=MIB,
    variant_bytes=(MIB, 1024),
    serving="oss",
    views=2,
    log_bytes=500,
)
RATES = {
    "oss_standard": 0.02,
    "oss_ia": 0.01,
    "oss_put": 0.05,
    "oss_get": 0.04,
    "oss_egress": 0.5,
    "oss_origin": 0.1,
    "cdn": 0.3,
    "eventbridge": 2.0,
    "sls_gb": 0.7,
    "mns_queue_day": 0.1,
    "mns_requests": 3.0,
}


def _rates(**over) -> dict[str, P.Price]:
    values = {**RATES, **over}
    return {k: replace(p, value=values[k], tiers=()) for k, p in P.PRICES.items()}


def _bill(work: B.Workload, rates=None, fc=1.0) -> B.Bill:
    return B.make(work, fc, "FC", rates)


def _monthly(bill: B.Bill) -> dict[str, float | None]:
    return {ln.name: ln.monthly for ln in bill.lines}


def test_every_line_by_hand():
    got = _monthly(_bill(WORK, _rates()))
    # sources: age < 60 d; 100 a day; every day of month 5 holds 6,000 of them
    src_gb_days = 30 * 6000 * MIB / GIB
    # variants Standard: age < 90 d: 9,000 a day; IA: age >= 90: on day d
    # (120..149), d - 89 uploads-days: 31..60, sum 1,365, x 100
    std_gb_days = 30 * 9000 * (MIB + 1024) / GIB
    ia_gb_days = 136_500 * (MIB + 64 * 1024) / GIB  # 1 KiB billed as 64 KB
    expected = {
        "Function Compute (CU)": 1.0,
        "OSS storage, sources (Standard)": src_gb_days / 30 * 0.02,
        "OSS storage, variants (Standard)": std_gb_days / 30 * 0.02,
        "OSS storage, variants (IA)": ia_gb_days / 30 * 0.01,
        # two variants, then the ready manifest (fc_handler/manifest.py)
        "OSS requests, PUT (variants)": 3000 * (2 + 1) / 10_000 * 0.05,
        # 1 MiB > HEADER_BYTES: the header's GET, then the rest
        "OSS requests, GET (handler)": 3000 * 2 / 10_000 * 0.04,
        "Serving: OSS Internet traffic": 3000 * (MIB + 1024) * 2 / GIB * 0.5,
        "Serving: OSS GET requests": 3000 * 2 * 2 / 10_000 * 0.04,
        "EventBridge": 3000 / 1e6 * 2.0,
        "SLS ingestion": 3000 * 500 / GIB * 0.7,
        "MNS dead-letter queue": 30 * 0.1,
        "MNS dead letters": 0.0,
    }
    assert got == pytest.approx(expected)


def test_cdn_serving_by_hand():
    work = replace(WORK, serving="cdn", origin_fetches=1.5)
    got = _monthly(_bill(work, _rates()))
    assert got["Serving: CDN traffic"] == pytest.approx(3000 * (MIB + 1024) * 2 / GIB * 0.3)
    assert got["Serving: OSS traffic to CDN"] == pytest.approx(
        3000 * (MIB + 1024) * 1.5 / GIB * 0.1
    )
    assert got["Serving: OSS GET requests (origin)"] == pytest.approx(3000 * 2 * 1.5 / 1e4 * 0.04)
    assert "Serving: OSS Internet traffic" not in got
    assert not [n for n in _monthly(_bill(replace(WORK, serving="none"))) if "Serving" in n]


def test_dead_letters_beyond_the_free_quota_by_hand():
    work = replace(WORK, photos=30_000_000, dead_letter_fraction=0.9)
    got = _monthly(_bill(work, _rates()))
    # 27 M letters, 20 M free: 7 M x 3.0 per million
    assert got["MNS dead letters"] == pytest.approx(21.0)


def test_per_10k_photos_is_the_month_over_its_photos():
    bill = _bill(WORK, _rates())
    for ln in bill.lines:
        assert ln.per_10k(3000) == pytest.approx(ln.monthly * 10_000 / 3000)


def test_totals_per_currency_and_one_total_with_an_exchange_rate():
    bill = _bill(WORK, _rates())
    usd = sum(m for n, m in _monthly(bill).items() if n not in ("Function Compute (CU)",))
    usd -= _monthly(bill)["EventBridge"]  # EventBridge's page is in CNY
    cny = 1.0 + _monthly(bill)["EventBridge"]
    assert bill.totals() == pytest.approx({"CNY": cny, "USD": usd})
    assert bill.total_cny is None  # no exchange rate given: no single total
    both = B.make(WORK, 1.0, "FC", _rates(), usd_cny=7.0)
    assert both.total_cny == pytest.approx(cny + 7.0 * usd)


def test_a_rate_no_page_gave_is_not_priced_and_says_where_to_read_it():
    bill = _bill(WORK)
    missing = {ln.name for ln in bill.unpriced}
    assert "OSS storage, variants (IA)" in missing and "SLS ingestion" in missing
    text = B.format_bill(bill)
    assert "not priced: OSS storage, Infrequent Access LRS" in text
    assert "--rate-oss-ia" in text and P.OSS_PRICING in text
    assert "lines not priced" in text
    # every priced default has a value and a page; every unpriced one a flag
    for price in P.PRICES.values():
        assert price.url.startswith("https://") and price.flag.startswith("--rate-")


def test_the_docs_table_is_the_rate_table():
    """docs/cost.md's table of rates says what imgpipe/prices.py holds."""
    doc = (Path(__file__).parents[1] / "docs" / "cost.md").read_text()
    rows = [ln for ln in doc.splitlines() if ln.startswith("| ") and "`--rate-" in ln]
    for price in P.PRICES.values():
        (row,) = [r for r in rows if f"`{price.flag}`" in r]
        default = row.split(" | ")[1]
        if price.value is None:
            assert default == "not found", row
        else:
            assert f"{price.value:g}" in default and (price.value == 0 or price.currency in row)


# ---------------------------------------------------------------- what the bill assumes


def test_the_lifecycle_is_the_modules():
    from imgpipe.cloud.terraform import evaluate

    assert B.Lifecycle.from_evaluated(evaluate()) == B.Lifecycle()
    changed = evaluate({"variants_ia_days": 45, "upload_expiration_days": 7})
    assert B.Lifecycle.from_evaluated(changed) == B.Lifecycle(7, 30, 45)


class Counting(LocalStorage):
    """Local buckets that count each call as OSS bills it: a 404 is free."""

    def __init__(self, root):
        super().__init__(root)
        self.calls: list[tuple[str, bool]] = []

    def _count(self, op, fn, *args, **kw):
        try:
            result = fn(*args, **kw)
        except NotFound:
            self.calls.append((op, False))
            raise
        self.calls.append((op, True))
        return result

    def head(self, bucket, key):
        return self._count("get", super().head, bucket, key)

    def get(self, bucket, key, **kw):
        return self._count("get", super().get, bucket, key, **kw)

    def put(self, bucket, key, data, **kw):
        return self._count("put", super().put, bucket, key, data, **kw)

    def delete(self, bucket, key):
        return self._count("put", super().delete, bucket, key)

    def counted(self) -> B.Requests:
        return B.Requests(
            put=sum(1 for op, billed in self.calls if op == "put" and billed),
            get=sum(1 for op, billed in self.calls if op == "get" and billed),
            unbilled=sum(1 for _, billed in self.calls if not billed),
        )


def _deliver(storage, data: bytes, env: dict | None = None) -> str:
    settings = Settings.from_env({"SOURCE_BUCKET": "src", "TARGET_BUCKET": "dst", **(env or {})})
    log: list[dict] = []
    handle_event(
        cloudevent("src", "uploads/p.jpg", data),
        settings=settings,
        storage=storage,
        request_id="r",
        log=log.append,
    )
    return log[0]["outcome"]


@pytest.mark.parametrize("photo", [IMAGES / "flower.jpg", BENCH / "photo-12mp.jpg"])
def test_request_counts_are_the_real_handlers(tmp_path, photo):
    data = photo.read_bytes()
    assert (len(data) > HEADER_BYTES) == (photo.parent == BENCH)  # both paths taken
    storage = Counting(tmp_path)
    LocalStorage(tmp_path).put("src", "uploads/p.jpg", data, content_type="image/jpeg")
    assert _deliver(storage, data) == "processed"
    assert storage.counted() == B.requests_per("processed", 6, len(data))
    storage.calls.clear()
    assert _deliver(storage, data) == "current"  # the same upload delivered again
    assert storage.counted() == B.requests_per("current", 6, len(data))


def test_request_counts_of_an_upload_over_the_size_limit(tmp_path):
    data = (IMAGES / "flower.jpg").read_bytes()
    storage = Counting(tmp_path)
    LocalStorage(tmp_path).put("src", "uploads/p.jpg", data, content_type="image/jpeg")
    outcome = _deliver(storage, data, {"MAX_OBJECT_BYTES": str(len(data) - 1)})
    assert outcome == "rejected"
    assert storage.counted() == B.requests_per("too-large", 6, len(data))


def test_the_log_bytes_are_the_handlers_line(tmp_path):
    data = (BENCH / "photo-12mp.jpg").read_bytes()
    LocalStorage(tmp_path).put("src", "uploads/photo-12mp.jpg", data, content_type="image/jpeg")
    settings = Settings.from_env({"SOURCE_BUCKET": "src", "TARGET_BUCKET": "dst"})
    out = io.StringIO()
    handle_event(
        cloudevent("src", "uploads/photo-12mp.jpg", data),
        settings=settings,
        storage=LocalStorage(tmp_path),
        request_id="1-6750a8f2-0c5b4a7e9d3f2a1b8c7d6e5f",  # FC's request id form
        log=lambda record: emit(record, out),
    )
    line = out.getvalue()
    assert json.loads(line)["outcome"] == "processed"
    # the time field and the decoder's name move it by a few bytes
    assert abs(len(line.encode()) - B.LOG_BYTES) <= 8, len(line.encode())


def test_the_default_sizes_are_the_real_processors():
    from imgproc import process
    from imgproc.config import default_config

    data = (BENCH / "photo-12mp.jpg").read_bytes()
    assert len(data) == B.SOURCE_BYTES
    result = process(data, default_config())
    sizes = [len(o.data) for o in result.outputs]
    assert len(sizes) == len(B.VARIANT_BYTES)
    for made, assumed in zip(sizes, B.VARIANT_BYTES):
        assert abs(made - assumed) <= 0.05 * assumed, (sizes, B.VARIANT_BYTES)


# ---------------------------------------------------------------- the command


def _cost(capsys, *extra: str) -> tuple[int, str]:
    code = main(["cost", "--requests", "10000000", "--memory-mb", "640", "--vcpu", "0.2",
                 "--duration-ms", "400", *extra])  # fmt: skip
    return code, capsys.readouterr().out


def test_the_command_prints_every_line_with_its_source(capsys):
    code, out = _cost(capsys)
    assert code == 0
    bill_text = out.split("\n\n", 1)[1]
    for ln in _bill(B.Workload(10_000_000)).lines:
        assert f"  {ln.name}" in bill_text
    _, cdn = _cost(capsys, "--serving", "cdn")
    for price in P.PRICES.values():
        if price.value is not None:
            assert price.url in (bill_text if price is not P.CDN else cdn)
    assert "read 2026-12-04" in bill_text and "on-request processing instead" in bill_text


def test_the_json_keeps_the_fc_fields_and_adds_the_bill(capsys):
    code, out = _cost(capsys, "--json", "--rate-oss-ia", "0.9CNY", "--usd-cny", "7")
    data = json.loads(out)
    assert code == 0 and data["pricing"] == "cu" and "total_cny" in data  # FC's, as before
    lines = {ln["name"]: ln for ln in data["bill"]["lines"]}
    assert lines["OSS storage, variants (IA)"]["currency"] == "CNY"  # the suffix's
    assert lines["Function Compute (CU)"]["monthly"] == data["total_cny"]
    assert data["bill"]["total_cny"] is not None


def test_the_demos_cost_is_the_whole_bill():
    from imgpipe.commands.demo.pipeline import DemoResult, Row, summary

    result = DemoResult(
        rows=[Row("uploads/a.jpg", True, "processed", ms=300.0)],
        work_dir=Path("/nonexistent"),
        source_bucket="s",
        target_bucket="t",
        dead_letter_file=Path("/nonexistent/dl.jsonl"),
        memory_mb=640,
        retries=3,
        vcpu=0.2,
    )
    text = summary(result, 10_000_000)
    assert "Function Compute (CU pricing)" in text  # FC's report, labelled as FC
    assert "The whole bill, month 12 of 10,000,000 uploads a month" in text
    assert "  total: " in text and "OSS storage, sources (Standard)" in text


def test_the_fc_lines_source_names_a_file_that_holds_its_rates():
    """The bill's FC line sends a reader to the file with the CU rates; issue 24
    moved them (imgpipe/cost.py became imgpipe/pricing.py) and the line did
    not follow until this test."""
    import re

    from imgpipe import pricing
    from imgpipe.bill import FC_SOURCE

    (named,) = re.findall(r"rates in (\S+)\)", FC_SOURCE)
    path = Path(__file__).resolve().parents[1] / named
    assert path.is_file() and path.resolve() == Path(pricing.__file__).resolve()
    assert "class CuRates" in path.read_text()
