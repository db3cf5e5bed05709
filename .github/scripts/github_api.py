"""The one GitHub REST call the CI scripts make, with the job's token.

Standard library only; shared by plan_comment.py, reviewed_plan.py,
verify_plan.py and environment_guard.py. A failed call ends the step with
one line naming the call and GitHub's answer (ApiError is a SystemExit, so
no traceback), never with a half-read answer.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ApiError(SystemExit):
    """A GitHub API call failed; `status` is the HTTP status, or None without an answer."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


def call(method: str, url: str, token: str, payload: dict | None = None) -> Any:
    req = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(payload).encode() if payload is not None else None,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise ApiError(
            f"GitHub API {method} {url}: HTTP {exc.code} {detail} (a 403 or 404 here usually "
            "means the job's `permissions:` lack what this call needs)",
            exc.code,
        ) from None
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
        raise ApiError(f"GitHub API {method} {url}: no usable answer ({exc})", None) from None
