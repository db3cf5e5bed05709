"""A URL a browser can read a private object through: an OSS V1 signed URL.

`variant_url` signs a GET for one key of a bucket, valid `expires` seconds,
with the caller's credentials (an STS token goes with the URL as
`security-token`). The signing is oss2's own (`Bucket.sign_url`): the
query-string form of OSS's V1 signature, `OSSAccessKeyId`, `Expires`,
`Signature` ("Include a V1 signature in a URL",
https://www.alibabacloud.com/help/en/oss/developer-reference/ddd-signatures-to-urls).
It makes no request: it works offline, against OSS or against the demo's
local stand-in (an IP endpoint, which oss2 addresses path-style:
`http://127.0.0.1:PORT/<bucket>/<key>?...`), which checks the signature
and the expiry as OSS does (`imgpipe.cloud.upload_standin`).

The demo's upload page reads its variants through these URLs, and so can
an app's server, until the serving option (CDN, `imgpipe url`) is wired to
it (issue 25).
"""

from __future__ import annotations

from dataclasses import dataclass

# OSS's V1 signed URL: "the validity period ... maximum value: 7 days" for
# STS; a URL for a page view needs minutes. The cap keeps a typo from
# printing a URL valid for a year.
MAX_EXPIRES_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Signer:
    """Credentials and an endpoint: what signing needs, nothing it fetches."""

    endpoint: str  # https://oss-<region>.aliyuncs.com, or http://127.0.0.1:PORT
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def bucket(self, name: str):
        import oss2

        if self.security_token:
            auth = oss2.StsAuth(self.access_key_id, self.access_key_secret, self.security_token)
        else:
            auth = oss2.Auth(self.access_key_id, self.access_key_secret)
        return oss2.Bucket(auth, self.endpoint, name)


def variant_url(signer: Signer, bucket: str, key: str, expires: int) -> str:
    """A GET URL for `bucket/key`, valid `expires` seconds from now."""
    if not 1 <= expires <= MAX_EXPIRES_S:
        raise ValueError(f"expires {expires}: from 1 to {MAX_EXPIRES_S} seconds (7 days)")
    return signer.bucket(bucket).sign_url("GET", key, expires, slash_safe=True)
