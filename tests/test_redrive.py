"""`imgpipe redrive`: both message shapes, delete only after FC accepted.

Against an MNS stand-in speaking the REST API (`imgpipe.cloud.mns.MnsQueue`, the
project's one MNS client, sends the requests) and the FC stand-in the real
FC 3.0 SDK invokes; locally against the demo's dead-letter file.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from standins import FcStandIn, MnsStandIn

from imgpipe.cli import main
from imgpipe.cloud.credentials import Credentials
from imgpipe.cloud.deadletters import FileDeadLetters, MnsDeadLetters, understand
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.fc import FcInvoker
from imgpipe.cloud.mns import MnsQueue
from imgpipe.commands.demo.pipeline import run as demo_run
from imgpipe.jobs.redrive import redrive

PHONE = Path(__file__).parent / "data" / "images" / "hopper_orientation_6.jpg"

CREDS = Credentials("test-key", "test-secret")
SRC = "photos-src"


def event(key: str) -> dict:
    return cloudevent(SRC, f"uploads/{key}", b"data")


def destination_record(key: str, *, payload_as_text: bool = True) -> str:
    """FC's asynchronous-invocation destination record, as `make demo` writes it."""
    original = event(key)
    return json.dumps(
        {
            "timestamp": "2026-11-27T10:00:00.000+00:00",
            "requestContext": {
                "requestId": "r-1",
                "functionArn": "acs:fc:cn-hangzhou:1:functions/f",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 4,
            },
            "requestPayload": json.dumps(original) if payload_as_text else original,
            "responseContext": {"statusCode": 200, "functionError": "UnhandledInvocationError"},
            "responsePayload": json.dumps(
                {"errorType": "TransientError", "errorMessage": "HTTP 503 ServiceUnavailable"}
            ),
        }
    )


# ---------------------------------------------------------------- parsing


def test_an_fc_destination_record_is_understood():
    letter = understand(destination_record("a.jpg"), message_id="M", enqueue_ms=1000, now=3601)
    assert letter.layer == "function" and letter.problem is None
    assert letter.objects == (f"{SRC}/uploads/a.jpg",)
    assert letter.reason == "TransientError: HTTP 503 ServiceUnavailable (RetriesExhausted)"
    assert letter.attempts == 4 and letter.age_s == 3600
    assert json.loads(letter.event)["data"]["oss"]["object"]["key"] == "uploads/a.jpg"
    assert letter.line().startswith("    1h  function")
    # the payload as an object rather than text, and a base64 body, likewise
    as_object = understand(destination_record("a.jpg", payload_as_text=False))
    assert as_object.objects == letter.objects
    encoded = base64.b64encode(destination_record("a.jpg").encode()).decode()
    assert understand(encoded).objects == letter.objects


def test_a_raw_cloudevent_is_eventbridges_dead_letter():
    letter = understand(json.dumps(event("b.png")))
    assert (letter.layer, letter.problem) == ("eventbridge", None)
    assert letter.objects == (f"{SRC}/uploads/b.png",)
    assert "EventBridge could not deliver" in letter.reason


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("<html>", "not JSON"),
        ('{"hello": 1}', "neither an FC destination record nor a CloudEvent"),
        ('{"requestPayload": "{}"}', "its event: unrecognised event shape"),
        ('{"requestPayload": "{not json"}', "its event: event is not JSON"),
        ('{"specversion": "1.0", "data": {}}', "its event:"),
    ],
)
def test_what_cannot_be_parsed_says_why(body, problem):
    letter = understand(body, message_id="M1")
    assert letter.problem.startswith(problem) and letter.event is None
    assert "KEPT" in letter.line()


# ---------------------------------------------------------------- MNS + FC


@pytest.fixture
def mns():
    with MnsStandIn("dead-letters") as server:
        yield server


def queue_of(mns: MnsStandIn) -> MnsDeadLetters:
    return MnsDeadLetters(MnsQueue(mns.endpoint, "dead-letters", CREDS), wait_seconds=0)


