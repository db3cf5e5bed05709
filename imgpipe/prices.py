"""Every rate the whole bill (`imgpipe.bill`) uses, each once, with its source.

One entry per fact: the figure, its currency and unit, the flag of
`imgpipe cost` that overrides it, and where it was read (page title, URL,
the page's own "last updated" date when it shows one, and the day we read
it). A rate we could not find on one of Alibaba Cloud's own pages has
`value = None`: the bill prints that line as *not priced*, names the page
where the user can read the rate, and the flag that supplies it. No figure
here comes from anywhere else; none is a guess.

The figures were found through the project's `search` tool (stored copies
of the public pages) on 2026-12-04. Alibaba publishes its international
site's prices in USD and the China site's in CNY; an entry keeps the
currency its page uses, and the bill adds lines up per currency (a single
total needs `--usd-cny`, an exchange rate no price page sets).

Function Compute's CU rates are not repeated here: they live in
`imgpipe.pricing` (`CuRates`, with their source in that module's docstring),
and `FC_CU` below only points there.
"""

from __future__ import annotations

from dataclasses import dataclass

READ = "2026-12-04"  # the day every page below was read

OSS_PRICING = "https://www.alibabacloud.com/product/oss/pricing"


@dataclass(frozen=True)
class Price:
    """One published rate (or the fact that none was found)."""

    what: str
    value: float | None  # None: not found on Alibaba's pages; the flag supplies it
    currency: str  # the page's: "USD" or "CNY"
    unit: str  # what one `value` buys: "GB-month", "10,000 requests", ...
    flag: str  # the `imgpipe cost` flag that overrides it
    title: str  # the page it was read on (or where to read it)
    url: str
    quote: str  # the page's words, or why nothing was found
    updated: str | None = None  # the page's own "last updated" date
    # Tiered prices: (upper bound in the unit's quantity, price), the last
    # bound None (no limit). `value` is the first tier's price.
    tiers: tuple[tuple[float | None, float], ...] = ()

    @property
    def source(self) -> str:
        date = f"page updated {self.updated}, " if self.updated else ""
        return f"{self.title}, {self.url} ({date}read {READ})"


OSS_STANDARD = Price(
    what="OSS storage, Standard LRS",
    value=0.0173,
    currency="USD",
    unit="GB-month",
    flag="--rate-oss-standard",
    title="Object Storage Service: Storage fees",
    url="https://www.alibabacloud.com/help/en/oss/product-overview/storage-fees",
    updated="2024-12-20",
    quote="the unit price for the storage usage of Standard locally redundant storage "
    "(LRS) objects is USD 0.0173 per GB-month, and the unit price in GB-hour is "
    "USD 0.000024 per GB-hour (0.0173/30/24)",
)

OSS_IA = Price(
    what="OSS storage, Infrequent Access LRS",
    value=None,
    currency="USD",
    unit="GB-month",
    flag="--rate-oss-ia",
    title="Object Storage Service pricing",
    url=OSS_PRICING,
    quote="no IA unit price found on Alibaba's pages; the storage-fees page gives the "
    "rules only: 64 KB minimum billable size per object, 30 days minimum storage",
)

# Request fees: "requests that return a 2xx or 3xx code incur fees. Requests
# that return a 4xx or 5xx code do not incur fees" (same page). The page's
# free quota differs between its versions (100 M PUT / 500 M GET a month on
# one, 50,000 / 500,000 in three regions on an older one, none stated on the
# newest): the bill applies none.
# (Request fees, updated 2025-11-05.)
REQUEST_FEES = "https://www.alibabacloud.com/help/en/oss/api-operation-calling-fees"

OSS_PUT = Price(
    what="OSS PUT-type requests",
    value=None,
    currency="USD",
    unit="10,000 requests",
    flag="--rate-oss-put",
    title="Object Storage Service pricing (rules: Request fees, " + REQUEST_FEES + ")",
    url=OSS_PRICING,
    quote="no unit price found; 'Calling fees = Actual calls x Unit price per 10,000 "
    "calls/10,000'; 2xx and 3xx answers are billed, 4xx and 5xx are not",
)

OSS_GET = Price(
    what="OSS GET-type requests",
    value=None,
    currency="USD",
    unit="10,000 requests",
    flag="--rate-oss-get",
    title=OSS_PUT.title,
    url=OSS_PRICING,
    quote=OSS_PUT.quote,
)

OSS_EGRESS = Price(
    what="OSS outbound Internet traffic",
    value=None,
    currency="USD",
    unit="GB",
    flag="--rate-oss-egress",
    title="Object Storage Service pricing",
    url=OSS_PRICING,
    quote="no unit price found on Alibaba's pages (billed per GB of outbound traffic, "
    "'Billing overview', https://www.alibabacloud.com/help/en/oss/billing-overview)",
)

OSS_ORIGIN = Price(
    what="OSS outbound traffic to CDN (back-to-origin)",
    value=None,
    currency="USD",
    unit="GB",
    flag="--rate-oss-origin",
    title="Object Storage Service pricing",
    url=OSS_PRICING,
    quote="no unit price found on Alibaba's pages",
)

