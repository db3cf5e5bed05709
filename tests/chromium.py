"""Open a local page in real headless Chromium and report what a person would see.

No driver library: Chromium speaks the DevTools protocol over a pipe
(`--remote-debugging-pipe`: it reads commands on fd 3 and writes replies
and events on fd 4, each a JSON message ending in NUL). `load` navigates
to a file:// URL, waits for the load event, collects console errors,
uncaught exceptions and failed requests, asks every <img> whether it
decoded (`complete && naturalWidth > 0`), and takes a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]


def find() -> str | None:
    """The chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads
    images: list[dict] = field(default_factory=list)  # {src, complete, naturalWidth, ...}
    screenshot: bytes = b""
    title: str = ""
    values: dict = field(default_factory=dict)  # name -> JSON value of each `expressions` entry


def _stderr():
    path = os.environ.get("IMGPIPE_CHROMIUM_LOG")
    return open(path, "ab") if path else subprocess.DEVNULL


class _Pipe:
    def __init__(self, binary: str, profile: str) -> None:
        to_child_r, self._w = os.pipe()  # we write commands, Chromium reads fd 3
        self._r, from_child_w = os.pipe()  # Chromium writes fd 4, we read

        # the pipe ends must be fds 3 and 4 in Chromium: bash moves them there
        # (not sh: dash takes single-digit fds only, and ours may be 10 or more)
        move = f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w}'
        self.proc = subprocess.Popen(
            ["bash", "-c", move, binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_child_r, from_child_w),
            stdout=subprocess.DEVNULL,
            stderr=_stderr(),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._next())
        raise TimeoutError(f"no {method} within {timeout} s")

    def _next(self) -> dict:
        while b"\0" not in self._buf:
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
        os.close(self._w)
        os.close(self._r)


_IMAGES = """JSON.stringify([...document.images].map(i => ({
  src: i.getAttribute('src'), complete: i.complete, naturalWidth: i.naturalWidth,
  naturalHeight: i.naturalHeight, width: i.width, height: i.height})))"""


def load(
    path: Path, binary: str, *, width: int = 1600, expressions: dict[str, str] | None = None
) -> Page:
    """Load `path` (file://) and return what happened; a full-page screenshot too.

    `expressions`: name -> a JavaScript expression that returns a JSON string,
    evaluated after the load; the parsed values are in `Page.values`."""
    # Chromium's helper processes can still be writing the profile when the
    # browser has exited ("Directory not empty: 'Default'" failed a make test
    # once): the clean-up must not fail the test.
    with tempfile.TemporaryDirectory(
        prefix="imgpipe-chromium-", ignore_cleanup_errors=True
    ) as profile:
        pipe = _Pipe(binary, profile)
        try:
            target = pipe.send("Target.createTarget", url="about:blank")["targetId"]
            session = pipe.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.send(f"{domain}.enable", session)
            pipe.send(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=1000,
                deviceScaleFactor=1,
                mobile=False,
            )
            pipe.send("Page.navigate", session, url=path.resolve().as_uri())
            pipe.wait_for("Page.loadEventFired", timeout=60)
            page = Page()
            value = pipe.send("Runtime.evaluate", session, expression=_IMAGES, returnByValue=True)
            page.images = json.loads(value["result"]["value"])
            for name, expression in (expressions or {}).items():
                got = pipe.send(
                    "Runtime.evaluate", session, expression=expression, returnByValue=True
                )
                page.values[name] = json.loads(got["result"]["value"])
            page.title = pipe.send(
                "Runtime.evaluate", session, expression="document.title", returnByValue=True
            )["result"]["value"]
            shot = pipe.send(
                "Page.captureScreenshot", session, format="png", captureBeyondViewport=True
            )
            page.screenshot = base64.b64decode(shot["data"])
            page.errors = _errors(pipe.events)
            return page
        finally:
            pipe.close()


def _errors(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value")) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            out.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed":
            out.append(f"load failed: {params.get('errorText')} ({params.get('requestId')})")
    return out
