"""`imgpipe smoke` against local stand-ins of the cloud.

OSS is moto's S3 server spoken to by the real oss2 client (as in
test_storage_oss.py); MNS is `MnsStandIn`, an HTTP server for the three queue
operations the smoke test calls, which checks every request's signature with
MNS's documented algorithm. `Pipeline` plays FC and EventBridge: it watches
the source bucket, runs the real handler on each new upload with the
environment the Terraform gives the function, retries a failure and then
dead-letters it, as FC's asynchronous path does.

moto has no storage classes, so `Pipeline` reads an object uploaded with
`x-oss-storage-class: Archive` the way OSS does (403 InvalidObjectState)
by its name, which is the one thing here that is told rather than observed.

What this proves: the smoke test's own logic (what it expects from the
Terraform's outputs, how it waits, checks, finds its dead letter among
others, cleans up, and reports a missing variant or a missing dead letter).
It cannot prove anything about the real FC or MNS.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import oss2
import pytest
from conftest import moto_oss
from transcripts import check, normalise

import imgpipe.commands.smoke as smoke_module
from fc_handler.handle import handle_event
from fc_handler.settings import Settings
from fc_handler.storage import StorageError
from fc_handler.storage_oss import OssStorage
from imgpipe.cli import main
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.mns import mns_signature
from imgpipe.cloud.terraform import evaluate

KEY_ID, SECRET = "test-key", "test-secret"
OUTPUTS = ("source_bucket", "target_bucket", "queue_name", "queue_arn", "pipeline_config")


def test_signature_matches_the_documented_example():
    """MNS "How do I obtain the signature string": the example's signature starts so."""
    signature = mns_signature(
        "TestAccessSecret",
        "GET",
        {"Date": "Thu, 09 Jul 2015 03:01:34 GMT", "x-mns-version": "2015-06-06"},
        "/MyQueue",
    )
    assert signature.startswith("uwx3yeWoILzgmvesW0BQSgfM")


# ------------------------------------------------------------- MNS stand-in


