"""Real Terraform against the stand-in alicloud provider, and a stand-in for
GitHub's REST API, for the CI tests (test helper).

One `tests/tfprovider/provider.py --reattach` process per test module,
`terraform init` in a temporary copy with local state: the same plumbing as
tests/test_terraform_real.py (read tests/tfprovider/README.md), kept small
so the CI tests need nothing from that module.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imgpipe import REPO_ROOT

TERRAFORM = shutil.which("terraform")
STANDIN = REPO_ROOT / "tests" / "tfprovider"


@contextmanager
def standin(workdir: Path) -> Iterator[dict[str, str]]:
    """Start the stand-in; yield the environment terraform needs to use it."""
    proc = subprocess.Popen(
        [sys.executable, str(STANDIN / "provider.py"), "--reattach"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("{"):
            raise RuntimeError(f"the stand-in provider did not start: {line}")
        rc = workdir / "cli.tfrc"
        rc.write_text(
            "provider_installation {\n  dev_overrides {\n"
            f'    "aliyun/alicloud" = "{STANDIN}"\n  }}\n  direct {{}}\n}}\n'
        )
        yield {
            **os.environ,
            "TF_REATTACH_PROVIDERS": line.strip(),
            "TF_CLI_CONFIG_FILE": str(rc),
            "IMGPIPE_TFPROVIDER_PYTHON": sys.executable,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def terraform(env: dict[str, str], workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TERRAFORM or "terraform", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args}:\n{(done.stdout + done.stderr)[-4000:]}"
    return done


def copy_example(name: str, dest: Path) -> Path:
    """A copy of examples/<name> in `dest`, with local state (run `init` next)."""
    ignore = shutil.ignore_patterns(".terraform*")
    shutil.copytree(REPO_ROOT / "examples" / name, dest, ignore=ignore)
    (dest / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    return dest


def var_args(variables: dict[str, object]) -> list[str]:
    return [f"-var={k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in variables.items()]


def planned(env: dict[str, str], workdir: Path, variables: dict[str, object]) -> dict:
    """`terraform show -json` of a plan of `workdir`: {address: planned values}."""
    ok(terraform(env, workdir, "plan", "-out=t.tfplan", *var_args(variables)))
    shown = json.loads(ok(terraform(env, workdir, "show", "-json", "t.tfplan")).stdout)
    return {r["address"]: r["change"]["after"] for r in shown["resource_changes"]}


class JsonApi(http.server.BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON (`_send`): GitHub's REST API
    and the STS stand-in in the CI tests subclass it with their endpoints."""

    def log_message(self, *args):
        pass

    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` on a loopback port, in a thread; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
