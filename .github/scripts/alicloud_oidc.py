#!/usr/bin/env python3
"""Exchange the job's GitHub OIDC token for temporary Alibaba Cloud credentials.

No long-lived keys: GitHub issues the job an OIDC token (the job needs
`permissions: id-token: write`), and STS `AssumeRoleWithOIDC`, which needs
no AccessKey of its own, trades it for credentials of a RAM role whose
trust policy names this repository and the job's GitHub environment. The
credentials are masked and given to ONE command, run by this script
(`alicloud_oidc.py terraform apply ...`), in its environment only, under
the names the alicloud provider and the OSS backend read (the names
aliyun/configure-aliyun-credentials-action exports, index.js `setOutput`).
They are never written to `$GITHUB_ENV`, which hands a value to every later
step of the job: no later step, and no code installed by one, ever holds
them (issue 23, gap 10). Each step that needs them asks again; GitHub issues
a new OIDC token for every request.

The request is built the way Alibaba's own credential clients build it
(aliyun/credentials-nodejs, src/providers/oidc_role_arn.ts,
`getCredentialsInternal`, which configure-aliyun-credentials-action calls):
Action, Version, Format and Timestamp in the query string; OIDCProviderArn,
OIDCToken, RoleArn, RoleSessionName and DurationSeconds as a form body.

There is no fallback to long-lived keys (issue 17, point 4): repository
secrets are readable by a workflow on any branch, so a key there would
bypass the protected environment the apply role is tied to.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

AUDIENCE = "sts.aliyuncs.com"
DEFAULT_STS = "https://sts.aliyuncs.com/"


def sts_endpoint(env: dict[str, str]) -> str:
    """ALIBABA_CLOUD_STS_ENDPOINT (default DEFAULT_STS), refused unless https or loopback.

    The request carries the job's OIDC token, which any host that reads it
    can trade for the role's credentials for as long as the token lives. So
    the endpoint must be https:// (any STS endpoint, sts-vpc.* included), or
    http:// to this machine's loopback only: the stand-in the tests serve
    on 127.0.0.1, where the token never crosses a network. Anything else,
    http:// to any other host or a name without a scheme, stops the step
    before GitHub is asked for a token (docs/ci.md, "The STS request").
    """
    endpoint = env.get("ALIBABA_CLOUD_STS_ENDPOINT") or DEFAULT_STS
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return endpoint
    if parts.scheme == "http" and _loopback(parts.hostname):
        return endpoint
    raise SystemExit(
        f"alicloud_oidc: ALIBABA_CLOUD_STS_ENDPOINT {endpoint!r} is not an https:// URL: the "
        "OIDC token it would carry could be read on the way. Leave it unset (the default is "
        f'{DEFAULT_STS}) or give an https:// STS endpoint (docs/ci.md, "The STS request")'
    )


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def github_oidc_token(env: dict[str, str]) -> str:
    url, bearer = env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise SystemExit("alicloud_oidc: no OIDC token available: the job needs `id-token: write`")
    sep = "&" if "?" in url else "?"
    req = urllib.request.Request(
        f"{url}{sep}audience={urllib.parse.quote(AUDIENCE)}",
        headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.load(resp)["value"]
    except (urllib.error.URLError, TimeoutError, ValueError, KeyError) as exc:
        raise SystemExit(f"alicloud_oidc: GitHub gave no OIDC token: {exc}") from None


def sts_request(env: dict[str, str], token: str, *, now: datetime | None = None):
    """The AssumeRoleWithOIDC request: common parameters in the query, the rest in the body."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = {
        "Version": "2015-04-01",
        "Action": "AssumeRoleWithOIDC",
        "Format": "JSON",
        "Timestamp": stamp,
    }
    form = {
        "OIDCProviderArn": env["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"],
        "OIDCToken": token,
        "RoleArn": env["ALIBABA_CLOUD_ROLE_ARN"],
        "RoleSessionName": env.get("ROLE_SESSION_NAME", "github-actions")[:64],
        "DurationSeconds": env.get("DURATION_SECONDS", "3600"),
    }
    endpoint = sts_endpoint(env)
    sep = "&" if "?" in endpoint else "?"
    return urllib.request.Request(
        f"{endpoint}{sep}{urllib.parse.urlencode(query)}",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def assume_role(env: dict[str, str], token: str) -> dict[str, str]:
    req = sts_request(env, token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise SystemExit(
            f"alicloud_oidc: AssumeRoleWithOIDC failed: HTTP {exc.code} {detail} (docs/ci.md: "
            "the subject, audience and fingerprint are checked against steps 2-4)"
        ) from None
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise SystemExit(f"alicloud_oidc: no usable answer from STS: {exc}") from None
    creds = body.get("Credentials") or {}
    if not creds.get("AccessKeyId"):
        raise SystemExit(f"alicloud_oidc: unexpected STS answer: {str(body)[:300]}")
    return {
        "id": creds["AccessKeyId"],
        "secret": creds["AccessKeySecret"],
        "token": creds["SecurityToken"],
    }


NAMES = {
    "id": ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY"),
    "secret": ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALICLOUD_SECRET_KEY"),
    "token": ("ALIBABA_CLOUD_SECURITY_TOKEN", "ALICLOUD_SECURITY_TOKEN"),
}


def credential_env(creds: dict[str, str]) -> dict[str, str]:
    """The variables that carry `creds`, after masking every value in the job's log."""
    for value in creds.values():
        if value:
            print(f"::add-mask::{value}")
    sys.stdout.flush()
    return {name: value for key, value in creds.items() if value for name in NAMES[key]}


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    env = dict(os.environ if env is None else env)
    if not argv:
        raise SystemExit(
            "alicloud_oidc: give the command to run with the credentials, e.g. "
            "`python3 .github/scripts/alicloud_oidc.py terraform plan ...`"
        )
    if not (env.get("ALIBABA_CLOUD_ROLE_ARN") and env.get("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")):
        raise SystemExit(
            "alicloud_oidc: set ALIBABA_CLOUD_OIDC_PROVIDER_ARN (repository variable) and "
            "ALIBABA_CLOUD_ROLE_ARN (variable of the job's GitHub environment) from the "
            "outputs of examples/ci-oidc (docs/ci.md, step 4)"
        )
    sts_endpoint(env)  # refused before GitHub issues a token for it
    creds = credential_env(assume_role(env, github_oidc_token(env)))
    print("alicloud_oidc: assumed", env["ALIBABA_CLOUD_ROLE_ARN"], "through OIDC for", argv[0])
    sys.stdout.flush()
    try:
        return subprocess.run(argv, env={**env, **creds}, check=False).returncode
    except OSError as exc:
        raise SystemExit(f"alicloud_oidc: cannot run {argv[0]}: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
