#!/usr/bin/env python3
"""Exchange the job's GitHub OIDC token for temporary Alibaba Cloud credentials.

No long-lived keys: GitHub issues the job an OIDC token (the job needs
`permissions: id-token: write`), and STS `AssumeRoleWithOIDC`, which needs
no AccessKey of its own, trades it for credentials of a RAM role whose
trust policy names this repository (and, for apply, the protected
environment). The credentials are masked and exported to the following
steps under the names the alicloud provider and the OSS backend read.

Fallback (documented in the README): with no role configured, long-lived
keys from the repository's secrets are exported instead, with a warning.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone

AUDIENCE = "sts.aliyuncs.com"
DEFAULT_STS = "https://sts.aliyuncs.com/"


def github_oidc_token(env: dict[str, str]) -> str:
    url, bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise SystemExit("alicloud_oidc: no OIDC token available: the job needs `id-token: write`")
    sep = "&" if "?" in url else "?"
    req = urllib.request.Request(
        f"{url}{sep}audience={urllib.parse.quote(AUDIENCE)}",
        headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)["value"]


def assume_role(env: dict[str, str], token: str) -> dict[str, str]:
    params = {
        "Action": "AssumeRoleWithOIDC",
        "Format": "JSON",
        "Version": "2015-04-01",
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": env["ALIBABA_CLOUD_ROLE_ARN"],
        "OIDCProviderArn": env["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"],
        "OIDCToken": token,
        "RoleSessionName": env.get("ROLE_SESSION_NAME", "github-actions")[:64],
        "DurationSeconds": env.get("DURATION_SECONDS", "3600"),
    }
    req = urllib.request.Request(
        env.get("ALIBABA_CLOUD_STS_ENDPOINT", DEFAULT_STS),
        data=urllib.parse.urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise SystemExit(
            f"alicloud_oidc: AssumeRoleWithOIDC failed: HTTP {exc.code} {detail}"
        ) from None
    creds = body.get("Credentials") or {}
    if not creds.get("AccessKeyId"):
        raise SystemExit(f"alicloud_oidc: unexpected STS answer: {str(body)[:300]}")
    return {
        "id": creds["AccessKeyId"],
        "secret": creds["AccessKeySecret"],
        "token": creds["SecurityToken"],
    }


def export(creds: dict[str, str], github_env: str, out=None) -> None:
    out = out or sys.stdout
    for value in creds.values():
        if value:
            print(f"::add-mask::{value}", file=out)
    names = {
        "id": ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY"),
        "secret": ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALICLOUD_SECRET_KEY"),
        "token": ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALICLOUD_SECURITY_TOKEN"),
    }
    with open(github_env, "a", encoding="utf-8") as fh:
        for key, value in creds.items():
            if value:
                for name in names[key]:
                    fh.write(f"{name}={value}\n")


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    github_env = env.get("GITHUB_ENV")
    if not github_env:
        raise SystemExit("alicloud_oidc: GITHUB_ENV is not set (run inside GitHub Actions)")
    if env.get("ALIBABA_CLOUD_ROLE_ARN") and env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN"):
        export(assume_role(env, github_oidc_token(env)), github_env)
        print("alicloud_oidc: assumed", env["ALIBABA_CLOUD_ROLE_ARN"], "through OIDC")
        return 0
    if env.get("FALLBACK_ACCESS_KEY_ID") and env.get("FALLBACK_ACCESS_KEY_SECRET"):
        print("::warning::no OIDC role configured: using long-lived keys from secrets (README: CI)")
        export(
            {
                "id": env["FALLBACK_ACCESS_KEY_ID"],
                "secret": env["FALLBACK_ACCESS_KEY_SECRET"],
                "token": "",
            },
            github_env,
        )
        return 0
    raise SystemExit(
        "alicloud_oidc: set the environment variables ALIBABA_CLOUD_ROLE_ARN and "
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN (README: CI), or the fallback secrets"
    )


if __name__ == "__main__":
    sys.exit(main())
