"""The Store protocol: the deployment (compare-and-swap), the hash-chained append-only audit log,
operations, and the deploy lock. SQLite (sqlite.py) is the embedded default; PostgreSQL (postgres.py)
is the shared one. Both pass turnout.testing.contracts.StoreContract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from turnout.events import AuditEvent
from turnout.model import ApiToken, Deployment, LockInfo, Operation, TrafficPoint

TRAFFIC_KEEP = 7 * 24 * 3600.0  # a week of traffic points: reports of last week's deploys


@runtime_checkable
class Store(Protocol):
    def load(self, app: str) -> Deployment:
        """The stored deployment (a new one, revision 0, for an app never seen)."""

    def save(self, deployment: Deployment) -> Deployment:
        """Write if the stored revision equals deployment.revision (else StaleState); return it with revision + 1."""

    def append(self, event: AuditEvent) -> AuditEvent:
        """Append to the audit log; return the entry with its id and time. Entries are never changed."""

    def history(self, app: str, limit: int = 100) -> list[AuditEvent]:
        """The last `limit` entries of `app`, oldest first."""

    def verify(self) -> list[str]:
        """Every break of the audit log's hash chain (and removed guards), as sentences; [] when intact."""

    def save_operation(self, op: Operation) -> Operation:
        """Insert or update an operation by id; return it with its times."""

    def operations(self, app: str, limit: int = 20) -> list[Operation]:
        """The most recently updated operations of `app`, newest first."""

    def record_traffic(self, app: str, points: Sequence[TrafficPoint], keep: float = TRAFFIC_KEEP) -> None:
        """Add traffic points; points older than `keep` seconds go (they are not audit evidence)."""

    def traffic(self, app: str, since: float, until: float | None = None) -> list[TrafficPoint]:
        """Points with since <= at <= until, oldest first."""

    def save_token(self, token: ApiToken) -> None:
        """Add an API token; UsageError if its name is taken."""

    def tokens(self) -> list[ApiToken]: ...

    def revoke_token(self, name: str) -> bool:
        """Remove the token named `name`; False if there was none."""

    def acquire_lock(self, app: str, holder: str, purpose: str = "") -> LockInfo:
        """Take the deploy lock (the holder may take it again); LockHeld if a live other holder has it."""

    def release_lock(self, app: str, holder: str) -> None:
        """Release it if `holder` holds it."""

    def lock_info(self, app: str) -> LockInfo | None:
        """Who holds the lock, if a live holder does."""

    def close(self) -> None: ...