def invoker_of(fc: FcStandIn) -> FcInvoker:
    return FcInvoker("f", region="cn-hangzhou", credentials=CREDS, endpoint=fc.endpoint)


def test_redrive_reinvokes_asynchronously_then_deletes_and_keeps_the_unparseable(mns):
    mns.send(destination_record("a.jpg"), age_seconds=7200)
    mns.send(json.dumps(event("b.png")))
    garbage = mns.send("not json at all")
    with FcStandIn() as fc:
        report = redrive(queue_of(mns), invoker_of(fc), say=lambda _l: None)
        accepted = [json.loads(b) for b in fc.accepted]
        headers = [r.headers for r in fc.requests]
    assert len(report.redriven) == 2 and len(report.kept) == 1
    assert report.kept[0][0].message_id == garbage
    assert [e["data"]["oss"]["object"]["key"] for e in accepted] == [
        "uploads/a.jpg",
        "uploads/b.png",
    ]
    assert all(h["x-fc-invocation-type"] == "Async" for h in headers)
    assert mns.bodies() == ["not json at all"]  # only the unparseable one is left
    # each delete carried the receipt handle its receive handed out
    received = {r.query.get("numOfMessages") for r in mns.requests if r.method == "GET"}
    assert received == {"16"}
    deletes = [r.query["ReceiptHandle"] for r in mns.requests if r.method == "DELETE"]
    assert len(deletes) == 2 and all(h.startswith("1-") for h in deletes)


def test_peek_changes_nothing(mns):
    mns.send(destination_record("a.jpg"))
    mns.send("garbage")
    letters = queue_of(mns).peek()
    assert [x.layer for x in letters] == ["function", "?"]
    assert all(r.query.get("peekonly") == "true" for r in mns.requests)
    assert {r.method for r in mns.requests} == {"GET"}
    assert [m.dequeues for m in mns.messages] == [0, 0]
    assert len(mns.bodies()) == 2


