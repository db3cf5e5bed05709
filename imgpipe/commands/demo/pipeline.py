"""`imgpipe demo` (and `make demo`): the whole pipeline on this machine.

For every file, one upload at a time, as the cloud would do it:

1. the file is written to the local source bucket (`.demo/buckets/<bucket>/`),
   under the source prefix;
2. the CloudEvent OSS would send is built for it;
3. the event is matched against the EventBridge pattern *evaluated from the
   Terraform configuration* (not a copy of it): no match, no invocation;
4. a match invokes the real handler, through the same code as
   `imgpipe invoke`, with the function environment Terraform sets;
5. an invocation that raises is retried as FC retries an asynchronous
   invocation (the configured `async_retries`), then written to a local
   dead-letter file in the form the MNS queue would receive.

The function's log lines go to `.demo/function.log`, as FC would send them
to SLS. Bucket names, retries, memory and the pattern all come from the dev
environment's evaluated Terraform.

Then `day_two` shows one of each day-two tool on the same buckets
(docs/day-two.md): a duplicate upload found current, a deleted source
whose variants follow it, a variant deleted by hand that `imgpipe backfill`
redoes (and nothing else), and an upload during an outage that is
dead-lettered and then re-driven with `imgpipe redrive`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm import tqdm

from fc_handler.storage import LocalStorage
from imgpipe import bill as _bill
from imgpipe.cloud import deployment
from imgpipe.cloud.cdn_standin import CdnStandIn
from imgpipe.cloud.deadletters import FileDeadLetters
from imgpipe.cloud.eventpattern import matches
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.localfc import invoke
from imgpipe.cloud.stack import Stack
from imgpipe.cloud.terraform import LOCAL_ACCOUNT, LOCAL_REGION, Evaluated, evaluate
from imgpipe.commands.demo import report as _report
from imgpipe.commands.demo import samples as _samples
from imgpipe.commands.demo.report import outcome_text
from imgpipe.jobs.backfill import Backfill, Checkpoint
from imgpipe.jobs.redrive import redrive
from imgpipe.pricing import cu_estimate, format_cu_estimate

# The day two's CDN (serving mode cdn), a stand-in: its domain and the key it accepts.
DEMO_CDN_DOMAIN = "img.demo.example.com"
DEMO_CDN_KEY = ("demo-key", "demo-secret")

# The samples are drawn at demo time, at real sizes: imgpipe/commands/demo/samples.py.
SAMPLES = _samples.SAMPLES


# What `run` writes in its work directory: all it may delete there.
WORK_DIR_CONTENTS = frozenset(
    {
        "buckets",
        "function.log",
        "report.html",
        "dead-letters.jsonl",
        "outputs.json",  # imgpipe upload-page: the local stack's outputs, for imgpipe url
        # imgpipe backfill --buckets DIR/buckets: its checkpoint and failures
        "backfill.json",
        "backfill.failed.jsonl",
    }
)


def work_dir_problem(work_dir: Path, source: Path | None = None) -> str | None:
    """Why `--work-dir` cannot be used, or None.

    `run` empties the work directory first; a directory holding anything an
    earlier demo did not write there (`--work-dir ~` by mistake) is refused
    rather than deleted.
    """
    if work_dir.exists() and not work_dir.is_dir():
        return "exists and is not a directory"
    if work_dir.is_dir():
        foreign = sorted(p.name for p in work_dir.iterdir() if p.name not in WORK_DIR_CONTENTS)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            return (
                f"holds files the demo did not write ({shown}); the demo empties its "
                "work directory, so give it a new one or an earlier demo's"
            )
    if source is not None:
        w, s = work_dir.resolve(), source.resolve()
        if w == s or s in w.parents or w in s.parents:
            return f"overlaps --source {source}; give the demo a directory of its own"
    return None


@dataclass
class Row:
    key: str
    routed: bool
    outcome: str = "filtered"
    reason: str | None = None
    variants: int = 0
    ms: float = 0.0
    attempts: int = 0
    outputs: list[str] = field(default_factory=list)
    detail: str | None = None
    # why EventBridge routed it or not, in words (the report shows it)
    routing: str = ""
    # the MNS message, when the retries ran out; set True once re-driven
    dead_letter: dict | None = None
    redriven: bool = False
    # day two: what this delivery stands for, and the variants a re-drive made
    note: str | None = None
    redrive_outputs: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    rows: list[Row]
    work_dir: Path
    source_bucket: str
    target_bucket: str
    dead_letter_file: Path
    memory_mb: int
    retries: int
    vcpu: float = 1.0  # from Terraform too: the CU model bills vCPU-seconds


def _dead_letter(
    event: bytes, error: BaseException, attempts: int, ev: Evaluated, rid: str
) -> dict:
    """One message as the MNS dead-letter queue would hold it.

    The body is FC's asynchronous-invocation destination record (request
    context, the original event as `requestPayload`, the error as
    `responsePayload`); the envelope carries MNS's message fields.
    """
    function = ev.one("alicloud_fcv3_function")["function_name"]
    body = {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "requestContext": {
            "requestId": rid,
            "functionArn": f"acs:fc:{LOCAL_REGION}:{LOCAL_ACCOUNT}:functions/{function}",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event.decode("utf-8"),
        "responseContext": {"statusCode": 200, "functionError": "UnhandledInvocationError"},
        "responsePayload": json.dumps(
            {"errorType": type(error).__name__, "errorMessage": str(error)}
        ),
    }
    text = json.dumps(body, ensure_ascii=False)
    return {
        "QueueName": ev.one("alicloud_message_service_queue")["queue_name"],
        "MessageId": uuid.uuid4().hex.upper(),
        "MessageBodyMD5": hashlib.md5(text.encode()).hexdigest().upper(),
        "EnqueueTime": int(time.time() * 1000),
        "MessageBody": text,
    }


def run(
    files: list[tuple[str, Path]],
    work_dir: Path,
    *,
    progress: bool = True,
    backoff_seconds: float = 0.0,
    prepare=None,
) -> DemoResult:
    """Upload each (name, path) and follow it through the pipeline."""
    ev = evaluate({"env": "dev"})
    env = ev.function_environment
    retries = ev.one("alicloud_fcv3_async_invoke_config")["max_async_retry_attempts"]
    memory_mb = ev.one("alicloud_fcv3_function")["memory_size"]
    vcpu = ev.one("alicloud_fcv3_function")["cpu"]
    source_bucket, target_bucket = env["SOURCE_BUCKET"], env["TARGET_BUCKET"]
    prefix = env["SOURCE_PREFIX"]

    if why := work_dir_problem(work_dir):
        raise ValueError(f"--work-dir {work_dir}: {why}")
    if work_dir.exists():
        shutil.rmtree(work_dir)
    buckets = work_dir / "buckets"
    storage = LocalStorage(buckets)
    (buckets / target_bucket).mkdir(parents=True)
    dead_letters = work_dir / "dead-letters.jsonl"
    log_path = work_dir / "function.log"
    if prepare is not None:  # tests: break something before the run
        prepare(buckets, target_bucket)

    rows: list[Row] = []
    with log_path.open("w") as log:
        for name, path in tqdm(
            files, desc="uploads", unit="file", disable=not progress, file=sys.stderr
        ):
            data = path.read_bytes()
            key = prefix + name
            storage.put(source_bucket, key, data, content_type="application/octet-stream")
            event = cloudevent(source_bucket, key, data, region=LOCAL_REGION, account=LOCAL_ACCOUNT)
            rows.append(
                deliver(
                    ev,
                    buckets,
                    key,
                    event,
                    log=log,
                    dead_letters=dead_letters,
                    backoff_seconds=backoff_seconds,
                )
            )
    return DemoResult(
        rows, work_dir, source_bucket, target_bucket, dead_letters, memory_mb, retries, vcpu
    )


def deliver(
    ev: Evaluated,
    buckets: Path,
    key: str,
    event: dict,
    *,
    log,
    dead_letters: Path,
    backoff_seconds: float = 0.0,
    environment: Mapping[str, str] | None = None,
) -> Row:
    """Route one event as EventBridge would; invoke, retry and dead-letter as FC would.

    `environment`: the function's, if not Terraform's (`ev.function_environment`).
    """
    row = Row(key=key, routed=matches(ev.filter_pattern, event))
    row.routing = routing_decision(ev.filter_pattern, event)
    if not row.routed:
        return row
    retries = ev.one("alicloud_fcv3_async_invoke_config")["max_async_retry_attempts"]
    payload = json.dumps(event).encode()
    for attempt in range(1, retries + 2):
        row.attempts = attempt
        captured = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(captured):
            env = ev.function_environment if environment is None else environment
            result = invoke(payload, buckets, env=env, region=LOCAL_REGION)
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.write(captured.getvalue())
        if not result.raised:
            record = result.result["records"][0]
            row.outcome, row.reason = record["outcome"], record.get("reason")
            row.detail = record.get("detail")
            # every attempt is billed: failed ones by their wall time, the
            # last by the handler's own figure (or ours if it gives none)
            row.ms += record.get("ms") or elapsed_ms
            row.outputs = record.get("outputs", [])
            if record["outcome"] == "processed":
                row.variants = len(row.outputs)
            break
        log.write(
            json.dumps(
                {"request_id": result.request_id, "attempt": attempt, "raised": repr(result.error)}
            )
            + "\n"
        )
        row.ms += elapsed_ms
        if attempt == retries + 1:
            message = _dead_letter(payload, result.error, attempt, ev, result.request_id)
            with dead_letters.open("a") as fh:
                fh.write(json.dumps(message, ensure_ascii=False) + "\n")
            row.outcome, row.reason = "dead-lettered", type(result.error).__name__
            row.detail, row.dead_letter = str(result.error), message
        elif backoff_seconds:
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
    return row


def routing_decision(pattern: dict, event: dict) -> str:
    """Why the pattern routes `event` or not, naming the fields that decide."""
    if matches(pattern, event):
        return "routed: the event matches every field of the pattern Terraform deploys"
    failed = [name for name, rule in pattern.items() if not matches({name: rule}, event)]
    return "filtered: no match on " + ", ".join(failed)


def table(rows: list[Row]) -> str:
    """The console table; columns as wide as their widest cell, nothing cut."""
    cells = [
        (
            r.key,
            "routed" if r.routed else "filtered",
            outcome_text(r),
            r.reason or "",
            str(r.variants),
            f"{r.ms:.1f}" if r.routed else "-",
        )
        for r in rows
    ]
    head = ("object", "routing", "outcome", "reason", "variants", "ms")
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]

    def line(c):
        left = [f"{c[i]:{widths[i]}}" for i in range(4)]
        return " ".join([*left, f"{c[4]:>{widths[4]}}", f"{c[5]:>{widths[5]}}"])

    text = [line(head)]
    text.append("-" * len(text[0]))
    return "\n".join(text + [line(c) for c in cells])


def summary(result: DemoResult, monthly: int) -> str:
    work = result.work_dir
    processed = [r for r in result.rows if r.outcome == "processed"]
    routed = [r for r in result.rows if r.routed]
    lines = [
        "",
        f"variants:      {work / 'buckets' / result.target_bucket / 'resized'}",
        f"rejections:    {work / 'buckets' / result.target_bucket / 'rejected'}",
        f"function log:  {work / 'function.log'}  (what SLS would hold)",
        f"dead letters:  {result.dead_letter_file}"
        + ("" if result.dead_letter_file.exists() else "  (none)"),
    ]
    if routed:
        mean_ms = statistics.fmean(r.ms for r in routed)
        est = cu_estimate(monthly, result.vcpu, result.memory_mb, mean_ms)
        lines += [
            "",
            f"Cost if this mix arrived {monthly:,} times a month "
            f"(mean {mean_ms:.0f} ms over {len(routed)} routed uploads, "
            f"{len(processed)} processed; {result.vcpu:g} vCPU and {result.memory_mb} MB "
            "from Terraform; FC 3.0's CU pricing, as `imgpipe cost`):",
            format_cu_estimate(est),
            # the FC report above is FC only: the whole bill follows (imgpipe/bill.py)
            "\n"
            + _bill.format_bill(
                _bill.make(_bill.Workload(monthly), est.total_cny, _bill.FC_SOURCE)
            ),
            "(this machine's speed, not FC's; `imgpipe cost` takes your own figures)",
        ]
    return "\n".join(lines)


# The outage is simulated: a file where an output folder must be makes every
# write fail. Locally that reads as FileExistsError; the card says so, so it
# does not read like a bug of the pipeline (issue 26).
OUTAGE_NOTE = (
    "Day two: a simulated outage. The demo put a file where the folder {folder}/ "
    "must be, so every write of this upload failed (locally a FileExistsError; in "
    "the cloud it would be an OSS error or a timeout). FC's retries ran out and "
    "the event went to the dead-letter queue; after the outage, imgpipe redrive "
    "re-invoked it."
)


@dataclass
class DayTwo:
    """What each day-two step did, for the table and the tests."""

    duplicate: Row
    deletion: Row
    backfill_stale: str  # the variant deleted by hand
    backfill: object  # imgpipe.jobs.backfill.Counts
    outage: Row
    redriven: int
    kept: int
    upload: Row | None = None  # the copy uploaded to be deleted
    replaced: Row | None = None  # a copy uploaded again with other bytes (serving mode cdn)
    refreshed: tuple[str, ...] = ()  # the URLs the stand-in CDN was asked to refresh

    def rows(self) -> list[Row]:
        """The day-two deliveries, for the report (the duplicate and deletion
        events are shown as their own rows)."""
        rows = (self.duplicate, self.upload, self.deletion, self.replaced, self.outage)
        return [r for r in rows if r]

    def lines(self) -> list[str]:
        b = self.backfill
        return [
            "",
            "Day two (docs/day-two.md):",
            f"  duplicate  {self.duplicate.key} uploaded again, same bytes: "
            f"{self.duplicate.outcome} (nothing written)",
            f"  deletion   {self.deletion.key} deleted: {self.deletion.outcome}, its "
            f"{len(self.deletion.outputs)} output keys "
            "(variants, rejection record, ready manifest) removed",
            f"  backfill   {self.backfill_stale} deleted by hand; `imgpipe backfill "
            f"--buckets`: {b.invoked} invoked, {b.current} current, "
            f"{b.filtered} not routed",
            *(
                [
                    f"  refresh    {self.replaced.key} replaced by other bytes: "
                    f"{self.replaced.outcome}; {len(self.refreshed)} cached URLs refreshed "
                    "at a stand-in CDN (serving mode cdn: exactly its variants)"
                ]
                if self.replaced
                else []
            ),
            f"  redrive    {self.outage.key} uploaded during a simulated outage: "
            f"{self.outage.outcome} after {self.outage.attempts} attempts; "
            f"`imgpipe redrive --buckets`: {self.redriven} re-invoked and deleted",
        ]


def day_two(result: DemoResult) -> DayTwo:
    """One of each day-two tool, on the buckets `run` left (docs/day-two.md)."""
    ev = evaluate({"env": "dev"})
    work, buckets = result.work_dir, result.work_dir / "buckets"
    storage = LocalStorage(buckets)
    src, target = result.source_bucket, buckets / result.target_bucket
    processed = [r for r in result.rows if r.outcome == "processed"]
    if len(processed) < 3:
        raise ValueError("day two needs three processed uploads (the samples have five)")
    log_path, dead_letters = work / "function.log", result.dead_letter_file
    local = deployment.local(buckets)  # what `imgpipe backfill/redrive --buckets` use
    stack = local.stack

    def send(key: str, data: bytes, api: str = "PutObject") -> Row:
        event = cloudevent(src, key, data, api=api, region=LOCAL_REGION, account=LOCAL_ACCOUNT)
        with log_path.open("a") as log:
            return deliver(ev, buckets, key, event, log=log, dead_letters=dead_letters)

    # 1. the same upload again: the work is current, nothing is written
    first = processed[0].key
    duplicate = send(first, storage.get(src, first))
    duplicate.note = "Day two: the same bytes uploaded again (a duplicate event)."

    # 2. a deleted source: its variants follow it. A copy uploaded for the
    # purpose, so the samples' variants stay for the report to show.
    gone = stack.source_prefix + "day-two/deleted-later.jpg"
    storage.put(src, gone, storage.get(src, first), content_type="application/octet-stream")
    upload = send(gone, storage.get(src, gone))
    upload.note = "Day two: a copy uploaded, to be deleted next."
    storage.delete(src, gone)
    deletion = send(gone, b"", api="ObjectRemoved:DeleteObject")
    deletion.note = "Day two: the copy deleted; its variants follow it."

    # 3. a variant deleted by hand: backfill redoes that object only
    stale = processed[1].outputs[-1]
    (target / stale).unlink()
    job = Backfill(
        stack=stack,
        lister=lambda after: local.sources(stack.source_prefix, after),
        target=local.target,
        invoker=local.invoker,
        checkpoint=Checkpoint(work / "backfill.json", {"source": f"{src}/demo"}),
        failures=work / "backfill.failed.jsonl",
        workers=1,
        backoff_s=0.0,
    )
    counts = job.run()

    # 3b. a replaced source, served through a CDN (serving mode cdn): the
    # function asks the CDN to refresh exactly the variants it rewrote. A
    # stand-in CDN (imgpipe/cloud/cdn_standin.py) checks the signed call and
    # records the URLs.
    replaced_key = stack.source_prefix + "day-two/replaced-later.jpg"
    storage.put(src, replaced_key, storage.get(src, first), content_type="image/jpeg")
    send(replaced_key, storage.get(src, replaced_key)).note = "Day two: a copy, to be replaced."
    other = storage.get(src, processed[1].key)
    storage.put(src, replaced_key, other, content_type="image/jpeg")
    with CdnStandIn(DEMO_CDN_DOMAIN, {DEMO_CDN_KEY[0]: DEMO_CDN_KEY[1]}) as cdn:
        served = {
            **ev.function_environment,
            "CDN_REFRESH_DOMAIN": DEMO_CDN_DOMAIN,
            "CDN_ENDPOINT": cdn.endpoint,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": DEMO_CDN_KEY[0],
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEMO_CDN_KEY[1],
        }
        event = cloudevent(src, replaced_key, other, region=LOCAL_REGION, account=LOCAL_ACCOUNT)
        with log_path.open("a") as log:
            replaced = deliver(
                ev,
                buckets,
                replaced_key,
                event,
                log=log,
                dead_letters=dead_letters,
                environment=served,
            )
        refreshed = tuple(url for call in cdn.refreshed for url in call.urls)
    replaced.note = "Day two: the copy replaced by other bytes; its cached variants refreshed."

    # 4. an upload while the target is unreachable (a file where a folder must
    # be: every write fails): retried, dead-lettered; then re-driven
    key = stack.source_prefix + "later/IMG_0008.jpg"
    data = storage.get(src, first)
    storage.put(src, key, data, content_type="application/octet-stream")
    blocker = target / stack.config.output_prefixes()[0] / "later"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("in the way")
    outage = send(key, data)
    blocker.unlink()
    outage.note = OUTAGE_NOTE.format(folder=blocker.relative_to(target).as_posix())
    report = redrive(FileDeadLetters(dead_letters), local.invoker, say=lambda _line: None)
    outage.redriven = outage.dead_letter is not None and any(
        m.message_id == outage.dead_letter["MessageId"] for m in report.redriven
    )
    made = stack.outputs(key).variant_keys
    outage.redrive_outputs = [k for k in made if (target / k).is_file()]
    return DayTwo(
        upload=upload,
        duplicate=duplicate,
        deletion=deletion,
        backfill_stale=stale,
        backfill=counts,
        outage=outage,
        redriven=len(report.redriven),
        replaced=replaced,
        refreshed=refreshed,
        kept=len(report.kept),
    )


def collect(source: Path) -> list[tuple[str, Path]]:
    """Every file under a folder, named by its path relative to the folder."""
    return sorted(
        (p.relative_to(source).as_posix(), p)
        for p in source.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )


def main(source: Path | None, work_dir: Path, monthly: int) -> int:
    if source is not None and not source.is_dir():
        print(f"imgpipe demo: {source} is not a folder", file=sys.stderr)
        return 2
    if why := work_dir_problem(work_dir, source):
        print(f"imgpipe demo: --work-dir {work_dir}: {why}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="imgpipe-samples-") as drawn:
        if source is None:
            files = _samples.write_samples(Path(drawn))
            print("Samples (drawn now, real sizes: imgpipe/commands/demo/samples.py):")
            for sample in SAMPLES:
                print(f"  {sample.name:30} {sample.why}")
            print()
        else:
            files = collect(source)
        if not files:
            print(f"imgpipe demo: no files in {source}", file=sys.stderr)
            return 2
        result = run(files, work_dir, progress=sys.stderr.isatty())
    print(table(result.rows))
    print(summary(result, monthly))
    two = None
    if source is None:  # the samples: known to hold what day two needs
        two = day_two(result)
        print("\n".join(two.lines()))
    stack = Stack.local()  # the dev environment's evaluated Terraform, once
    path = _report.write(result, two, pattern=stack.pattern, watermark=stack.config.watermark)
    print(f"\nReport (open it in a browser, no server needed): {path.resolve()}")
    return 0
