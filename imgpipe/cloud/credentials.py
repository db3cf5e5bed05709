"""The caller's Alibaba Cloud credentials, read once, for OSS, FC and MNS.

From the environment variables Alibaba's SDKs and CLI read
(ALIBABA_CLOUD_ACCESS_KEY_ID, ..._SECRET, and ..._SECURITY_TOKEN for STS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import oss2

from imgpipe.cloud.errors import SetupError


@dataclass
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> Credentials:
        key, secret = (
            env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"),
            env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        )
        if not key or not secret:
            msg = "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
            msg += " (and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials)"
            raise SetupError(msg)
        return cls(key, secret, env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None)

    def oss_auth(self) -> Any:
        """oss2's signer for these credentials (STS when a token is set)."""
        if self.security_token:
            return oss2.StsAuth(self.access_key_id, self.access_key_secret, self.security_token)
        return oss2.Auth(self.access_key_id, self.access_key_secret)
