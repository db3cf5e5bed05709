"""The whole bill of a month of uploads: every service the pipeline uses.

`imgpipe cost` prints Function Compute's CU estimate and then this bill;
the demo prints it for its own mix. Each line says what it assumes and
where its rate comes from (`imgpipe.prices`, one entry per rate). Lines:

- **Function Compute**: the CU estimate of `imgpipe.pricing` (not redone here).
- **OSS storage** by storage class over the module's lifecycle
  (`Lifecycle`, modules/storage): a source is Standard for
  `upload_expiration_days`, then, the bucket being versioned, a noncurrent
  version for `noncurrent_version_expiration_days` more ("In a versioned
  bucket, if the expiration policy ... is implemented on the current
  version of an object, OSS adds a delete marker to the object and stores
  the current version as a previous version": OSS, *Use lifecycle rules
  ... for versioning-enabled buckets*, alibabacloud.com/help/en/
  object-storage-service/latest/configure-lifecycle-rules-to-manage-object-
  versions, read 2026-12-04); variants are Standard for `variants_ia_days`, then Infrequent Access
  for good, each billed at least 64 KB there. The month shown is month
  `--month` of a workload that has run at this volume since month 1, so
  the stock of older photos is in it; 30-day months, as OSS's hourly
  formula (price / 30 / 24) has them.
- **OSS requests** per upload as the handler makes them (`requests_per`;
  `tests/test_bill.py` counts the real handler's calls against local
  buckets and checks these numbers): a new upload's two HEADs find nothing
  (404: not billed), one GET (two over the handler's `HEADER_BYTES`: the
  header first), one PUT per output. Serving adds a GET per download
  (OSS) or per CDN fetch from the origin.
- **Serving**: `--serving oss` (downloads over the Internet from OSS),
  `cdn` (CDN traffic, plus the CDN's fetches from OSS) or `none`. Each
  variant is downloaded `--views` times, in the month it is made.
- **EventBridge**: one event per upload on the system event bus: free.
- **SLS**: the handler's log line per invocation (`LOG_BYTES`, measured),
  ingested raw; the module keeps logs 30 days, inside pay-by-ingested-data's
  free 30-day storage. FC's own platform lines are not counted.
- **MNS**: the dead-letter queue's daily fee; dead letters
  (`--dead-letter-fraction`) are requests, free up to 20 M a month.
- **On-request processing** (OSS IMG): its price is not published on the
  pages we found; the bill says so.

Per 10,000 photos is the month's figure divided by the month's photos.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fc_handler.handle import HEADER_BYTES
from imgpipe import argtypes
from imgpipe import prices as P

# Measured on 2026-12-04 with the real processor and the default variants:
# `imgpipe process tests/data/bench/photo-12mp.jpg --out DIR` (a 12 MP phone
# photo, 2,491,464 bytes) wrote these six outputs (large, medium, small; JPEG
# then WebP); tests/test_bill.py re-measures them.
SOURCE_BYTES = 2_491_464
VARIANT_BYTES = (150_638, 68_906, 53_758, 31_470, 7_121, 5_012)
# The handler's JSON log line for that upload processed (key
# uploads/photo-12mp.jpg, an FC request id, short bucket names): 454 bytes
# with its newline; tests/test_bill.py measures the real line.
LOG_BYTES = 454

GIB = 2**30  # OSS, CDN and SLS count 1 GB = 1024 MB (CDN pricing page)
SERVING = ("oss", "cdn", "none")


@dataclass(frozen=True)
class Lifecycle:
    """The module's lifecycle rules, in days (variables.tf defaults).

    `tests/test_bill.py` evaluates the Terraform configuration and checks
    that these are what modules/storage configures by default.
    """

    upload_expiration_days: int = 30
    noncurrent_version_expiration_days: int = 30
    variants_ia_days: int = 90

    @classmethod
    def from_evaluated(cls, evaluated: Any) -> Lifecycle:
        """The rules of an evaluated configuration (`imgpipe.terraform.evaluate`)."""
        buckets = {b["tags"]["role"]: b for b in evaluated.resources("alicloud_oss_bucket")}

        def rules(role: str) -> list[dict]:
            found = buckets[role]["lifecycle_rule"]
            return found if isinstance(found, list) else [found]

        (uploads,) = [r for r in rules("uploads") if "expiration" in r]
        (to_ia,) = [r for r in rules("variants") if "transitions" in r]
        return cls(
            upload_expiration_days=int(uploads["expiration"]["days"]),
            noncurrent_version_expiration_days=int(
                uploads["noncurrent_version_expiration"]["days"]
            ),
            variants_ia_days=int(to_ia["transitions"]["days"]),
        )

    @property
    def source_days(self) -> int:
        """Days a source is stored: current, then noncurrent (versioned bucket)."""
        return self.upload_expiration_days + self.noncurrent_version_expiration_days


@dataclass(frozen=True)
class Requests:
    """OSS requests of one invocation, by what OSS bills."""

    put: int  # PUT-type (PUT, DELETE: "upload, copy, or delete"), billed
    # GET-type, billed: GETs and HEADs answered 2xx/3xx. That HeadObject is a
    # GET-type request is assumed: the stored Request fees page's list of
    # GET-type operations was cut before it.
    get: int
    unbilled: int  # answered 404: not billed (Request fees page)


def requests_per(outcome: str, outputs: int, source_bytes: int) -> Requests:
    """What the handler asks of OSS for one upload (fc_handler/handle.py).

    `processed`: a new upload; the event gives size and ETag, so no source
    HEAD; the current check HEADs the first variant and the rejection
    record (both 404); one GET, or two when the source is over
    `HEADER_BYTES` (the header, then the rest); one PUT per output, and one
    for the "ready" manifest after them (fc_handler/manifest.py).
    `current`: the same upload delivered again: every output HEADed (2xx),
    the manifest's HEAD (2xx), the rejection record's HEAD 404, and over
    `HEADER_BYTES` the header's GET, which starts with the HEADs.
    `too-large`: over MAX_OBJECT_BYTES: two 404 HEADs and the rejection
    record's PUT, nothing downloaded.
    """
    header_first = source_bytes > HEADER_BYTES
    if outcome == "processed":
        return Requests(put=outputs + 1, get=1 + header_first, unbilled=2)
    if outcome == "current":
        return Requests(put=0, get=outputs + 1 + header_first, unbilled=1)
    if outcome == "too-large":
        return Requests(put=1, get=0, unbilled=2)
    raise ValueError(f"no request count for outcome {outcome!r}")


@dataclass(frozen=True)
class Workload:
    """A month of uploads and what the bill assumes about them."""

    photos: int
    month: int = 12
    source_bytes: int = SOURCE_BYTES
    variant_bytes: tuple[int, ...] = VARIANT_BYTES
    serving: str = "oss"
    views: float = 1.0
    origin_fetches: float = 1.0  # cdn: fetches from OSS per variant (cache misses)
    log_bytes: int = LOG_BYTES
    dead_letter_fraction: float = 0.0
    lifecycle: Lifecycle = field(default_factory=Lifecycle)


@dataclass(frozen=True)
class Line:
    name: str
    monthly: float | None  # None: not priced (no rate found, none given)
    currency: str
    assumes: str
    price: P.Price | None = None  # None: FC, whose source is imgpipe.pricing
    source: str = ""

    def per_10k(self, photos: int) -> float | None:
        if self.monthly is None:
            return None
        return self.monthly * 10_000 / photos if photos else 0.0


def gb_months(photos: int, size: float, first_day: float, last_day: float | None, month: int):
    """GB-months in month `month` of objects aged [first_day, last_day).

    `photos` uploads a month arrive evenly from day 0 (photos / 30 a day);
    an upload of day u is d - u days old on day d; OSS bills GB x hours, so
    a month's GB-months is the month's GB-days / 30.
    """
    per_day = photos / 30
    total = 0.0
    for day in range(30 * (month - 1), 30 * month):
        top = day + 1 if last_day is None else min(last_day, day + 1)
        total += per_day * max(0.0, top - first_day)
    return total * size / GIB / 30


def _priced(price: P.Price, quantity: float) -> float | None:
    if price.value is None:
        return None
    return P.tiered(quantity, price)


def lines(work: Workload, fc_cny: float, fc_source: str, rates: dict[str, P.Price]) -> list[Line]:
    """The bill's lines for `work`, with FC's CNY from `imgpipe.pricing`."""
    r = rates
    life, n, m = work.lifecycle, work.photos, work.month
    outputs = len(work.variant_bytes)
    out_bytes = sum(work.variant_bytes)
    ia_bytes = sum(max(b, P.IA_MIN_BYTES) for b in work.variant_bytes)
    result = [Line("Function Compute (CU)", fc_cny, "CNY", "the estimate above", None, fc_source)]

    def line(name: str, price: P.Price, quantity: float, assumes: str) -> None:
        result.append(Line(name, _priced(price, quantity), price.currency, assumes, price))

    src_gbm = gb_months(n, work.source_bytes, 0, life.source_days, m)
    line(
        "OSS storage, sources (Standard)",
        r["oss_standard"],
        src_gbm,
        f"{work.source_bytes:,} B each, kept {life.upload_expiration_days} d + "
        f"{life.noncurrent_version_expiration_days} d noncurrent; {src_gbm:,.1f} GB-months",
    )
    std_gbm = gb_months(n, out_bytes, 0, life.variants_ia_days, m)
    line(
        "OSS storage, variants (Standard)",
        r["oss_standard"],
        std_gbm,
        f"{outputs} outputs, {out_bytes:,} B a photo, Standard for "
        f"{life.variants_ia_days} d; {std_gbm:,.1f} GB-months",
    )
    ia_gbm = gb_months(n, ia_bytes, life.variants_ia_days, None, m)
    line(
        "OSS storage, variants (IA)",
        r["oss_ia"],
        ia_gbm,
        f"after {life.variants_ia_days} d, billed {ia_bytes:,} B a photo (64 KB minimum "
        f"per object); month {m}: {ia_gbm:,.1f} GB-months",
    )
    made = requests_per("processed", outputs, work.source_bytes)
    line(
        "OSS requests, PUT (variants)",
        r["oss_put"],
        n * made.put / 10_000,
        f"{made.put} PUT a photo (the handler's; {made.unbilled} HEADs answered 404 are free)",
    )
    line(
        "OSS requests, GET (handler)",
        r["oss_get"],
        n * made.get / 10_000,
        f"{made.get} GET a photo ({work.source_bytes:,} B source"
        + (", header first)" if made.get > 1 else ")"),
    )
    views = n * outputs * work.views
    traffic_gb = n * out_bytes * work.views / GIB
    if work.serving == "oss":
        line(
            "Serving: OSS Internet traffic",
            r["oss_egress"],
            traffic_gb,
            f"each variant downloaded {work.views:g} x: {traffic_gb:,.1f} GB",
        )
        line(
            "Serving: OSS GET requests",
            r["oss_get"],
            views / 10_000,
            f"{views:,.0f} downloads",
        )
    elif work.serving == "cdn":
        line(
            "Serving: CDN traffic",
            r["cdn"],
            traffic_gb,
            f"each variant downloaded {work.views:g} x: {traffic_gb:,.1f} GB",
        )
        origin_gb = n * out_bytes * work.origin_fetches / GIB
        line(
            "Serving: OSS traffic to CDN",
            r["oss_origin"],
            origin_gb,
            f"{work.origin_fetches:g} fetch from OSS per variant: {origin_gb:,.1f} GB",
        )
        line(
            "Serving: OSS GET requests (origin)",
            r["oss_get"],
            n * outputs * work.origin_fetches / 10_000,
            f"{n * outputs * work.origin_fetches:,.0f} origin fetches",
        )
    line(
        "EventBridge",
        r["eventbridge"],
        n / 1_000_000,
        f"{n:,} events (one per upload, under 64 KB) on the system bus to FC",
    )
    log_gb = n * work.log_bytes / GIB
    line(
        "SLS ingestion",
        r["sls_gb"],
        log_gb,
        f"{work.log_bytes} B of log a photo: {log_gb:,.2f} GB; 30 d retention (free)",
    )
    line("MNS dead-letter queue", r["mns_queue_day"], 30, "1 queue, 30 days")
    letters = math.ceil(n * work.dead_letter_fraction)
    billable = max(0, letters - P.MNS_FREE_REQUESTS)
    mns = r["mns_requests"]
    result.append(
        Line(
            "MNS dead letters",
            0.0 if billable == 0 else _priced(mns, billable / 1_000_000),
            mns.currency,
            f"{letters:,} a month ({work.dead_letter_fraction:g} of uploads); "
            f"{P.MNS_FREE_REQUESTS:,} requests a month are free",
            mns,
        )
    )
    return result


@dataclass(frozen=True)
class Bill:
    work: Workload
    lines: list[Line]
    usd_cny: float | None = None

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for ln in self.lines:
            if ln.monthly is not None:
                out[ln.currency] = out.get(ln.currency, 0.0) + ln.monthly
        return out

    @property
    def unpriced(self) -> list[Line]:
        return [ln for ln in self.lines if ln.monthly is None]

    @property
    def total_cny(self) -> float | None:
        """One CNY total, when an exchange rate is given (priced lines only)."""
        totals = self.totals()
        if set(totals) - {"CNY"} and self.usd_cny is None:
            return None
        return totals.get("CNY", 0.0) + totals.get("USD", 0.0) * (self.usd_cny or 0.0)

    def total_text(self) -> str:
        totals = self.totals()
        text = " + ".join(f"{v:,.2f} {c}" for c, v in sorted(totals.items())) or "0"
        if self.total_cny is not None and len(totals) > 1:
            text += f" = {self.total_cny:,.2f} CNY at {self.usd_cny:g} CNY/USD"
        if self.unpriced:
            text += f"; {len(self.unpriced)} lines not priced"
        return text


def make(
    work: Workload,
    fc_cny: float,
    fc_source: str,
    rates: dict[str, P.Price] | None = None,
    usd_cny: float | None = None,
) -> Bill:
    if work.serving not in SERVING:
        raise ValueError(f"serving must be one of {', '.join(SERVING)}, got {work.serving!r}")
    return Bill(work, lines(work, fc_cny, fc_source, rates or P.PRICES), usd_cny)


def _money(value: float | None, currency: str, width: int) -> str:
    if value is None:
        return f"{'not priced':>{width + 4}}"
    return f"{value:>{width},.4f} {currency}"


def format_bill(bill: Bill) -> str:
    w = bill.work
    head = (
        f"The whole bill, month {w.month} of {w.photos:,} uploads a month "
        f"(serving: {w.serving}); per month, per 10,000 photos:"
    )
    out = [head]
    sources: list[str] = []
    for ln in bill.lines:
        src = ln.source or (ln.price.source if ln.price else "")
        if src not in sources:
            sources.append(src)
        ref = sources.index(src) + 1
        out.append(
            f"  {ln.name:36} {_money(ln.monthly, ln.currency, 14)} "
            f"{_money(ln.per_10k(w.photos), ln.currency, 10)}  [{ref}] {ln.assumes}"
        )
    out.append(f"  total: {bill.total_text()}")
    missing: dict[str, P.Price] = {}
    for ln in bill.unpriced:
        assert ln.price is not None  # FC is always priced
        missing.setdefault(ln.price.flag, ln.price)
    for price in missing.values():
        out.append(
            f"  not priced: {price.what}: {price.quote}; read the rate at {price.url} "
            f"and pass {price.flag} ({price.currency} per {price.unit})"
        )
    out.append(
        f"  on-request processing instead (OSS IMG): not compared: {P.IMG.quote}; {P.IMG.url}"
    )
    out.append("  sources:")
    out += [f"    [{i}] {s}" for i, s in enumerate(sources, 1)]
    return "\n".join(out)


def to_json(bill: Bill) -> dict[str, Any]:
    w = bill.work
    work = asdict(w)
    work["variant_bytes"] = list(w.variant_bytes)
    return {
        "workload": work,
        "lines": [
            {
                "name": ln.name,
                "monthly": _round(ln.monthly),
                "per_10k_photos": _round(ln.per_10k(w.photos)),
                "currency": ln.currency,
                "assumes": ln.assumes,
                "rate": None if ln.price is None else ln.price.value,
                "unit": None if ln.price is None else ln.price.unit,
                "flag": None if ln.price is None else ln.price.flag,
                "source": ln.source or (ln.price.source if ln.price else ""),
            }
            for ln in bill.lines
        ],
        "totals": {c: round(v, 6) for c, v in bill.totals().items()},
        "total_cny": _round(bill.total_cny),
        "not_priced": [ln.name for ln in bill.unpriced],
        "on_request_processing": {"priced": False, "why": P.IMG.quote, "url": P.IMG.url},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# ---------------------------------------------------------------- the command line


def _rate(price: P.Price):
    """A rate flag's value: a number in the entry's currency, or NUMBER followed
    by CNY or USD (e.g. 0.12CNY) for a page in the other currency."""

    def parse(text: str) -> tuple[float, str]:
        body, currency = text.strip(), price.currency
        for cur in ("CNY", "USD"):
            if body.upper().endswith(cur):
                body, currency = body[: -len(cur)].strip(), cur
                break
        return argtypes.number(0, 1e6, meaning="a rate")(body), currency

    return parse


def _sizes(text: str) -> tuple[int, ...]:
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"one or more byte sizes required, got {text!r}")
    parse = argtypes.integer(1, 10**12, meaning="a size in bytes")
    return tuple(parse(p.strip()) for p in parts)


def add_arguments(parser) -> None:
    """The bill's flags, a group of `imgpipe cost`'s (docs/cost.md, *The whole bill*)."""
    g = parser.add_argument_group("the whole bill (--pricing cu; rates: imgpipe/prices.py)")
    g.add_argument(
        "--serving",
        choices=SERVING,
        default="oss",
        help="how variants reach viewers: oss (Internet), cdn, none (default oss)",
    )
    g.add_argument(
        "--views",
        metavar="N",
        type=argtypes.number(0, 1e6),
        default=1.0,
        help="downloads of each variant, in the month it is made (default 1, an assumption)",
    )
    g.add_argument(
        "--origin-fetches",
        metavar="N",
        type=argtypes.number(0, 1e6),
        default=1.0,
        help="--serving cdn: fetches from OSS per variant (default 1)",
    )
    g.add_argument(
        "--month",
        metavar="N",
        type=argtypes.integer(1, 1200),
        default=12,
        help="which month of the workload to bill: storage grows with it (default 12)",
    )
    g.add_argument(
        "--source-bytes",
        metavar="B",
        type=argtypes.integer(1, 10**12),
        default=SOURCE_BYTES,
        help=f"bytes of an upload (default {SOURCE_BYTES:,}, a 12 MP photo)",
    )
    g.add_argument(
        "--variant-bytes",
        metavar="B,B,...",
        type=_sizes,
        default=VARIANT_BYTES,
        help="bytes of each output of an upload (default: the 12 MP photo's six)",
    )
    g.add_argument(
        "--log-bytes",
        metavar="B",
        type=argtypes.integer(0, 10**9),
        default=LOG_BYTES,
        help=f"log bytes an invocation sends to SLS (default {LOG_BYTES}, measured)",
    )
    g.add_argument(
        "--dead-letter-fraction",
        metavar="F",
        type=argtypes.number(0, 1),
        default=0.0,
        help="share of uploads dead-lettered to MNS (default 0)",
    )
    d = Lifecycle()
    for name, low, what in (
        ("upload_expiration_days", 1, "uploads expire after"),
        ("noncurrent_version_expiration_days", 1, "noncurrent versions removed after"),
        ("variants_ia_days", 30, "variants move to IA after"),
    ):
        g.add_argument(
            "--" + name.replace("_", "-"),
            metavar="DAYS",
            type=argtypes.integer(low, 36500),
            default=getattr(d, name),
            help=f"{what} (the module's default {getattr(d, name)})",
        )
    g.add_argument(
        "--usd-cny",
        metavar="RATE",
        type=argtypes.number(0, 1e6, above_minimum=True),
        help="CNY per USD, to add the USD lines into one CNY total (no default)",
    )
    for price in P.PRICES.values():
        default = "not found: no default" if price.value is None else f"{price.value:g}"
        if price.tiers:
            default += " in the first tier, tiered; a rate given is flat"
        g.add_argument(
            price.flag,
            metavar="RATE",
            type=_rate(price),
            help=f"{price.currency} per {price.unit} ({default}); NUMBER, or NUMBERCNY/USD",
        )


def rates_of(args) -> dict[str, P.Price]:
    out = {}
    for key, price in P.PRICES.items():
        given = getattr(args, price.flag.removeprefix("--").replace("-", "_"), None)
        if given is None:
            out[key] = price
        else:
            value, currency = given
            out[key] = replace(price, value=value, currency=currency, tiers=())
    return out


def workload_of(args) -> Workload:
    return Workload(
        photos=args.requests,
        month=args.month,
        source_bytes=args.source_bytes,
        variant_bytes=tuple(args.variant_bytes),
        serving=args.serving,
        views=args.views,
        origin_fetches=args.origin_fetches,
        log_bytes=args.log_bytes,
        dead_letter_fraction=args.dead_letter_fraction,
        lifecycle=Lifecycle(
            upload_expiration_days=args.upload_expiration_days,
            noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
            variants_ia_days=args.variants_ia_days,
        ),
    )


FC_SOURCE = (
    "Function Compute 3.0: Pay-as-you-go, help.aliyun.com/en/functioncompute/fc/"
    "product-overview/pay-as-you-go-billing-methods (rates in imgpipe/pricing.py)"
)


def of_args(args, fc_cny: float) -> Bill:
    return make(workload_of(args), fc_cny, FC_SOURCE, rates_of(args), args.usd_cny)
