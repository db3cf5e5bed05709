"""MNS, the dead-letter queue's service, over its REST API: one client.

`imgpipe smoke` waits for its drill's dead letter with it, and `imgpipe
redrive` reads and deletes dead letters with it (through
`imgpipe.cloud.deadletters.MnsDeadLetters`). Requests are signed as MNS's
"Sign requests" page says (`mns_signature`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

from imgpipe.cloud.credentials import Credentials
from imgpipe.cloud.errors import MnsError, SetupError

MNS_VERSION = "2015-06-06"


MNS_NS = "{http://mns.aliyuncs.com/doc/v1/}"


def mns_signature(secret: str, method: str, headers: dict[str, str], resource: str) -> str:
    """MNS "Sign requests": base64(HMAC-SHA1(secret, string-to-sign))."""
    lower = {k.lower(): v for k, v in headers.items()}
    mns_headers = "".join(f"{k}:{lower[k]}\n" for k in sorted(lower) if k.startswith("x-mns-"))
    to_sign = "\n".join(
        [method, lower.get("content-md5", ""), lower.get("content-type", ""), lower["date"]]
    )
    to_sign += "\n" + mns_headers + resource
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Message:
    receipt_handle: str
    body: str
    message_id: str = ""
    enqueue_ms: int | None = None  # EnqueueTime, ms since the epoch
    dequeue_count: int | None = None


@dataclass
class MnsQueue:
    """The three queue operations the smoke test needs, over MNS's REST API."""

    endpoint: str  # https://<account>.mns.<region>.aliyuncs.com
    queue: str
    credentials: Credentials
    timeout: float = 40
    session: Any = field(default=None, repr=False)

    def _call(self, method: str, query: dict[str, str], *, ok: tuple[int, ...]) -> Any:
        import requests

        self.session = self.session or requests.Session()
        resource = f"/queues/{quote(self.queue)}/messages"
        if query:
            # Values go in as they are, as the MNS SDK does: a receipt handle is
            # base64-like ("1-ODU4...=="), and the signed resource must be the
            # URI the server sees.
            resource += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        headers = {"Date": formatdate(usegmt=True), "x-mns-version": MNS_VERSION}
        signature = mns_signature(self.credentials.access_key_secret, method, headers, resource)
        headers["Authorization"] = f"MNS {self.credentials.access_key_id}:{signature}"
        if self.credentials.security_token:
            # STS credentials: Alibaba's own MNS SDK sends the token as
            # `security-token`, after signing, outside the signed x-mns-* headers
            # (aliyun-mns-sdk 1.3.0, mns/mns_client.py, `build_header`). This sent
            # `x-mns-security-token` before, which no MNS source names.
            headers["security-token"] = self.credentials.security_token
        try:
            response = self.session.request(
                method, self.endpoint.rstrip("/") + resource, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            msg = f"MNS {self.endpoint} unreachable: {exc}"
            raise SetupError(msg) from exc
        if response.status_code in ok:
            return response
        code = _xml_text(response.content, "Code") or str(response.status_code)
        if code == "MessageNotExist":
            return None
        detail = _xml_text(response.content, "Message") or response.text[:200]
        msg = f"MNS {method} {resource}: {response.status_code} {code}: {detail}"
        raise MnsError(msg, code=code, status=response.status_code)

    def receive(self, wait_seconds: int) -> Message | None:
        response = self._call("GET", {"waitseconds": str(wait_seconds)}, ok=(200,))
        if response is None:
            return None
        root = ET.fromstring(response.content)
        handle = root.findtext(f"{MNS_NS}ReceiptHandle") or root.findtext("ReceiptHandle")
        body = root.findtext(f"{MNS_NS}MessageBody") or root.findtext("MessageBody") or ""
        if not handle:
            msg = f"MNS answered a message without a receipt handle: {response.text[:200]}"
            raise SetupError(msg)
        return Message(handle, body)

    def receive_batch(self, count: int, wait_seconds: int, *, peek: bool = False) -> list[Message]:
        """BatchReceiveMessage (or BatchPeekMessage: no handles, nothing changes); MNS
        returns at most 16 a call."""
        query = {"numOfMessages": str(count)}
        query.update({"peekonly": "true"} if peek else {"waitseconds": str(wait_seconds)})
        response = self._call("GET", query, ok=(200,))
        if response is None:
            return []
        root = ET.fromstring(response.content)
        nodes = root.findall(f"{MNS_NS}Message") or root.findall("Message")
        if not nodes and root.tag.endswith("Message"):
            nodes = [root]
        out = []
        for node in nodes:

            def text(tag: str, node: ET.Element = node) -> str | None:
                return node.findtext(f"{MNS_NS}{tag}") or node.findtext(tag)

            enqueued, dequeues = text("EnqueueTime"), text("DequeueCount")
            out.append(
                Message(
                    receipt_handle=text("ReceiptHandle") or "",
                    body=text("MessageBody") or "",
                    message_id=text("MessageId") or "",
                    enqueue_ms=int(enqueued) if enqueued and enqueued.isdigit() else None,
                    dequeue_count=int(dequeues) if dequeues and dequeues.isdigit() else None,
                )
            )
        return out

    def delete(self, message: Message) -> None:
        self._call("DELETE", {"ReceiptHandle": message.receipt_handle}, ok=(204,))

    def release(self, message: Message) -> None:
        """Make a message that is not ours visible again (almost) at once."""
        query = {"receiptHandle": message.receipt_handle, "visibilityTimeout": "1"}
        self._call("PUT", query, ok=(200,))


def _xml_text(content: bytes, tag: str) -> str | None:
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    return root.findtext(f"{MNS_NS}{tag}") or root.findtext(tag)


def mentions(body: str, needle: str) -> bool:
    """Whether a queued message (raw, or base64 as MNS may store it) names `needle`."""
    if needle in body:
        return True
    try:
        decoded = base64.b64decode(body, validate=True).decode("utf-8", "replace")
    except ValueError:
        return False
    return needle in decoded
