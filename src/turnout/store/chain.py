"""The audit log's hash chain: every entry carries the hash of the one before it, so a rewritten,
removed or reordered entry breaks the chain where it happened (`turnout history --verify`).

One chain per store (all apps), in id order. An entry is stored as its JSON body, and the hash covers
those exact bytes, so verifying never depends on how a value re-encodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from turnout.events import AuditEvent

GENESIS = "0" * 64
_DECODE = msgspec.json.Decoder(AuditEvent)


def body_of(event: AuditEvent) -> str:
    """The stored form of an entry: its JSON, without the id the store gives it."""
    return msgspec.json.encode(msgspec.structs.replace(event, id=None)).decode()


def entry_hash(prev: str, body: str) -> str:
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def decode(entry_id: int, body: str) -> AuditEvent:
    return msgspec.structs.replace(_DECODE.decode(body), id=entry_id)


@dataclass(frozen=True)
class Link:
    id: int
    app: str  # the indexed column, which must agree with the body
    body: str
    prev_hash: str
    hash: str


def verify(links: Iterable[Link]) -> list[str]:
    """Every break in the chain, as a sentence naming the entry; [] when it holds."""
    problems, prev = [], GENESIS
    for link in links:
        if link.prev_hash != prev:
            problems.append(f"entry {link.id}: does not follow the entry before it (one was removed, inserted or "
                            "reordered)")
        if entry_hash(link.prev_hash, link.body) != link.hash:
            problems.append(f"entry {link.id}: its content was changed after it was written")
        else:
            try:
                if decode(link.id, link.body).app != link.app:
                    problems.append(f"entry {link.id}: filed under app {link.app!r}, written for another")
            except msgspec.DecodeError:
                problems.append(f"entry {link.id}: unreadable")
        prev = link.hash
    return problems