# Chinese mainland column; "The conversion rate between a smaller data
# storage unit and a larger unit is 1024", so 50 TB = 51,200 GB.
CDN = Price(
    what="CDN outbound traffic, Chinese mainland, pay-by-data-transfer",
    value=0.04,
    currency="USD",
    unit="GB",
    flag="--rate-cdn",
    title="Alibaba Cloud CDN Pricing",
    url="https://www.alibabacloud.com/product/content-delivery-network/pricing",
    quote="Mainland China-CN: 0GB - 50TB 0.04, 50TB - 100TB 0.03, 100TB-1PB 0.03, "
    ">1PB 0.02 (USD/GB); example: 51200 GB x USD 0.04 + 1000 GB x USD 0.03 = USD 2078",
    tiers=((51_200, 0.04), (102_400, 0.03), (1_048_576, 0.03), (None, 0.02)),
)

# OSS events reach FC through the system (default) event bus: the module's
# trigger sets eventSourceType "Default" (modules/events).
EVENTBRIDGE = Price(
    what="EventBridge, system event bus to Function Compute",
    value=0.0,
    currency="CNY",
    unit="1,000,000 events",
    flag="--rate-eventbridge",
    title="EventBridge: Billing of event buses",
    url="https://www.alibabacloud.com/help/en/eventbridge/product-overview/billing-of-event-buses",
    updated="2025-05-09",
    quote="Event publishing in the system event bus: Free of charge; Event publishing "
    "or notification to Alibaba Cloud services: Free of charge (custom buses: CNY 5.64 "
    "per 1 million published events)",
)

SLS_INGEST = Price(
    what="SLS pay-by-ingested-data, raw data ingested",
    value=None,
    currency="USD",
    unit="GB",
    flag="--rate-sls-gb",
    title="Simple Log Service: Billable items of pay-by-ingested-data",
    url="https://www.alibabacloud.com/help/en/sls/product-overview/"
    "billing-items-in-the-pay-per-data-write-mode",
    updated="2024-07-12",
    quote="no unit price found on the page ('Daily fee of ingested raw data volume = "
    "Total volume ... x price per GB'); 'Pay-by-ingested-data' (updated 2025-03-07): "
    "'The ingested data benefits from a 30-day free storage period'",
)

MNS_QUEUE = Price(
    what="MNS (Simple Message Queue) queue, Chinese mainland regions",
    value=0.08,
    currency="USD",
    unit="queue-day",
    flag="--rate-mns-queue-day",
    title="Simple Message Queue (formerly MNS): Billing",
    url="https://www.alibabacloud.com/help/en/mns/product-overview/billing-overview",
    updated="2026-03-02",
    quote="Queue resource usage fees = Number of queues x Unit price of a queue "
    "(USD/queue/day): China (Hangzhou), ... China (Ulanqab) 0.08; example: 30 queues, "
    "0.08 x 30 = 2.4 USD",
)

MNS_REQUESTS = Price(
    what="MNS queue requests beyond the free quota",
    value=None,
    currency="USD",
    unit="1,000,000 requests",
    flag="--rate-mns-requests",
    title=MNS_QUEUE.title,
    url=MNS_QUEUE.url,
    updated="2026-03-11",
    quote="'Each Alibaba Cloud account gets 20 million free requests per month'; the "
    "unit price beyond it was not in the stored page",
)
MNS_FREE_REQUESTS = 20_000_000  # per account and month, same page and quote

# On-request processing, the opposite trade: not found.
IMG = Price(
    what="OSS image processing (IMG), on request",
    value=None,
    currency="USD",
    unit="GB",
    flag="",
    title="Object Storage Service pricing",
    url=OSS_PRICING,
    quote="no published IMG price found on Alibaba's pages (image processing is a "
    "value-added billable item: https://www.alibabacloud.com/help/en/oss/billable-items/)",
)

# Minimum billable size of an IA object (storage-fees page, OSS_STANDARD.url):
# "IA LRS objects have a minimum billable size of 64 KB. Objects that are
# smaller than 64 KB are charged as 64 KB."
IA_MIN_BYTES = 64 * 1024

PRICES: dict[str, Price] = {
    p.flag.removeprefix("--rate-").replace("-", "_"): p
    for p in (
        OSS_STANDARD,
        OSS_IA,
        OSS_PUT,
        OSS_GET,
        OSS_EGRESS,
        OSS_ORIGIN,
        CDN,
        EVENTBRIDGE,
        SLS_INGEST,
        MNS_QUEUE,
        MNS_REQUESTS,
    )
}


def tiered(quantity: float, price: Price) -> float:
    """`quantity` priced slice by slice at its tier's price (or flat without tiers)."""
    if not price.tiers:
        assert price.value is not None
        return quantity * price.value
    total, low = 0.0, 0.0
    for high, rate in price.tiers:
        top = quantity if high is None else min(quantity, high)
        if top > low:
            total += (top - low) * rate
        if high is None or quantity <= high:
            break
        low = high
    return total
