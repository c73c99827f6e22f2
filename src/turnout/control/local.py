"""Builds the drivers named in the config and the status report every command shows."""

from __future__ import annotations

import asyncio
import getpass
import socket
import subprocess
from dataclasses import dataclass, field
from typing import Any

from turnout import plugins
from turnout.checks.base import Check
from turnout.config import CheckConfig, Config
from turnout.engine.journal import Progress
from turnout.engine.orchestrator import Orchestrator
from turnout.errors import ConfigError, TurnoutError
from turnout.migrate import Migrations
from turnout.model import Color
from turnout.notify import Notifier
from turnout.routers.base import Router
from turnout.runtimes.base import Runtime
from turnout.store import SqliteStore
from turnout.store.base import Store


def actor() -> str:
    """Who is acting, for the audit log: the OS user, and the git identity when there is one."""
    user = f"{getpass.getuser()}@{socket.gethostname()}"
    try:
        email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=2,
                               check=False).stdout
    except (OSError, subprocess.SubprocessError):
        email = ""
    return f"{user} ({email.strip()})" if email.strip() else user


def build_checks(cfg: Config) -> list[Check]:
    """readiness and version always run first; then the [[checks]] in file order."""
    entries = [CheckConfig(kind="readiness"), CheckConfig(kind="version"), *cfg.checks]
    checks: list[Check] = []
    for i, cc in enumerate(entries):
        key = f"checks[{i - 2}].kind" if i >= 2 else "health"
        try:
            cls = plugins.load("turnout.checks", cc.kind, key=key)
            checks.append(cls.from_config(cc, cfg))
        except ConfigError as exc:
            raise cfg.located(exc) from None
    return checks


@dataclass
class Stack:
    cfg: Config
    store: Store
    router: Router
    runtime: Runtime
    checks: list[Check]
    notifier: Notifier | None = None
    migrations: Migrations | None = None
    actor: str = field(default_factory=actor)

    @classmethod
    def build(cls, cfg: Config) -> Stack:
        try:
            return cls._build(cfg)
        except ConfigError as exc:
            raise cfg.located(exc) from None

    @classmethod
    def _build(cls, cfg: Config) -> Stack:
        router_cls = plugins.load("turnout.routers", cfg.router.kind, key="router.kind")
        runtime_cls = plugins.load("turnout.runtimes", cfg.runtime.kind, key="runtime.kind")
        if cfg.runtime.kind == "process" and not cfg.runtime.command:
            raise ConfigError("runtime.command: field required for the process runtime")
        if cfg.deploy.steps and not router_cls.can_split:
            raise ConfigError(f"deploy.steps: the {cfg.router.kind} router cannot split traffic")
        state = cfg.state_dir()
        state.mkdir(parents=True, exist_ok=True)
        notifier = Notifier(cfg.webhooks, cfg.hooks, str(cfg.base_dir)) if cfg.webhooks or cfg.hooks else None
        return cls(cfg, SqliteStore(state / "state.db"), router_cls.from_config(cfg), runtime_cls.from_config(cfg),
                   build_checks(cfg), notifier, Migrations.from_config(cfg))

    def orchestrator(self, progress: Progress | None = None, actor: str | None = None,
                     stop_watch: asyncio.Event | None = None) -> Orchestrator:
        orch = Orchestrator(self.cfg, self.store, self.router, self.runtime, self.checks, actor=actor or self.actor,
                            notifier=self.notifier, migrations=self.migrations, stop_watch=stop_watch)
        if progress:
            orch.progress = progress
        return orch

    async def status(self, *, agent: dict[str, Any] | None = None) -> dict[str, Any]:
        dep = self.store.load(self.cfg.app.name)
        envs: dict[str, Any] = {}
        for color in Color:
            st = await self.runtime.status(color)
            envs[color.value] = {"version": dep.version_of(color), "running_version": st.version,
                                 "instances": len(st.instances), "healthy": st.healthy, "warm": dep.warm.get(color),
                                 "endpoints": [i.endpoint.address for i in st.instances]}
        router: dict[str, Any] = {"kind": self.router.kind}
        try:
            seen = await self.router.observe()
            router.update(serving=seen.weights.as_dict(), test=seen.test_color.value,
                          production_url=seen.production_url, test_url=seen.test_url, reachable=True)
        except TurnoutError as exc:
            router.update(serving=None, reachable=False, error=str(exc))
        lock = self.store.lock_info(self.cfg.app.name)
        drift = router.get("serving") not in (None, dep.weights.as_dict())
        warm_old = dep.switched_at is not None and dep.warm.get(dep.idle)
        retire_at = dep.switched_at + self.cfg.deploy.retention if warm_old and dep.switched_at else None
        return {
            "app": self.cfg.app.name, "active": dep.active.value, "idle": dep.idle.value, "phase": dep.phase.value,
            "revision": dep.revision, "environments": envs, "router": router, "stored_weights": dep.weights.as_dict(),
            "drift": drift, "rollback_ready_until": retire_at,
            "lock": {"holder": lock.holder, "since": lock.since, "purpose": lock.purpose} if lock else None,
            "agent": agent or {"running": False},
        }

    async def close(self) -> None:
        await self.runtime.close()
        self.store.close()