def test_the_cli_peeks_with_one_line_per_message(mns, tmp_path, monkeypatch, capsys):
    mns.send(destination_record("a.jpg"), age_seconds=90)
    outputs = {
        "source_bucket": {"value": SRC},
        "target_bucket": {"value": "photos-out"},
        "function_name": {"value": "f"},
        "function_arn": {"value": "acs:fc:cn-hangzhou:1:functions/f"},
        "event_filter_pattern": {"value": "{}"},
        "pipeline_config": {"value": json.dumps({"source_prefix": "uploads/", "processor": {}})},
        "queue_name": {"value": "dead-letters"},
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
    code = main(["redrive", "--outputs", str(path), "--mns-endpoint", mns.endpoint, "--peek"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].split() == [
        "2m",
        "function",
        f"{SRC}/uploads/a.jpg",
        "TransientError:",
        "HTTP",
        "503",
        "ServiceUnavailable",
        "(RetriesExhausted)",
        "after",
        "4",
        "attempts",
    ]
    assert out[1].startswith("1 message(s) (MNS peeks at most 16)")


def test_throttled_reinvoke_is_retried_and_a_refused_one_keeps_the_message(mns):
    mns.send(destination_record("a.jpg"))
    mns.send(destination_record("b.jpg"))
    script = {0: 429, 1: None, 2: 503, 3: 503, 4: 503}
    with FcStandIn(script.get) as fc:
        report = redrive(
            queue_of(mns), invoker_of(fc), retries=2, sleep=lambda _s: None, say=lambda _l: None
        )
        assert len(fc.requests) == 2 + 3
    assert [x.objects[0].rsplit("/", 1)[1] for x in report.redriven] == ["a.jpg"]
    ((kept, why),) = report.kept
    assert kept.objects[0].endswith("b.jpg") and "HTTP 503" in why
    assert len(mns.bodies()) == 1  # b.jpg's message stays for later


def test_an_expired_receipt_handle_keeps_the_message_and_says_so(mns):
    mid = mns.send(destination_record("a.jpg"))
    with FcStandIn() as fc:
        inner = invoker_of(fc)

        def slow_invoke(payload):
            request_id = inner(payload)
            mns.expire(mid)  # the visibility timeout passed during the re-invoke
            return request_id

        report = redrive(queue_of(mns), slow_invoke, say=lambda _l: None)
    ((letter, why),) = report.kept
    assert letter.message_id == mid and "receipt handle expired" in why
    assert len(mns.bodies()) == 1
    (delete,) = [r for r in mns.requests if r.method == "DELETE"]
    assert delete.query["ReceiptHandle"].startswith("1-")


def test_more_than_one_batch(mns):
    for i in range(20):
        mns.send(destination_record(f"{i}.jpg"))
    with FcStandIn() as fc:
        report = redrive(queue_of(mns), invoker_of(fc), say=lambda _l: None)
    assert len(report.redriven) == 20 and mns.bodies() == []
    gets = [r for r in mns.requests if r.method == "GET"]
    assert len(gets) == 3  # 16, 4, then an empty queue


# ---------------------------------------------------------------- locally


def test_local_redrive_after_an_outage_in_the_demo(tmp_path, capsys):
    def outage(buckets: Path, target: str) -> None:
        (buckets / target / "resized").write_text("in the way")

    result = demo_run(
        [("phone/IMG_0006.jpg", PHONE)], tmp_path / ".demo", progress=False, prepare=outage
    )
    assert result.rows[0].outcome == "dead-lettered"
    with result.dead_letter_file.open("a") as fh:
        fh.write('{"MessageId": "junk", "MessageBody": "<xml/>"}\n')
    buckets = str(result.work_dir / "buckets")
    assert main(["redrive", "--buckets", buckets, "--peek"]) == 0
    assert "2 message(s); nothing changed" in capsys.readouterr().out
    (result.work_dir / "buckets" / result.target_bucket / "resized").unlink()  # OSS is back
    assert main(["redrive", "--buckets", buckets]) == 1  # the junk is kept
    assert "re-invoked and deleted 1; kept 1" in capsys.readouterr().out
    target = result.work_dir / "buckets" / result.target_bucket
    assert (target / "resized" / "large" / "phone" / "IMG_0006.jpg.jpg").exists()
    lines = result.dead_letter_file.read_text().splitlines()
    assert [json.loads(x)["MessageId"] for x in lines] == ["junk"]
    assert FileDeadLetters(result.dead_letter_file).peek()[0].problem


@pytest.mark.parametrize("status", [400, 403, 404])
def test_a_reinvoke_fc_refuses_is_not_retried_and_its_message_stays(mns, capsys, status):
    """FC refusing a re-invoke (a 4xx other than 429: no permission, no such
    function) is final for this run: asked once, the message is not deleted
    and the report names it, so it can be re-driven once the cause is fixed."""
    mid = mns.send(destination_record("a.jpg"))
    mns.send(destination_record("b.jpg"))
    with FcStandIn({0: status}.get) as fc:
        report = redrive(queue_of(mns), invoker_of(fc), retries=3, sleep=lambda _s: None)
        assert len(fc.requests) == 2  # a.jpg once, b.jpg once (accepted)
    ((kept, why),) = report.kept
    assert kept.message_id == mid and f"re-invoke failed: HTTP {status}" in why
    assert [x.objects[0].rsplit("/", 1)[1] for x in report.redriven] == ["b.jpg"]
    (left,) = mns.bodies()
    assert understand(left).objects == (f"{SRC}/uploads/a.jpg",)
    assert not [r for r in mns.requests if r.method == "DELETE" and mid in r.path]
    lines = capsys.readouterr().out.splitlines()
    assert any("uploads/a.jpg" in line and "KEPT: re-invoke failed" in line for line in lines)


@pytest.mark.parametrize(("failures", "redriven"), [(2, True), (3, False)])
def test_a_throttled_reinvoke_gets_exactly_its_retries(mns, failures, redriven):
    mns.send(destination_record("a.jpg"))
    slept: list[float] = []
    with FcStandIn(lambda n: 429 if n < failures else None) as fc:
        report = redrive(
            queue_of(mns), invoker_of(fc), retries=2, sleep=slept.append, say=lambda _l: None
        )
        assert len(fc.requests) == min(failures + 1, 3)
    assert slept == [0.5, 1.0]
    assert (len(report.redriven), len(report.kept)) == ((1, 0) if redriven else (0, 1))
    assert len(mns.bodies()) == (0 if redriven else 1)


def deployed_outputs(tmp_path) -> Path:
    outputs = {
        "source_bucket": {"value": SRC},
        "target_bucket": {"value": "photos-out"},
        "function_name": {"value": "imgpipe-prod-images"},
        "function_arn": {"value": "acs:fc:cn-shanghai:1234567890123456:functions/x"},
        "event_filter_pattern": {"value": "{}"},
        "pipeline_config": {"value": json.dumps({"source_prefix": "uploads/", "processor": {}})},
        "queue_name": {"value": "dead-letters"},
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return path


def test_the_cli_redrives_a_deployed_stack_to_its_function(mns, tmp_path, monkeypatch, capsys):
    """`imgpipe redrive --outputs`: the stack's function, signed with the caller's
    credentials, asynchronously; the message deleted; one summary line."""
    mns.send(destination_record("a.jpg"))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
    path = deployed_outputs(tmp_path)
    with FcStandIn() as fc:
        fc.record_bodies = True
        argv = ["redrive", "--outputs", str(path), "--mns-endpoint", mns.endpoint]
        assert main([*argv, "--fc-endpoint", fc.endpoint]) == 0
        (request,) = fc.requests
        (body,) = fc.accepted
    assert request.path == "/2023-03-30/functions/imgpipe-prod-images/invocations"
    assert request.headers["x-fc-invocation-type"] == "Async"
    assert request.headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-key")
    assert json.loads(body)["data"]["oss"]["object"]["key"] == "uploads/a.jpg"
    assert mns.bodies() == []
    assert capsys.readouterr().out.splitlines()[-1] == "re-invoked and deleted 1; kept 0"


def test_the_cli_finds_the_stacks_queue_by_region_and_account(tmp_path, monkeypatch, capsys):
    from imgpipe.cloud import deployment

    made = []

    class Queue:
        def __init__(self, endpoint, name, creds):
            made.append((endpoint, name, creds.access_key_id))

        def receive_batch(self, count, wait, peek=False):
            assert (count, wait, peek) == (16, 0, True)
            return []

    monkeypatch.setattr(deployment, "MnsQueue", Queue)
    invokers = []
    monkeypatch.setattr(
        deployment, "FcInvoker", lambda name, **kw: invokers.append((name, kw["region"])) or None
    )
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
    assert main(["redrive", "--outputs", str(deployed_outputs(tmp_path)), "--peek"]) == 0
    assert made == [("https://1234567890123456.mns.cn-shanghai.aliyuncs.com", "dead-letters", "k")]
    assert invokers == [("imgpipe-prod-images", "cn-shanghai")]  # FC's endpoint from the region
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    assert main(["redrive", "--outputs", str(deployed_outputs(tmp_path)), "--peek"]) == 2
    assert "set ALIBABA_CLOUD_ACCESS_KEY_ID" in capsys.readouterr().err


def test_the_cli_says_what_the_outputs_lack(tmp_path, monkeypatch, capsys):
    path = deployed_outputs(tmp_path)
    outputs = json.loads(path.read_text())
    del outputs["queue_name"]
    path.write_text(json.dumps(outputs))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
    assert main(["redrive", "--outputs", str(path), "--peek"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imgpipe redrive: ") and "queue_name" in err and "Traceback" not in err


def test_peek_names_the_mns_message_it_cannot_read(mns):
    mid = mns.send("not json at all")
    (letter,) = queue_of(mns).peek()
    assert letter.message_id == mid and mid in letter.line() and "KEPT" in letter.line()


def test_the_cli_shows_each_redriven_messages_age_and_an_expired_handle_word_for_word(
    mns, tmp_path, monkeypatch, capsys
):
    """What an operator reads during a deployed re-drive: each message's age
    from MNS's EnqueueTime, and why a message whose receipt handle expired
    during its re-invoke stays; the queue long-polled one second a batch."""
    mid = mns.send(destination_record("a.jpg"), age_seconds=2 * 3600 + 60)
    mns.send(destination_record("b.jpg"), age_seconds=3 * 86400)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
    path = deployed_outputs(tmp_path)

    def first_invoke_outlasts_the_visibility_timeout(i: int) -> None:
        if i == 0:
            mns.expire(mid)

    with FcStandIn(first_invoke_outlasts_the_visibility_timeout) as fc:
        argv = ["redrive", "--outputs", str(path), "--mns-endpoint", mns.endpoint]
        assert main([*argv, "--fc-endpoint", fc.endpoint]) == 1  # one message kept
    what = (
        f"{SRC}/uploads/{{}}  TransientError: HTTP 503 ServiceUnavailable"
        " (RetriesExhausted) after 4 attempts"
    )
    assert capsys.readouterr().out.splitlines() == [
        f"    2h  function     {what.format('a.jpg')}  -> KEPT: re-invoked, but its receipt"
        " handle expired before the delete: it will be seen again (a second re-invoke finds"
        " the work current)",
        f"    3d  function     {what.format('b.jpg')}  -> re-invoked, deleted",
        "re-invoked and deleted 1; kept 1",
    ]
    (kept,) = mns.bodies()
    assert understand(kept, message_id=mid, enqueue_ms=None).objects == (f"{SRC}/uploads/a.jpg",)
    receives = [r.query for r in mns.requests if r.method == "GET"]
    assert receives and all(q["waitseconds"] == "1" for q in receives)


def test_the_demos_dead_letter_file_read_line_by_line_then_rewritten(tmp_path):
    """`dead-letters.jsonl` (the demo's queue): each line an MNS message's
    fields. Its id and age are MNS's fields when present, else its line
    number; a line that is not such a message is kept and said so; the file
    keeps only what was not deleted, and goes when nothing is left."""
    import time

    now_ms = int(time.time() * 1000)
    path = tmp_path / "dead-letters.jsonl"
    lines = [
        json.dumps(
            {
                "MessageId": "M-1",
                "EnqueueTime": now_ms - 3 * 3600_000,
                "MessageBody": destination_record("a.jpg"),
            }
        ),
        json.dumps({"MessageBody": json.loads(json.dumps(event("b.png")))}),  # an object body
        "this is no message",
    ]
    path.write_text("\n".join(lines) + "\n")
    queue = FileDeadLetters(path)
    first, second, third = queue.peek()
    assert (first.message_id, first.line().split()[0]) == ("M-1", "3h")
    assert first.objects == (f"{SRC}/uploads/a.jpg",)
    assert (second.message_id, second.age_s, second.layer) == ("line 2", None, "eventbridge")
    assert second.line().startswith("     ?  eventbridge  photos-src/uploads/b.png  ")
    assert third.line() == "     ?  ?            line 3  KEPT: not an MNS message"
    received = list(queue.receive())
    assert [r.handle for r in received] == [0, 1, 2]
    assert queue.delete(0) is None and queue.delete(1) is None
    queue.commit()
    assert path.read_text() == "this is no message\n"
    queue.delete(0)
    queue.commit()
    assert not path.exists()
    assert FileDeadLetters(path).peek() == []


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "?"),
        (-5, "0s"),  # a clock behind MNS's
        (0.4, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "60m"),
        (3600, "1h"),
        (86399, "24h"),
        (86400, "1d"),
        (10 * 86400, "10d"),
    ],
)
def test_a_messages_age_in_its_largest_whole_unit(seconds, shown):
    from imgpipe.cloud.deadletters import DeadLetter

    letter = DeadLetter("m", "function", "why", age_s=seconds)
    assert letter.line().split()[0] == shown


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            json.dumps({"errorType": "TransientError", "errorMessage": "HTTP 503"}),
            "TransientError: HTTP 503",
        ),
        (json.dumps({"errorCode": "FunctionTimeout"}), "FunctionTimeout"),
        (json.dumps({"errorMessage": "x" * 300}), "error: " + "x" * 200),
        ("Traceback: " + "y" * 300, ("Traceback: " + "y" * 300)[:200]),
        ("", "(no error recorded)"),
        (None, "(no error recorded)"),
    ],
)
def test_what_fc_recorded_as_the_error_reads_in_one_line(response, reason):
    """The function's error from the destination record's responsePayload:
    type and message, a code, text as it is, or nothing recorded; at most
    200 characters of it."""
    record = json.loads(destination_record("a.jpg"))
    record["responsePayload"] = response
    record["requestContext"].pop("condition")
    record["requestContext"].pop("approximateInvokeCount")
    letter = understand(json.dumps(record), message_id="m")
    assert letter.reason == reason
    assert letter.line() == f"     ?  function     {SRC}/uploads/a.jpg  {reason}"


