"""The Store protocol: current deployment (compare-and-swap), append-only audit log, deploy lock."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from turnout.events import AuditEvent
from turnout.model import Deployment, LockInfo


@runtime_checkable
class Store(Protocol):
    def load(self, app: str) -> Deployment: ...

    def save(self, deployment: Deployment) -> Deployment:
        """Write if the stored revision equals deployment.revision; return it with revision + 1."""

    def append(self, event: AuditEvent) -> AuditEvent: ...

    def history(self, app: str, limit: int = 100) -> list[AuditEvent]: ...

    def acquire_lock(self, app: str, holder: str, purpose: str = "") -> LockInfo: ...

    def release_lock(self, app: str, holder: str) -> None: ...

    def lock_info(self, app: str) -> LockInfo | None: ...

    def close(self) -> None: ...

