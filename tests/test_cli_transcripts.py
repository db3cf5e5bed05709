"""Every command's `--help` and a scripted run of each, as a user runs them.

Compared with transcripts written before issue 24's restructuring
(tests/transcripts.py says what is masked and how to rewrite them): moving
code between modules must not change one word a user sees, nor an exit
status. `imgpipe smoke`'s scripted run needs the OSS and MNS stand-ins and
is in tests/test_smoke.py (`test_the_scripted_run_prints_what_it_printed`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from transcripts import check, normalise

DATA = Path(__file__).parent / "data"
# The commands an operator uses: issue 24 moved the project's own
# development tools (tf-check, package-stats) out of this list.
COMMANDS = ("process", "bench", "invoke", "demo", "cost", "smoke", "backfill", "redrive")


def _run(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "imgpipe", *argv],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return (
        f"$ imgpipe {' '.join(argv)}\n"
        f"--- stdout\n{done.stdout}--- stderr\n{done.stderr}--- exit {done.returncode}\n"
    )


def test_help_is_what_it_was_from_the_entry_point(tmp_path):
    check("help-imgpipe", normalise(_run("--help", cwd=tmp_path), tmp=tmp_path))


@pytest.mark.parametrize("command", ("", *COMMANDS))
def test_help_is_what_it_was(command, tmp_path, monkeypatch, capsys):
    """Each `--help` in this process, through the same `main` the entry point
    calls (the subprocess above proves the entry point): so mutation testing
    sees each help text's words reach the user, which a subprocess hides."""
    from imgpipe.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    argv = (command, "--help") if command else ("--help",)
    try:
        code = main(list(argv))
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    seen = f"$ imgpipe {' '.join(argv)}\n--- stdout\n{out}--- stderr\n{err}--- exit {code}\n"
    check(f"help-{command or 'imgpipe'}", normalise(seen, tmp=tmp_path))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """`imgpipe demo` on its samples, once: the buckets the later runs use."""
    tmp = tmp_path_factory.mktemp("transcript")
    out = _run("demo", "--work-dir", "demo", "--monthly", "20000", cwd=tmp)
    return tmp, out


def test_demo_prints_what_it_printed(demo_run):
    tmp, out = demo_run
    text = normalise(out, tmp=tmp, timed_blocks=("Cost if", "(this machine's speed"))
    # The table's last column is the handler's ms: its width moves the header and the rule.
    text = re.sub(r"(?m)^-{20,}$", "<rule>", re.sub(r"(?<=\S) {2,}", "  ", text))
    check("run-demo", text)


def test_backfill_and_redrive_print_what_they_printed(demo_run):
    tmp, _ = demo_run
    buckets = tmp / "demo" / "buckets"
    target = next(p for p in buckets.iterdir() if "-out-" in p.name)
    (target / "resized" / "small" / "design" / "logo.png.webp").unlink()
    runs = [
        _run("backfill", "--buckets", "demo/buckets", "--dry-run", cwd=tmp),
        _run("backfill", "--buckets", "demo/buckets", "--dry-run", "--json", cwd=tmp),
        _run("backfill", "--buckets", "demo/buckets", cwd=tmp),
        _run(
            "backfill",
            "--buckets",
            "demo/buckets",
            "--force",
            "--prefix",
            "uploads/design/",
            cwd=tmp,
        ),
        _run("backfill", "--buckets", "nowhere", cwd=tmp),
        _run("backfill", "--buckets", "demo/buckets", "--rate", "0", cwd=tmp),
        _run("redrive", "--buckets", "demo/buckets", "--peek", cwd=tmp),
        _run("redrive", "--buckets", "demo/buckets", cwd=tmp),
        _run("redrive", "--buckets", "nowhere", cwd=tmp),
    ]
    text = "".join(normalise(r, tmp=tmp) for r in runs)
    # the checkpoint's own time stamps and the JSON's timings
    check("run-backfill-redrive", text)


def _event_for(bucket: str, key: str, data: bytes) -> dict:
    """Alibaba's published OSS CloudEvent (tests/data/events), naming our object."""
    samples = json.loads((DATA / "events" / "event-samples.json").read_text())
    event = samples["eventbridge_cloudevent_oss_object_created"]["event"]
    oss = event["data"]["oss"]
    oss["bucket"]["name"] = bucket
    oss["object"].update(key=key, size=len(data), eTag=hashlib.md5(data).hexdigest().upper())
    event["data"]["eventName"] = "ObjectCreated:PutObject"
    event["type"] = "oss:ObjectCreated:PutObject"
    event["subject"] = f"acs:oss:cn-hangzhou:1234567890123456:{bucket}/{key}"
    return event


def test_process_invoke_and_cost_print_what_they_printed(tmp_path):
    photo = DATA / "images" / "hopper_orientation_6.jpg"
    measured = [
        _run("process", str(photo), "--out", "out", cwd=tmp_path),
        _run("process", str(DATA / "samples" / "not-a-photo.jpg"), "--out", "out", cwd=tmp_path),
        _run("process", "missing.jpg", "--out", "out", cwd=tmp_path),
        _run("invoke", "missing.json", "--buckets", "b", cwd=tmp_path),
    ]
    source = tmp_path / "b" / "photos-src" / "uploads" / "x.jpg"
    source.parent.mkdir(parents=True)
    source.write_bytes(photo.read_bytes())
    (tmp_path / "b" / "photos-dst").mkdir()
    event = _event_for("photos-src", "uploads/x.jpg", photo.read_bytes())
    (tmp_path / "event.json").write_text(json.dumps(event))
    env = {"SOURCE_BUCKET": "photos-src", "TARGET_BUCKET": "photos-dst"}
    measured.append(_run("invoke", "event.json", "--buckets", "b", cwd=tmp_path, env=env))
    measured.append(_run("invoke", "event.json", "--buckets", "b", cwd=tmp_path, env=env))
    fixed = [
        _run(
            "cost",
            "--requests",
            "3000000",
            "--memory-mb",
            "512",
            "--vcpu",
            "0.25",
            "--duration-ms",
            "200",
            cwd=tmp_path,
        ),
        _run(
            "cost",
            "--requests",
            "3000000",
            "--memory-mb",
            "2048",
            "--duration-ms",
            "900",
            "--json",
            cwd=tmp_path,
        ),
        _run("cost", "--requests", "-1", cwd=tmp_path),
    ]
    text = "".join(normalise(r, tmp=tmp_path) for r in measured)
    text += "".join(normalise(r, tmp=tmp_path, measured=False) for r in fixed)
    check("run-process-invoke-cost", text)
