"""`imgpipe upload-page`: upload from a browser through a PostObject policy, locally.

Two servers on 127.0.0.1, the two halves of the flow docs/uploading.md
describes:

- the **app**, standing for the user's own server: the page
  (`upload_page.html`), `GET /policy?name=<file name>` (a signed PostObject
  form for exactly one new key under the source prefix, with signed URLs of
  the key's "ready" manifest and rejection record), and `GET /url?key=<key>`
  (a signed URL for one output of the target bucket, as `imgpipe url` would
  print). It holds the credentials; the browser never sees the secret;
- the **bucket** (`imgpipe.cloud.upload_standin.LocalOss`), a different origin,
  as OSS is: it checks each upload against its policy, writes it to the
  demo's local source bucket and sends the upload down the demo's own path
  (`imgpipe.demo.deliver`: the CloudEvent OSS sends for a PostObject, the
  EventBridge pattern evaluated from Terraform, the real handler, FC's
  retries). The variants, the manifest and `report.html` appear in the work
  directory as with `imgpipe demo`.

The credentials are made up for the run (a key id and secret the stand-in
knows), standing for the STS credentials of the signer role a deployed app
would use (docs/uploading.md, "The signer's permissions").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from fc_handler.current import outputs_for
from fc_handler.settings import Settings
from imgpipe import argtypes
from imgpipe.cloud import oss_post, upload_policy, urls
from imgpipe.cloud.deployment import SIGNING_OUTPUTS
from imgpipe.cloud.events import cloudevent
from imgpipe.cloud.standin import Request, Server
from imgpipe.cloud.terraform import LOCAL_ACCOUNT, LOCAL_REGION, evaluate
from imgpipe.cloud.upload_standin import LocalOss
from imgpipe.commands.demo import pipeline as demo
from imgpipe.commands.demo import report as _report

PAGE = Path(__file__).with_name("upload_page.html")
DEFAULT_EXPIRES_S = 600
# The per-upload folder under the source prefix: one policy, one key.
UPLOAD_FOLDER = "web/"


def safe_name(name: str) -> str:
    """The file's name as a key's last part: its base name, letters, digits,
    `.`, `-` and `_` kept, anything else `_` (a key a person can read and a
    URL needs no escaping for)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return cleaned[-120:] or "upload"


@dataclass
class Pipeline:
    """The dev environment's evaluated Terraform and the demo's delivery path."""

    work_dir: Path
    rows: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ev = evaluate({"env": "dev"})
        self.settings = Settings.from_env(self.ev.function_environment)
        self.buckets = self.work_dir / "buckets"
        self.lock = threading.Lock()

    def prepare(self) -> None:
        if why := demo.work_dir_problem(self.work_dir):
            raise ValueError(f"--work-dir {self.work_dir}: {why}")
        if self.work_dir.exists():
            shutil.rmtree(self.work_dir)
        for bucket in (self.settings.source_bucket, self.settings.target_bucket):
            (self.buckets / bucket).mkdir(parents=True, exist_ok=True)
        # the local stack's `terraform output -json`, for `imgpipe url` and
        # `imgpipe upload-policy` against the stand-in (--outputs)
        outputs = {name: {"value": self.ev.output(name)} for name in SIGNING_OUTPUTS}
        (self.work_dir / "outputs.json").write_text(json.dumps(outputs, indent=1))

    def deliver(self, bucket: str, key: str, data: bytes) -> None:
        """What OSS, EventBridge and FC do after a PostObject (imgpipe.demo)."""
        event = cloudevent(
            bucket, key, data, api="PostObject", region=LOCAL_REGION, account=LOCAL_ACCOUNT
        )
        with self.lock, (self.work_dir / "function.log").open("a") as log:
            row = demo.deliver(
                self.ev,
                self.buckets,
                key,
                event,
                log=log,
                dead_letters=self.work_dir / "dead-letters.jsonl",
            )
            row.note = "Uploaded from a browser through a PostObject policy (imgpipe upload-page)."
            self.rows.append(row)
            function = self.ev.one("alicloud_fcv3_function")
            result = demo.DemoResult(
                self.rows,
                self.work_dir,
                self.settings.source_bucket,
                self.settings.target_bucket,
                self.work_dir / "dead-letters.jsonl",
                function["memory_size"],
                self.ev.one("alicloud_fcv3_async_invoke_config")["max_async_retry_attempts"],
                function["cpu"],
            )
            _report.write(
                result, pattern=self.ev.filter_pattern, watermark=self.settings.processor.watermark
            )


