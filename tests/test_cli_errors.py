"""The command line speaks to people (issue 10, point 5).

A mistake in a flag or a path is one line that names it, never a Python
traceback; a reader that closes the pipe early is not an error. Everything
runs the real `imgpipe` in a subprocess, as a user would.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IMAGES

from imgpipe.cli import parser
from imgpipe.commands.process import describe

IMGPIPE = [sys.executable, "-m", "imgpipe"]
ENV = {"SOURCE_BUCKET": "photos-src", "TARGET_BUCKET": "photos-dst"}
COST = ["cost", "--requests", "5000000", "--memory-mb", "512", "--duration-ms", "200"]


def imgpipe(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*IMGPIPE, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=120,
        **kw,
    )


def assert_one_line(done: subprocess.CompletedProcess, *needles: str) -> str:
    """stderr is a single line, holding every needle and no traceback."""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def three(tmp_path) -> list[Path]:
    paths = []
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(IMAGES / "hopper.jpg", tmp_path / name)
        paths.append(tmp_path / name)
    return paths


# ---------------------------------------------------------------- closed pipes


def test_process_into_head_prints_no_traceback_and_makes_every_variant(tmp_path, three):
    out = tmp_path / "out"
    command = " ".join(map(shlex.quote, [*IMGPIPE, "process", *map(str, three), "--out", str(out)]))
    done = subprocess.run(
        ["bash", "-c", f'set +o pipefail; {command} | head -1; echo "rc=${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    first, rc = done.stdout.splitlines()
    assert json.loads(first)["source"] == str(three[0])
    assert rc == "rc=0"  # the work succeeded; head closing early is not a failure
    # stderr has its reader: the summary only, no error
    (summary,) = done.stderr.splitlines()
    assert summary.startswith("imgpipe process: 3 inputs: 3 ok; 18 variants, ")
    # process went on with the rest of its inputs after head stopped reading
    assert sorted(p.name for p in (out / "resized" / "small").iterdir()) == [
        "a.jpg.jpg",
        "a.jpg.webp",
        "b.jpg.jpg",
        "b.jpg.webp",
        "c.jpg.jpg",
        "c.jpg.webp",
    ]


def _closed_pipe_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run with a stdout whose reader is already gone: every write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*IMGPIPE, *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
            timeout=120,
        )
    finally:
        os.close(write_end)


def test_process_with_no_reader_at_all_still_does_all_its_work(tmp_path, three):
    out = tmp_path / "out"
    missing = tmp_path / "missing.jpg"
    done = _closed_pipe_run(
        "process", str(three[0]), str(missing), *map(str, three[1:]), "--out", str(out)
    )
    # exit status and stderr are the work's: one input could not be read
    assert done.returncode == 1
    error, summary = done.stderr.splitlines()
    assert error == f"imgpipe process: {missing}: no such file or directory"
    assert summary.startswith("imgpipe process: 4 inputs: 3 ok, 1 unreadable (not-found); ")
    assert len(list((out / "resized" / "large").iterdir())) == 6


def test_process_with_stderr_on_the_closed_pipe_too(tmp_path, three):
    # `imgpipe process ... 2>&1 | head -1`: the error lines have no reader either
    out = tmp_path / "out"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [
                *IMGPIPE,
                "process",
                str(three[0]),
                str(tmp_path / "nope.jpg"),
                str(three[1]),
                "--out",
                str(out),
            ],
            stdout=write_end,
            stderr=write_end,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1  # nope.jpg, not the pipe
    assert len(list((out / "resized" / "large").iterdir())) == 4


def test_invoke_with_no_reader_lets_the_handler_finish(tmp_path):
    from imgpipe.cloud.events import cloudevent

    data = (IMAGES / "hopper.jpg").read_bytes()
    uploads = tmp_path / "b" / "photos-src" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "x.jpg").write_bytes(data)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(cloudevent("photos-src", "uploads/x.jpg", data)))
    done = _closed_pipe_run("invoke", str(event), "--buckets", str(tmp_path / "b"), env=ENV)
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / "b" / "photos-dst" / "resized" / "small" / "x.jpg.webp").exists()


# ---------------------------------------------------------------- paths


def test_bad_input_paths_are_named_with_what_is_wrong(tmp_path, three):
    missing = tmp_path / "nope.jpg"
    done = imgpipe(
        "process", str(missing), str(tmp_path), "/dev/null", str(three[0]),
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "unexpectedly" not in done.stderr
    *errors, summary = done.stderr.splitlines()
    assert errors == [
        f"imgpipe process: {missing}: no such file or directory",
        f"imgpipe process: {tmp_path}: is a directory",
        "imgpipe process: /dev/null: not a regular file",
    ]
    assert summary.startswith(
        "imgpipe process: 4 inputs: 1 ok, 3 unreadable (is-a-directory, not-a-file, not-found)"
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["status"], r["reason"]) for r in records] == [
        ("unreadable", "not-found"),
        ("unreadable", "is-a-directory"),
        ("unreadable", "not-a-file"),
        ("ok", None),
    ]


def _as_mere_user() -> list[str]:
    """A command prefix under which file modes apply, even to root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")  # util-linux: drop root's file-permission bypass
    if setpriv is None:
        pytest.skip("root reads files whatever their mode, and setpriv is not installed")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_file_is_named(tmp_path):
    locked = tmp_path / "locked.jpg"
    shutil.copy(IMAGES / "hopper.jpg", locked)
    locked.chmod(0)
    done = subprocess.run(
        [*_as_mere_user(), *IMGPIPE, "process", str(locked), "--out", str(tmp_path / "o"), "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert_one_line(done, f"{locked}: permission denied")
    assert json.loads(done.stdout)["reason"] == "permission-denied"


def test_os_errors_are_described_by_path_and_cause():
    # errno to reason, for what the tests cannot provoke (a full disk)
    exc = PermissionError(errno.EACCES, "Permission denied", "x.jpg")
    assert describe("x.jpg", exc) == ("permission-denied", "x.jpg: permission denied")
    exc = OSError(errno.ENOSPC, "No space left on device")
    assert describe("out/a.webp", exc) == ("no-space", "out/a.webp: no space left on device")


def test_unwritable_output_is_named(tmp_path, three):
    out = tmp_path / "out"
    (out / "resized").mkdir(parents=True)
    (out / "resized" / "large").write_text("a file where a folder must go")
    done = imgpipe("process", str(three[0]), "--out", str(out), "--quiet")
    assert done.returncode == 1
    assert_one_line(done, "imgpipe process: ", "resized/large")
    record = json.loads(done.stdout)
    assert record["status"] == "unwritable" and record["reason"] in {
        "not-a-directory",
        "os-error",
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["invoke", "{tmp}/event.json", "--buckets", "{tmp}/nodir/"], "argument --buckets: "),
        (["invoke", "{tmp}/event.json", "--buckets", "{tmp}/event.json"], "not a directory"),
        (["invoke", "{tmp}/none.json", "--buckets", "{tmp}"], "argument EVENT.json: "),
        (["invoke", "{tmp}", "--buckets", "{tmp}"], "is a directory"),
        (["process", "x.jpg", "--out", "{tmp}/event.json"], "argument --out: "),
        (["process", "x.jpg", "--out", "{tmp}", "--config", "{tmp}/c.json"], "--config"),
        (["demo", "--source", "{tmp}/nodir"], "argument --source: "),
        (["demo", "--source", "{tmp}/event.json"], "not a directory"),
        (["bench", "{tmp}/nope.jpg"], "argument images: "),
    ],
)
def test_bad_path_flags_are_usage_errors(tmp_path, args, needle):
    (tmp_path / "event.json").write_text("{}")
    done = imgpipe(*(a.format(tmp=tmp_path) for a in args), env=ENV)
    assert done.returncode == 2
    assert_one_line(done, needle)
    assert done.stdout == ""