class MnsStandIn:
    """ReceiveMessage (long poll), DeleteMessage, ChangeMessageVisibility."""

    def __init__(self, queue: str) -> None:
        import http.server

        self.queue = queue
        self.messages: list[dict] = []  # {"body", "handle", "visible_at"}
        self.lock = threading.Lock()
        self.bad_signatures = 0
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str) -> None:
                self._reply(
                    status,
                    '<?xml version="1.0" encoding="UTF-8"?><Error xmlns='
                    f'"http://mns.aliyuncs.com/doc/v1/"><Code>{code}</Code>'
                    f"<Message>{code}</Message></Error>",
                )

            def _handle(self) -> None:
                auth = self.headers.get("Authorization", "")
                headers = {k: v for k, v in self.headers.items()}
                expected = mns_signature(SECRET, self.command, headers, self.path)
                if auth != f"MNS {KEY_ID}:{expected}":
                    standin.bad_signatures += 1
                    return self._error(403, "SignatureDoesNotMatch")
                url = urlsplit(self.path)
                if url.path != f"/queues/{standin.queue}/messages":
                    return self._error(404, "QueueNotExist")
                query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                if self.command == "GET":
                    return self._receive(float(query.get("waitseconds", "0")))
                if self.command == "DELETE":
                    return self._delete(query.get("ReceiptHandle", ""))
                if self.command == "PUT":
                    return self._visibility(
                        query.get("receiptHandle", ""), float(query["visibilityTimeout"])
                    )
                return self._error(405, "MethodNotAllowed")

            do_GET = do_DELETE = do_PUT = _handle

            def _receive(self, wait: float) -> None:
                deadline = time.monotonic() + wait
                while True:
                    with standin.lock:
                        now = time.monotonic()
                        for m in standin.messages:
                            if m["visible_at"] <= now:
                                m["handle"] = "1-" + uuid.uuid4().hex + "=="
                                m["visible_at"] = now + 60
                                return self._reply(
                                    200,
                                    '<?xml version="1.0" encoding="UTF-8"?><Message xmlns='
                                    '"http://mns.aliyuncs.com/doc/v1/"><MessageId>'
                                    f"{m['id']}</MessageId><ReceiptHandle>{m['handle']}"
                                    f"</ReceiptHandle><MessageBody>{_xml(m['body'])}"
                                    "</MessageBody></Message>",
                                )
                    if time.monotonic() >= deadline:
                        return self._error(404, "MessageNotExist")
                    time.sleep(0.05)

            def _delete(self, handle: str) -> None:
                with standin.lock:
                    for m in standin.messages:
                        if m["handle"] == handle:
                            standin.messages.remove(m)
                            return self._reply(204)
                return self._error(404, "ReceiptHandleError")

            def _visibility(self, handle: str, seconds: float) -> None:
                with standin.lock:
                    for m in standin.messages:
                        if m["handle"] == handle:
                            m["visible_at"] = time.monotonic() + seconds
                            return self._reply(200, "<ChangeVisibility/>")
                return self._error(404, "ReceiptHandleError")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def send(self, body: str) -> None:
        with self.lock:
            self.messages.append(
                {"id": uuid.uuid4().hex, "body": body, "handle": None, "visible_at": 0}
            )

    def bodies(self) -> list[str]:
        with self.lock:
            return [m["body"] for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------- FC stand-in


class Pipeline:
    """FC and EventBridge: each new upload runs the real handler; failures are retried,
    then dead-lettered with FC's destination record."""

    def __init__(self, ev, s3, endpoint: str, mns: MnsStandIn, *, drop=(), dead_letters=True):
        self.env = ev.function_environment
        self.s3, self.mns = s3, mns
        self.drop, self.dead_letters = tuple(drop), dead_letters
        self.handled_photo = threading.Event()  # the smoke photo's invocation is over
        storage = OssStorage(oss2.Auth(KEY_ID, SECRET), endpoint)
        real_get, real_put = storage.get, storage.put

        def get(bucket, key):
            if key.endswith("archived.jpg"):  # see the module docstring
                raise StorageError(f"oss://{bucket}/{key}: 403 InvalidObjectState")
            return real_get(bucket, key)

        def put(bucket, key, data, **kw):
            if not key.endswith(self.drop):
                real_put(bucket, key, data, **kw)

        storage.get, storage.put = get, put
        self.storage = storage
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)

    def _loop(self) -> None:
        bucket, prefix = self.env["SOURCE_BUCKET"], self.env["SOURCE_PREFIX"]
        seen: set[str] = set()
        while not self.stop.is_set():
            listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
            for obj in listed.get("Contents", []):
                if obj["Key"] not in seen:
                    seen.add(obj["Key"])
                    self._invoke(bucket, obj["Key"])
            time.sleep(0.05)

    def _invoke(self, bucket: str, key: str) -> None:
        data = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        event = cloudevent(bucket, key, data)
        settings = Settings.from_env(self.env)
        for _attempt in range(4):  # the first call and FC's 3 retries
            try:
                handle_event(
                    event,
                    settings=settings,
                    storage=self.storage,
                    request_id="r",
                    log=lambda _r: None,
                )
                if key.endswith("photo.jpg"):
                    self.handled_photo.set()
                return
            except StorageError:
                continue
        if self.dead_letters:
            record = {
                "requestContext": {"requestId": "r", "condition": "RetriesExhausted"},
                "requestPayload": json.dumps(event),
                "responseContext": {"statusCode": 200, "functionError": "UnhandledError"},
            }
            self.mns.send(json.dumps(record))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def moto():
    """moto's S3 server behind the OSS front (conftest.moto_oss), dev stack's buckets."""
    ev = evaluate({"env": "dev"})
    buckets = (ev.output("source_bucket"), ev.output("target_bucket"))
    with moto_oss(buckets, KEY_ID, SECRET) as moto:
        yield moto


@pytest.fixture
def cloud(moto):
    """The evaluated stack, a boto3 client and the OSS endpoint."""
    return evaluate({"env": "dev"}), moto.s3, moto.endpoint


@pytest.fixture
def mns(cloud):
    ev, _, _ = cloud
    standin = MnsStandIn(ev.output("queue_name"))
    yield standin
    standin.close()


