"""The one GitHub REST call the CI scripts make, with the job's token.

Standard library only; shared by plan_comment.py and reviewed_plan.py.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any


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
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)