def test_a_message_of_several_objects_or_none_names_them_so():
    from imgpipe.cloud.deadletters import DeadLetter

    two = DeadLetter("m", "eventbridge", "why", objects=("b/x.jpg", "b/y.jpg"), attempts=3)
    none = DeadLetter("m", "function", "why")
    assert two.line() == "     ?  eventbridge  b/x.jpg, b/y.jpg  why after 3 attempts"
    assert none.line() == "     ?  function     (no object)  why"


@pytest.mark.parametrize(
    ("doc", "layer", "problem"),
    [
        (
            {"source": "acs.oss", "data": "text"},
            "?",
            "neither an FC destination record nor a CloudEvent (keys: data, source)",
        ),
        (
            {"data": {}, "id": "1"},
            "?",
            "neither an FC destination record nor a CloudEvent (keys: data, id)",
        ),
        (
            {k: 1 for k in "gfedcba"},
            "?",
            "neither an FC destination record nor a CloudEvent (keys: a, b, c, d, e, f)",
        ),  # the first six, sorted
        ({"source": "acs.oss", "data": {}}, "eventbridge", "its event: "),
        ({"specversion": "1.0", "data": {}}, "eventbridge", "its event: "),
    ],
)
def test_which_shape_a_message_is_decides_on_data_and_specversion_or_source(doc, layer, problem):
    """A CloudEvent is a mapping `data` with `specversion` or `source`;
    anything else that is not FC's record is named by its first six keys."""
    letter = understand(json.dumps(doc), message_id="M1")
    assert letter.layer == layer and letter.problem.startswith(problem)
    if layer == "eventbridge":
        assert letter.reason == "EventBridge could not deliver it to FC (no function error)"
    assert letter.line().endswith(f"M1  KEPT: {letter.problem}")