@pytest.fixture
def smoke(cloud, mns, tmp_path, monkeypatch, capsys):
    ev, _, endpoint = cloud
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: {"value": ev.output(k)} for k in OUTPUTS}))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)

    def run(*extra: str) -> tuple[int, str, str]:
        argv = ["smoke", "--outputs", str(outputs), "--oss-endpoint", endpoint]
        argv += ["--mns-endpoint", mns.endpoint, "--poll", "0.1", "--run-id", "t1", *extra]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _objects(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


# ------------------------------------------------------------------- tests


@pytest.fixture
def smoke_process(cloud, mns, tmp_path):
    """`imgpipe smoke` as a user runs it: its own process, its own stdout.
    (The stand-ins run in this process; what they print cannot reach it.)"""
    ev, _, endpoint = cloud
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: {"value": ev.output(k)} for k in OUTPUTS}))
    env = {k: v for k, v in os.environ.items() if k != "ALIBABA_CLOUD_SECURITY_TOKEN"}
    env |= {"ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}

    def run(*extra: str) -> subprocess.CompletedProcess:
        argv = ["smoke", "--outputs", str(outputs), "--oss-endpoint", endpoint]
        argv += ["--mns-endpoint", mns.endpoint, "--poll", "0.1", "--run-id", "t1", *extra]
        return subprocess.run(
            [sys.executable, "-m", "imgpipe", *argv],
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def _chatty(app):
    """A WSGI app that prints to stdout, through Python and at fd 1, on every request."""

    def wrapped(environ, start_response):
        print("Unable to find appropriate backend for planted.amazonaws.com")
        sys.stdout.flush()
        os.write(1, b"planted at fd 1\n")
        return app(environ, start_response)

    return wrapped


@pytest.fixture(params=["quiet", "printing"])
def stand_ins(request, moto, monkeypatch):
    """The stand-ins as they are, and printing on every OSS request: what
    once broke this test (issue 27, moto's "Unable to find ..."), planted."""
    if request.param == "printing":
        monkeypatch.setattr(moto.front, "app", _chatty(moto.front.app))


@pytest.mark.usefixtures("stand_ins")
def test_passes_end_to_end_and_leaves_nothing_behind(cloud, mns, smoke_process):
    ev, s3, endpoint = cloud
    mns.send('{"someone": "else\'s failure"}')  # must survive the smoke test
    with Pipeline(ev, s3, endpoint, mns):
        done = smoke_process("--timeout", "30", "--dlq-timeout", "30", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    variants = {v["key"]: v for v in report["variants"]}
    assert sorted(variants) == sorted(
        f"resized/{size}/imgpipe-smoke/t1/photo.jpg.{ext}"
        for size in ("large", "medium", "small")
        for ext in ("jpg", "webp")
    )
    assert all(v["bytes"] > 0 for v in variants.values())
    assert {v["content_type"] for v in variants.values()} == {"image/jpeg", "image/webp"}
    assert report["latency_s"] > 0 and report["dead_letter_s"] >= 0
    assert "6/6 variants after" in done.stderr  # progress, on stderr with --json
    # everything it wrote is gone; the other failure is still queued
    assert _objects(s3, ev.output("source_bucket")) == []
    assert _objects(s3, ev.output("target_bucket")) == []
    assert mns.bodies() == ['{"someone": "else\'s failure"}']
    assert mns.bad_signatures == 0


def test_json_stdout_holds_only_the_report_whatever_a_library_prints(
    cloud, mns, smoke, monkeypatch
):
    """A library inside the smoke's own process that prints during the run
    (here oss2's put, planted) lands on stderr; stdout stays one JSON document."""
    ev, s3, endpoint = cloud
    main_thread = threading.current_thread()
    real_put = oss2.Bucket.put_object

    def chatty_put(self, *args, **kwargs):
        if threading.current_thread() is main_thread:  # the smoke's calls, not the pipeline's
            print("a library's stray line")
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(oss2.Bucket, "put_object", chatty_put)
    with Pipeline(ev, s3, endpoint, mns):
        code, out, err = smoke("--timeout", "30", "--dlq-timeout", "30", "--json")
    assert code == 0, err
    assert len(json.loads(out)["variants"]) == 6
    assert "a library's stray line" in err


class _TimeRunsOutAfterHandling:
    """A clock that jumps past any timeout one reading after the pipeline has
    handled the photo: the smoke's wait ends on the pipeline's work, not on
    how fast a loaded machine did it (a 3 s timeout failed under load)."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline, self.armed = pipeline, False

    def __call__(self) -> float:
        jump = 10_000.0 if self.armed else 0.0
        # armed one reading late: the HEADs after this reading see every variant written
        self.armed = self.armed or self.pipeline.handled_photo.is_set()
        return time.monotonic() + jump


def test_fails_clearly_when_a_variant_never_appears(cloud, mns, smoke, monkeypatch):
    ev, s3, endpoint = cloud
    with Pipeline(ev, s3, endpoint, mns, drop=(".webp",)) as pipeline:
        late_clock = _TimeRunsOutAfterHandling(pipeline)

        @dataclasses.dataclass
        class Smoke(smoke_module.Smoke):
            clock: Callable[[], float] = dataclasses.field(default=late_clock)

        monkeypatch.setattr(smoke_module, "Smoke", Smoke)
        code, _, err = smoke("--timeout", "600", "--dlq-timeout", "3")
    assert code == 1
    assert "FAILED: 3 of 6 variants never appeared" in err
    assert "resized/large/imgpipe-smoke/t1/photo.jpg.webp" in err
    assert "Asynchronous invocations" in err
    assert _objects(s3, ev.output("source_bucket")) == []
    assert _objects(s3, ev.output("target_bucket")) == []


def test_fails_clearly_when_the_failure_never_reaches_the_queue(cloud, mns, smoke):
    ev, s3, endpoint = cloud
    with Pipeline(ev, s3, endpoint, mns, dead_letters=False):
        code, out, err = smoke("--timeout", "30", "--dlq-timeout", "2")
    assert code == 1
    queue = ev.output("queue_name")
    assert f"did not reach the queue {queue} within 2 s" in err
    assert "Which dead-letter path a deployed stack uses" in err
    assert "6/6 variants after" in out  # the happy path did pass
    assert _objects(s3, ev.output("source_bucket")) == []
    assert _objects(s3, ev.output("target_bucket")) == []


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "--outputs {path}: no such file or directory (write it with `terraform output"),
        ("{bad", "--outputs {path}: not JSON (Expecting property name"),
        ("[1]", "--outputs {path}: not `terraform output -json`"),
    ],
)
def test_an_outputs_file_that_is_missing_or_not_json_is_named(tmp_path, capsys, content, said):
    """One line naming the file and what is wrong, the same for every command
    that reads it (stackoutputs.read): never `[Errno 2]`, never a bare parse error."""
    path = tmp_path / "outputs.json"
    if content is not None:
        path.write_text(content)
    for command in ("smoke", "backfill", "redrive"):
        assert main([command, "--outputs", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"imgpipe {command}: " + said.format(path=path)), err
        assert "Errno" not in err and len(err.splitlines()) == 1


def test_bad_outputs_and_missing_credentials_are_usage_errors(tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"source_bucket": {"value": "b"}}))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    assert main(["smoke", "--outputs", str(outputs)]) == 2
    assert "lack target_bucket, queue_name, queue_arn, pipeline_config" in capsys.readouterr().err
    ev = evaluate({"env": "dev"})
    outputs.write_text(json.dumps({k: {"value": ev.output(k)} for k in OUTPUTS}))
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    assert main(["smoke", "--outputs", str(outputs)]) == 2
    assert "set ALIBABA_CLOUD_ACCESS_KEY_ID" in capsys.readouterr().err


def test_cleanup_retries_a_delete_that_fails_with_a_server_error():
    """One 5xx on a DeleteObject (seen from moto here, and OSS answers them too) must not
    leave a test object behind; a refused delete is still reported, not retried."""

    class Bucket:
        def __init__(self, failures: dict[str, list[int]]):
            self.failures, self.deleted = failures, []

        def head_object(self, key):
            raise oss2.exceptions.NotFound(404, {}, b"", {})

        def delete_object(self, key, params=None):
            statuses = self.failures.get(key, [])
            if statuses:
                raise oss2.exceptions.ServerError(statuses.pop(0), {}, b"", {})
            self.deleted.append(key)

    class Stack:
        target_bucket = "out"
        source_prefix = "uploads/"

        def outputs(self, source_key):  # no variant of the failing upload to look for
            ready = f"_ready/{source_key.removeprefix(self.source_prefix)}.json"
            return types.SimpleNamespace(variants=(), variant_keys=(), ready=ready)

    bucket = Bucket({"flaky.webp": [500, 503], "denied.webp": [403]})
    said: list[str] = []
    waits: list[float] = []
    job = smoke_module.Smoke(
        stack=Stack(),
        oss=lambda _name: bucket,
        queue=None,
        run_id="t",
        say=said.append,
        sleep=waits.append,
    )
    job._written += [("out", "flaky.webp", None), ("out", "denied.webp", None)]
    job._clean()
    assert bucket.deleted == ["flaky.webp"]
    assert waits == [0.5, 1.0]  # two retries, then it went through
    assert job.report.cleaned == ["oss://out/flaky.webp"]
    assert len(said) == 1 and said[0].startswith("could not delete oss://out/denied.webp")


def test_the_scripted_run_prints_what_it_printed(cloud, mns, smoke, tmp_path):
    """Issue 24: the restructuring changed no word of a smoke run (tests/transcripts.py)."""
    ev, s3, endpoint = cloud
    with Pipeline(ev, s3, endpoint, mns):
        runs = [smoke("--timeout", "30", "--dlq-timeout", "30")]
    text = "".join(
        normalise(f"--- stdout\n{out}--- stderr\n{err}--- exit {code}\n", tmp=tmp_path)
        for code, out, err in runs
    )
    # how many polls saw fewer than all variants, and whole seconds waited, depend on speed
    text = re.sub(
        r"(?m)^  (\d+)/6 variants after <f> s\n", lambda m: "" if m[1] != "6" else m[0], text
    )
    check("run-smoke", re.sub(r"in \d+ s\b", "in <n> s", text))
