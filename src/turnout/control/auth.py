"""Bearer tokens of the HTTP API: two roles, stored as SHA-256 digests only.

A token is 32 random bytes (urlsafe base64, prefixed `tok_`), so a plain SHA-256 is enough to keep
the stored digest useless to whoever reads the state store (no password-style stretching needed:
nothing to brute-force). Lookups compare digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from turnout.errors import UsageError
from turnout.model import ApiToken
from turnout.store.base import Store

ROLES = ("viewer", "operator")  # viewer reads; operator reads and acts
CACHE = 2.0  # seconds a token list is trusted: a revoked token stops working within this


@dataclass(frozen=True)
class Identity:
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"{self.name} (API token)"

    def may_act(self) -> bool:
        return self.role == "operator"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(store: Store, name: str, role: str, by: str) -> str:
    """A new token: stored as its digest; the secret is returned once and never again."""
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}", name):
        raise UsageError(f"token names are letters, digits and _.@- (up to 64), got {name!r}")
    secret = "tok_" + secrets.token_urlsafe(32)
    store.save_token(ApiToken(name, role, digest(secret), time.time(), by))
    return secret


class TokenBook:
    """Who a presented token is, read from the store (cached for CACHE seconds)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cached: tuple[float, list[ApiToken]] = (0.0, [])

    def identify(self, secret: str) -> Identity | None:
        if not secret.startswith("tok_") or len(secret) > 200:
            return None
        now = time.monotonic()
        if now - self._cached[0] > CACHE:
            self._cached = (now, self.store.tokens())
        wanted = digest(secret)
        found = None
        for token in self._cached[1]:  # every digest compared, in constant time each
            if hmac.compare_digest(token.digest, wanted):
                found = token
        return Identity(found.name, found.role) if found else None