def test_a_body_that_is_no_json_is_kept_with_an_empty_reason_and_no_attempts():
    letter = understand("\u00ff not base64 either", message_id="M2")
    assert (letter.layer, letter.reason, letter.attempts) == ("?", "", None)
    assert letter.problem == "not JSON (nor base64 of JSON)" and letter.message_id == "M2"
    assert understand("{}").message_id == ""


def test_an_unreadable_message_first_in_the_queue_does_not_stop_the_ones_after_it(mns):
    garbage = mns.send("not json at all")
    mns.send(destination_record("a.jpg"))
    mns.send(destination_record("b.jpg"))
    said: list[str] = []
    with FcStandIn() as fc:
        report = redrive(queue_of(mns), invoker_of(fc), say=said.append)
    assert [x.objects for x in report.redriven] == [
        (f"{SRC}/uploads/a.jpg",),
        (f"{SRC}/uploads/b.jpg",),
    ]
    ((kept, why),) = report.kept
    assert kept.message_id == garbage and why == "not JSON (nor base64 of JSON)"
    age, line = said[0].split(None, 1)
    assert (
        age.endswith("s") and line == f"?            {garbage}  KEPT: not JSON (nor base64 of JSON)"
    )
    assert mns.bodies() == ["not json at all"]


def test_by_default_a_failing_reinvoke_gets_five_attempts_backing_off(mns):
    mns.send(destination_record("a.jpg"))
    slept: list[float] = []
    with FcStandIn(lambda _n: 503) as fc:
        report = redrive(queue_of(mns), invoker_of(fc), sleep=slept.append, say=lambda _l: None)
        attempts = len(fc.requests)
    assert attempts == 5 and slept == [0.5, 1.0, 2.0, 4.0]
    ((_, why),) = report.kept
    assert why == "re-invoke failed: HTTP 503 ServiceUnavailable"