def test_binary_config_file_is_one_line(tmp_path, three):
    done = imgpipe("process", str(three[0]), "--out", str(tmp_path), "--config", str(three[0]))
    assert done.returncode == 2
    assert_one_line(done, f"--config {three[0]}: not UTF-8 text")


def test_demo_refuses_a_work_dir_it_did_not_make(tmp_path):
    mine = tmp_path / "holiday"
    mine.mkdir()
    (mine / "beach.jpg").write_bytes(b"precious")
    done = imgpipe("demo", "--work-dir", str(mine))
    assert done.returncode == 2
    assert_one_line(done, f"--work-dir {mine}: ", "beach.jpg")
    assert (mine / "beach.jpg").read_bytes() == b"precious"  # nothing deleted


# ---------------------------------------------------------------- numeric flags

BAD_NUMBERS = [
    ([*COST[:2], "nan", *COST[3:]], "--requests"),
    ([*COST[:2], "-1", *COST[3:]], "--requests"),
    ([*COST[:2], "2.5", *COST[3:]], "--requests"),
    ([*COST[:4], "nan", *COST[5:]], "--memory-mb"),
    ([*COST[:4], "0", *COST[5:]], "--memory-mb"),
    ([*COST[:4], "1e400", *COST[5:]], "--memory-mb"),
    ([*COST[:6], "inf"], "--duration-ms"),
    ([*COST[:6], "-200"], "--duration-ms"),
    ([*COST, "--egress-gib", "-inf"], "--egress-gib"),
    ([*COST, "--ecs-monthly-cny", "NaN"], "--ecs-monthly-cny"),
    ([*COST, "--rate-invocations", "-0.01"], "--rate-invocations"),
    ([*COST, "--rate-gib-second", "inf"], "--rate-gib-second"),
    ([*COST, "--rate-egress", "abc"], "--rate-egress"),
    ([*COST, "--free-invocations", "-5"], "--free-invocations"),
    ([*COST, "--free-gib-seconds", "nan"], "--free-gib-seconds"),
    ([*COST, "--views", "-1"], "--views"),
    ([*COST, "--month", "0"], "--month"),
    ([*COST, "--serving", "ftp"], "--serving"),
    ([*COST, "--variant-bytes", "1000,x"], "--variant-bytes"),
    ([*COST, "--variant-bytes", ","], "--variant-bytes"),
    ([*COST, "--source-bytes", "0"], "--source-bytes"),
    ([*COST, "--dead-letter-fraction", "1.5"], "--dead-letter-fraction"),
    ([*COST, "--variants-ia-days", "29"], "--variants-ia-days"),
    ([*COST, "--usd-cny", "0"], "--usd-cny"),
    ([*COST, "--rate-oss-ia", "0.1EUR"], "--rate-oss-ia"),
    ([*COST, "--rate-cdn", "nan"], "--rate-cdn"),
    ([*COST, "--log-bytes", "-1"], "--log-bytes"),
    (["demo", "--monthly", "-5"], "--monthly"),
    (["demo", "--monthly", "inf"], "--monthly"),
    (["bench", "--repeat", "0"], "--repeat"),
    (["bench", "--methods", "core,fast"], "--methods"),
]


