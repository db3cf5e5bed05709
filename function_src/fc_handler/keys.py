"""Which object an event's key names, and where its outputs go.

Whether OSS URL-encodes keys in events is documented nowhere we could find,
so both forms are accepted: the key as it arrived, then decoded once
(`%XX`, then also `+` as space). Never twice, so a literal `%25` in a name
stays reachable. When more than one form exists in the bucket, the event's
ETag picks the right one.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_plus


def candidates(raw_key: str) -> list[str]:
    """The forms the real key may take, most literal first, without repeats."""
    out = [raw_key]
    for decode in (unquote, unquote_plus):
        try:
            key = decode(raw_key, errors="strict")
        except UnicodeDecodeError:  # %XX that is not UTF-8: not an encoded key
            continue
        if key not in out:
            out.append(key)
    return out


def relative_to(prefix: str, key: str) -> str:
    return key[len(prefix) :]