def test_the_cli_gives_its_retries_to_the_redrive_and_takes_only_whole_numbers_to_20(
    mns, tmp_path, monkeypatch, capsys
):
    from imgpipe.cli import parser

    mns.send(destination_record("a.jpg"))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
    monkeypatch.setattr("imgpipe.jobs.redrive.time.sleep", lambda _s: None)
    argv = ["redrive", "--outputs", str(deployed_outputs(tmp_path)), "--mns-endpoint", mns.endpoint]
    with FcStandIn(lambda _n: 503) as fc:
        assert main([*argv, "--fc-endpoint", fc.endpoint, "--retries", "1"]) == 1
        assert len(fc.requests) == 2  # one try and one retry
    capsys.readouterr()
    local = ["redrive", "--buckets", str(tmp_path)]
    assert parser("redrive").parse_args(local).retries == 4
    for value in ("0", "20"):
        assert parser("redrive").parse_args([*local, "--retries", value]).retries == int(value)
    for value in ("21", "-1", "1.5"):
        with pytest.raises(SystemExit):
            main([*local, "--retries", value])
        err = capsys.readouterr().err
        assert err.startswith("imgpipe redrive: error: argument --retries: ")
        if value == "1.5":
            assert "--retries: a whole number of retries required, got '1.5'" in err


