"""Signed deliveries: a receiver can tell a body came from this turnout, unchanged, and recently.

    X-Turnout-Timestamp: 1767225600                   (unix seconds when this attempt was sent)
    X-Turnout-Signature: sha256=<hex of HMAC-SHA256(secret, "1767225600." + body)>

The timestamp is inside the signed bytes, so a captured request cannot be replayed later with a
new time: receivers refuse a timestamp older than their tolerance (five minutes here) and may
drop a repeated X-Turnout-Delivery id. Each retry is signed again with its own timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE, TIMESTAMP = "X-Turnout-Signature", "X-Turnout-Timestamp"
TOLERANCE = 300.0


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def headers(secret: bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    ts = int(now if now is not None else time.time())
    return {TIMESTAMP: str(ts), SIGNATURE: signature(secret, ts, body)}


def verify(secret: bytes, body: bytes, timestamp: str, signed: str, *, now: float | None = None,
           tolerance: float = TOLERANCE) -> bool:
    """What a receiver written in Python runs: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), signed)