@pytest.mark.parametrize(
    ("args", "flag"), BAD_NUMBERS, ids=lambda x: " ".join(x) if isinstance(x, list) else x
)
def test_bad_numeric_flag_is_one_line_naming_it_before_any_work(tmp_path, args, flag):
    done = imgpipe(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert_one_line(done, f"error: argument {flag}: ")
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no work started (the demo writes .demo/)


def _numeric_actions():
    top = parser()
    (sub,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        for action in command._actions:
            yield name, action


def test_no_flag_takes_an_unchecked_number():
    # int and float accept nan, inf and negatives: every flag uses a checked type
    unchecked = [
        f"{name} {action.option_strings or action.dest}"
        for name, action in _numeric_actions()
        if action.type in (int, float)
    ]
    assert unchecked == []
    flags = {f"{n} {a.option_strings[0]}" for n, a in _numeric_actions() if a.option_strings}
    assert {flag for _, flag in BAD_NUMBERS} <= {f.split()[1] for f in flags}


# ---------------------------------------------------------------- cost output


def _strict_json(text: str):
    def refuse(constant):
        raise AssertionError(f"invalid JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_cost_json_stays_finite_at_the_flags_limits():
    done = imgpipe(
        "cost", "--requests", "1000000000000000", "--memory-mb", "1048576",
        "--duration-ms", "86400000", "--egress-gib", "1e12", "--rate-gib-second", "1e6",
        "--rate-invocations", "1e6", "--rate-egress", "1e6", "--ecs-monthly-cny", "1e12",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = _strict_json(done.stdout)
    assert out["total_cny"] > 1e20


def test_cost_when_an_instance_is_never_cheaper():
    free = ["--rate-invocations", "0", "--rate-gib-second", "0", "--rate-egress", "0"]
    done = imgpipe(*COST, *free, "--ecs-monthly-cny", "100", "--json")
    assert done.returncode == 0, done.stderr
    out = _strict_json(done.stdout)
    assert out["total_cny"] == 0 and out["crossover_requests"] is None
    done = imgpipe(*COST, *free, "--ecs-monthly-cny", "100")
    assert done.returncode == 0, done.stderr
    assert "never cheaper" in done.stdout
    assert "-0.00" not in done.stdout and "nan" not in done.stdout