def test_an_mns_that_cannot_be_reached_during_the_redrive_is_one_line_and_status_1(
    tmp_path, monkeypatch, capsys
):
    from conftest import free_port

    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret")
    argv = ["redrive", "--outputs", str(deployed_outputs(tmp_path))]
    code = main([*argv, "--mns-endpoint", f"http://127.0.0.1:{free_port()}"])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith("imgpipe redrive: MNS http://127.0.0.1:") and "unreachable" in err
    assert len(err.strip().splitlines()) == 1


def test_the_dead_letter_file_keeps_each_unsent_line_whole_and_may_be_absent(tmp_path):
    path = tmp_path / "dead-letters.jsonl"
    queue = FileDeadLetters(path)
    assert list(queue.receive()) == [] and queue.peek() == []
    queue.commit()  # nothing to rewrite, nothing to remove: no error
    assert not path.exists()
    path.write_text("one\ntwo\nthree\n")
    queue.delete(1)
    queue.commit()
    assert path.read_text() == "one\nthree\n"


def test_an_attempt_count_that_is_not_a_number_is_not_shown():
    record = json.loads(destination_record("a.jpg"))
    record["requestContext"]["approximateInvokeCount"] = "four"
    letter = understand(json.dumps(record), message_id="m")
    assert letter.attempts is None and " attempts" not in letter.line()


def test_a_dead_letter_line_whose_enqueue_time_is_not_a_number_has_no_age(tmp_path):
    path = tmp_path / "dead-letters.jsonl"
    line = {
        "MessageId": "M",
        "EnqueueTime": "yesterday",
        "MessageBody": destination_record("a.jpg"),
    }
    path.write_text(json.dumps(line) + "\n")
    (letter,) = FileDeadLetters(path).peek()
    assert letter.age_s is None and letter.line().split()[0] == "?"


def test_the_backoff_between_reinvokes_stops_growing_at_20_seconds(mns):
    mns.send(destination_record("a.jpg"))
    slept: list[float] = []
    with FcStandIn(lambda _n: 503) as fc:
        redrive(queue_of(mns), invoker_of(fc), retries=7, sleep=slept.append, say=lambda _l: None)
    assert slept == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0]
