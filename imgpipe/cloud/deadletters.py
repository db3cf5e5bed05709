"""The dead-letter queue as messages a person can read: the deployed MNS queue
(`MnsDeadLetters`) or the demo's `dead-letters.jsonl` (`FileDeadLetters`),
both with `peek`, `receive` and `delete`.

Two kinds of message reach the queue (README, "Which dead-letter path a
deployed stack uses"), and both are understood (`understand`):

- FC's asynchronous-invocation destination record: the function raised on
  every attempt. `requestPayload` is the original event; `responsePayload`
  holds the error (the *first failure reason* shown); `requestContext` says
  why FC gave up (`RetriesExhausted`, `MaxEventAgeExceeded`) after how many
  attempts. Layer: `function`.
- A raw CloudEvent: EventBridge could not deliver it to FC at all (the
  trigger's `deadLetterQueue`). There is no function error. Layer:
  `eventbridge`.

A body may also arrive base64-encoded (the MNS SDKs' default); it is
decoded first.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fc_handler.events import EventError, parse_event
from fc_handler.localfs import write_atomic
from imgpipe.cloud.errors import MnsError

MNS_BATCH = 16  # MNS's limit for BatchReceiveMessage and BatchPeekMessage


@dataclass(frozen=True)
class DeadLetter:
    """One queued message, understood (or not: `problem` says why)."""

    message_id: str
    layer: str  # "function", "eventbridge" or "?"
    reason: str
    event: bytes | None = None
    objects: tuple[str, ...] = ()  # bucket/key of each record in the event
    age_s: float | None = None
    attempts: int | None = None
    problem: str | None = None

    def line(self) -> str:
        age = _age(self.age_s)
        what = ", ".join(self.objects) or "(no object)"
        tries = f" after {self.attempts} attempts" if self.attempts else ""
        if self.problem:
            return f"{age:>6}  {'?':11}  {self.message_id}  KEPT: {self.problem}"
        return f"{age:>6}  {self.layer:11}  {what}  {self.reason}{tries}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def _json_body(body: str) -> Any:
    """The body as JSON: as it is, or base64-decoded first."""
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        decoded = base64.b64decode(body, validate=True).decode("utf-8")
        return json.loads(decoded)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def understand(
    body: str, *, message_id: str = "", enqueue_ms: int | None = None, now: float | None = None
) -> DeadLetter:
    """Parse one message body; never raises (a problem is reported, not thrown)."""

    now = time.time() if now is None else now
    age = (now - enqueue_ms / 1000) if enqueue_ms else None
    base = {"message_id": message_id, "age_s": age}
    doc = _json_body(body)
    if not isinstance(doc, dict):
        return DeadLetter(layer="?", reason="", problem="not JSON (nor base64 of JSON)", **base)
    attempts = None
    if "requestPayload" in doc:
        layer = "function"
        payload = doc["requestPayload"]
        event = payload if isinstance(payload, str) else json.dumps(payload)
        context = doc.get("requestContext") if isinstance(doc.get("requestContext"), dict) else {}
        attempts = context.get("approximateInvokeCount")
        reason = _error(doc.get("responsePayload"))
        if context.get("condition"):
            reason = f"{reason} ({context['condition']})"
    elif isinstance(doc.get("data"), dict) and ("specversion" in doc or "source" in doc):
        layer, event = "eventbridge", json.dumps(doc)
        reason = "EventBridge could not deliver it to FC (no function error)"
    else:
        keys = ", ".join(sorted(doc)[:6])
        return DeadLetter(
            layer="?",
            reason="",
            problem=f"neither an FC destination record nor a CloudEvent (keys: {keys})",
            **base,
        )
    try:
        records = parse_event(event)
    except EventError as exc:
        return DeadLetter(layer=layer, reason=reason, problem=f"its event: {exc}", **base)
    return DeadLetter(
        layer=layer,
        reason=reason,
        event=event.encode(),
        objects=tuple(f"{r.bucket}/{r.key}" for r in records),
        attempts=attempts if isinstance(attempts, int) else None,
        **base,
    )


def _error(response: Any) -> str:
    if isinstance(response, str):
        try:
            response = json.loads(response)
        except ValueError:
            return response[:200] or "(no error recorded)"
    if isinstance(response, dict):
        kind = response.get("errorType") or response.get("errorCode") or "error"
        return f"{kind}: {str(response.get('errorMessage', ''))[:200]}".rstrip(": ")
    return "(no error recorded)"


@dataclass
class Received:
    letter: DeadLetter
    handle: Any  # what `delete` needs


class MnsDeadLetters:
    """The deployed queue, through `imgpipe.cloud.mns.MnsQueue` (the one MNS client).

    `receive` long-polls `wait_seconds` (1) a batch: the re-drive ends when
    the queue has stayed empty that long, so the end of a run costs a second,
    not the 30 s MNS allows, and a message sent meanwhile is still taken.
    """

    def __init__(self, queue: Any, wait_seconds: int = 1) -> None:
        self.queue = queue
        self.wait_seconds = wait_seconds

    def peek(self) -> list[DeadLetter]:
        return [
            understand(m.body, message_id=m.message_id, enqueue_ms=m.enqueue_ms)
            for m in self.queue.receive_batch(MNS_BATCH, 0, peek=True)
        ]

    def receive(self) -> Iterator[Received]:
        """Batches until the queue is empty or a message comes round again."""
        seen: set[str] = set()
        while True:
            batch = self.queue.receive_batch(MNS_BATCH, self.wait_seconds)
            fresh = [m for m in batch if m.message_id not in seen]
            if not fresh:
                return
            for m in fresh:
                seen.add(m.message_id)
                letter = understand(m.body, message_id=m.message_id, enqueue_ms=m.enqueue_ms)
                yield Received(letter, m)

    def delete(self, handle: Any) -> str | None:
        """None when deleted; otherwise why the message stays."""
        try:
            self.queue.delete(handle)
        except MnsError as exc:
            if exc.code == "ReceiptHandleError":
                return (
                    "re-invoked, but its receipt handle expired before the delete: "
                    "it will be seen again (a second re-invoke finds the work current)"
                )
            return f"re-invoked, but the delete failed: {exc}"
        return None


class FileDeadLetters:
    """The demo's `dead-letters.jsonl`: one MNS message (its fields) a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.deleted: set[int] = set()

    def _lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []

    def _letter(self, i: int, line: str) -> DeadLetter:
        try:
            message = json.loads(line)
            body = message["MessageBody"]
            enqueue = message.get("EnqueueTime")
            mid = str(message.get("MessageId", f"line {i + 1}"))
        except (ValueError, KeyError, TypeError):
            return DeadLetter(f"line {i + 1}", "?", "", problem="not an MNS message")
        return understand(
            body if isinstance(body, str) else json.dumps(body),
            message_id=mid,
            enqueue_ms=enqueue if isinstance(enqueue, int) else None,
        )

    def peek(self) -> list[DeadLetter]:
        return [self._letter(i, line) for i, line in enumerate(self._lines())]

    def receive(self) -> Iterator[Received]:
        for i, line in enumerate(self._lines()):
            yield Received(self._letter(i, line), i)

    def delete(self, handle: int) -> str | None:
        self.deleted.add(handle)
        return None

    def commit(self) -> None:
        """Rewrite the file without the deleted lines (atomically)."""
        kept = [line for i, line in enumerate(self._lines()) if i not in self.deleted]
        if kept:
            write_atomic(self.path, ("\n".join(kept) + "\n").encode())
        else:
            self.path.unlink(missing_ok=True)
        self.deleted.clear()
