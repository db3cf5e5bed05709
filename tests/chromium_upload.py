"""Drive the demo's upload page in real headless Chromium: choose a file, press Upload.

Built on `tests/chromium.py`'s DevTools pipe (no driver library). The page
is loaded over HTTP from `imgpipe upload-page`'s app server; the file is
set on the page's `<input type=file>` as a person choosing it would
(`DOM.setFileInputFiles`); then the page's own script runs: policy, POST to
the bucket stand-in, polling, variants. `upload` waits for the page's
`data-state` to settle and reports what a person would see.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from chromium import _IMAGES, _errors, _Pipe

SETTLED = ("ready", "rejected", "failed")


@dataclass
class Result:
    state: str
    status: str
    log: str
    images: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # {url, method, status}


def upload(url: str, photo: Path, binary: str, *, timeout: float = 120.0) -> Result:
    with tempfile.TemporaryDirectory(
        prefix="imgpipe-chromium-", ignore_cleanup_errors=True
    ) as profile:
        pipe = _Pipe(binary, profile)
        try:
            target = pipe.send("Target.createTarget", url="about:blank")["targetId"]
            session = pipe.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network", "DOM"):
                pipe.send(f"{domain}.enable", session)
            pipe.send("Page.navigate", session, url=url)
            pipe.wait_for("Page.loadEventFired", timeout=60)

            def evaluate(expression: str):
                got = pipe.send(
                    "Runtime.evaluate", session, expression=expression, returnByValue=True
                )
                return got["result"].get("value")

            root = pipe.send("DOM.getDocument", session)["root"]["nodeId"]
            node = pipe.send("DOM.querySelector", session, nodeId=root, selector="#file")["nodeId"]
            pipe.send("DOM.setFileInputFiles", session, nodeId=node, files=[str(photo.resolve())])
            evaluate("document.getElementById('go').click()")
            deadline = time.monotonic() + timeout
            state = evaluate("document.body.dataset.state")
            while state not in SETTLED and time.monotonic() < deadline:
                time.sleep(0.2)
                state = evaluate("document.body.dataset.state")
            return Result(
                state=state,
                status=evaluate("document.getElementById('status').textContent"),
                log=evaluate("document.getElementById('log').textContent"),
                images=json.loads(evaluate(_IMAGES)),
                errors=_errors(pipe.events),
                requests=_requests(pipe.events),
            )
        finally:
            pipe.close()


def _requests(events: list[dict]) -> list[dict]:
    """Every request the page sent, with its answer's status (None if none came)."""
    out: dict[str, dict] = {}
    for ev in events:
        params = ev.get("params", {})
        if ev.get("method") == "Network.requestWillBeSent":
            request = params["request"]
            out[params["requestId"]] = {
                "id": params["requestId"],
                "url": request["url"],
                "method": request["method"],
                "status": None,
            }
        elif ev.get("method") == "Network.responseReceived" and params["requestId"] in out:
            out[params["requestId"]]["status"] = params["response"]["status"]
    return list(out.values())