class App(Server):
    """The app's server: the page, upload policies and signed URLs."""

    def __init__(self, pipeline: Pipeline, *, expires: int = DEFAULT_EXPIRES_S) -> None:
        self.pipeline = pipeline
        self.expires = expires
        # The environment's keys, as `imgpipe url` reads them, when set: then
        # `imgpipe url KEY --outputs WORK_DIR/outputs.json --oss-endpoint <the
        # stand-in>` signs URLs this stand-in accepts. Otherwise made up per run.
        env_key = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
        env_secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        if env_key and env_secret:
            self.key_id, self.secret = env_key, env_secret
        else:
            self.key_id = "LTAI-local-" + secrets.token_hex(4)
            self.secret = secrets.token_urlsafe(24)
        super().__init__()
        self.record_bodies = False
        self.oss = LocalOss(
            pipeline.buckets,
            {self.key_id: oss_post.Credential(self.secret)},
            on_upload=pipeline.deliver,
            cors_origins=(self.endpoint,),
        )
        self.signer = urls.Signer(self.oss.endpoint, self.key_id, self.secret)

    def close(self) -> None:
        self.oss.wait_idle()
        self.oss.close()
        super().close()

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        try:
            if req.method != "GET":
                return _json(405, {"error": "GET only"})
            if req.path in ("/", "/index.html"):
                page = PAGE.read_bytes()
                return 200, {"Content-Type": "text/html; charset=utf-8"}, page
            if req.path == "/policy":
                return self._policy(req.query.get("name", ""))
            if req.path == "/url":
                return self._url(req.query.get("key", ""))
            return _json(404, {"error": f"no such page {req.path}"})
        except ValueError as exc:
            return _json(400, {"error": str(exc)})

    def _policy(self, name: str) -> tuple[int, dict[str, str], bytes]:
        s = self.pipeline.settings
        ctype = upload_policy.content_type_for(name, s.image_suffixes)
        if not name or ctype is None:
            msg = f"{name!r}: not a photo the pipeline processes ({', '.join(s.image_suffixes)})"
            return _json(400, {"error": msg})
        relative = f"{UPLOAD_FOLDER}{uuid.uuid4().hex[:12]}/{safe_name(name)}"
        key = s.source_prefix + relative
        outputs = outputs_for(s.processor, s.source_prefix, s.rejected_prefix, key)
        expiration = datetime.now(timezone.utc) + timedelta(seconds=self.expires)
        form = upload_policy.form(
            url=upload_policy.bucket_url(s.source_bucket, self.oss.endpoint),
            bucket=s.source_bucket,
            key_prefix=key,
            exact_key=True,
            max_bytes=s.max_object_bytes,
            types=upload_policy.content_types(s.image_suffixes),
            expiration=expiration,
            access_key_id=self.key_id,
            access_key_secret=self.secret,
        )
        target = s.target_bucket
        return _json(
            200,
            {
                "form": form.as_json(),
                "key": key,
                "content_type": ctype,
                "ready_url": urls.variant_url(self.signer, target, outputs.ready, self.expires),
                "rejected_url": urls.variant_url(
                    self.signer, target, outputs.rejection, self.expires
                ),
            },
        )

    def _url(self, key: str) -> tuple[int, dict[str, str], bytes]:
        s = self.pipeline.settings
        readable = (*s.processor.output_prefixes(), s.rejected_prefix)
        if not key.startswith(readable):
            return _json(403, {"error": f"{key!r} is not an output of the pipeline"})
        url = urls.variant_url(self.signer, s.target_bucket, key, self.expires)
        return _json(200, {"url": url})


def _json(status: int, doc: dict) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    return status, headers, json.dumps(doc).encode()


def start(work_dir: Path, *, expires: int = DEFAULT_EXPIRES_S) -> App:
    """Empty `work_dir` (an earlier demo's, or new), then start both servers."""
    pipeline = Pipeline(work_dir)
    pipeline.prepare()
    return App(pipeline, expires=expires)


def main(work_dir: Path, expires: int, *, seconds: float | None = None) -> int:
    try:
        app = start(work_dir, expires=expires)
    except ValueError as exc:
        print(f"imgpipe upload-page: {exc}", file=sys.stderr)
        return 2
    host = urlsplit(app.endpoint).netloc
    print(f"Upload page: {app.endpoint}/  (open it in a browser; Ctrl-C stops)")
    print(f"Local OSS:   {app.oss.endpoint}  (checks each upload's PostObject policy)")
    print(f"Report:      {(work_dir / 'report.html').resolve()}  (after the first upload)")
    outputs = (work_dir / "outputs.json").resolve()
    print(
        f"Signed URLs: imgpipe url KEY --outputs {outputs} --oss-endpoint {app.oss.endpoint}"
        "  (with ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET set as for this page)"
    )
    print(f"Serving on {host} until interrupted.", flush=True)
    try:
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
    print(f"{len(app.pipeline.rows)} uploads processed; report in {work_dir / 'report.html'}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".demo-upload"),
        metavar="DIR",
        help="emptied, then holds the buckets, the log and report.html (default: "
        ".demo-upload); refused if it holds files the demo did not write",
    )
    p.add_argument(
        "--expires",
        type=argtypes.integer(1, 3600, meaning="a whole number of seconds"),
        default=600,
        metavar="SECONDS",
        help="how long each upload policy and signed URL is valid (default 600)",
    )


def run(args: argparse.Namespace) -> int:
    return main(args.work_dir, args.expires)
