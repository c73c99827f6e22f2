"""The composition root: builds the drivers the config names, and the status view every command shows.

Each driver class comes from the registry (turnout.plugins), its options are validated by its own
`Options` model with their key path, and it is built with `from_options` and a `DriverEnv`: no
driver ever sees the whole Config. Every config problem found here gets its file line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from turnout import plugins
from turnout.checks.base import Check, CheckDriver
from turnout.config import CheckConfig, Config, parse_options
from turnout.control.api import AgentView, DriftView, EnvView, LockView, OperationView, RouterView, StatusView
from turnout.engine.journal import Progress
from turnout.engine.orchestrator import Orchestrator, SamplerFor
from turnout.errors import ConfigError, TurnoutError, UsageError
from turnout.events import AuditEvent
from turnout.infra.identity import actor
from turnout.migrate import Migrations
from turnout.model import Color
from turnout.notify import Notifier
from turnout.notify.deliverylog import DeliveryLog
from turnout.notify.targets import Target
from turnout.routers.base import Router, RouterDriver
from turnout.runtimes.base import LogSource, Runtime, RuntimeDriver
from turnout.store import SqliteStore
from turnout.store.base import Store

STATE_DB = "state.db"


def state_db(cfg: Config) -> Path:
    """The state store's file: named here once."""
    return cfg.state_dir() / STATE_DB


def open_store(cfg: Config) -> Store:
    """The state store: [state] url (shared PostgreSQL) if set, else state.db in the state folder."""
    if cfg.state.url:
        from turnout.store.postgres import PostgresStore

        url = os.path.expandvars(cfg.state.url)
        if "$" in url:
            raise ConfigError(f"unset environment variable in {cfg.state.url!r}", key=("state", "url"))
        return PostgresStore(url)
    return SqliteStore(state_db(cfg))


def build_router(cfg: Config, cls: type[RouterDriver] | None = None) -> Router:
    """The router the config names (or `cls`), its options validated by its own model."""
    cls = cls or cast(type[RouterDriver], plugins.load("routers", cfg.router.kind, key=("router", "kind")))
    if cfg.deploy.steps and not cls.can_split:
        raise ConfigError(f"the {cfg.router.kind} router cannot split traffic", key=("deploy", "steps"))
    options = parse_options(cls.Options, cfg.router.options, ("router", "options"))
    return cls.from_options(cfg.router, options, cfg.driver_env())


def build_runtime(cfg: Config, cls: type[RuntimeDriver] | None = None) -> Runtime:
    cls = cls or cast(type[RuntimeDriver], plugins.load("runtimes", cfg.runtime.kind, key=("runtime", "kind")))
    options = parse_options(cls.Options, cfg.runtime.options, ("runtime", "options"))
    return cls.from_options(cfg.runtime, options, cfg.driver_env())


def build_check(cfg: Config, entry: CheckConfig, key: tuple[str | int, ...],
                cls: type[CheckDriver] | None = None) -> Check:
    """The check of one [[checks]] entry; every problem is keyed under the entry (`checks[2].max`)."""
    try:
        cls = cls or cast(type[CheckDriver], plugins.load("checks", entry.kind, key=("kind",)))
        options = parse_options(cls.Options, entry.options, ())
        return cls.from_options(entry, options, cfg.driver_env())
    except ConfigError as exc:
        raise cfg.locate(exc.under(*key)) from None


def build_checks(cfg: Config) -> list[Check]:
    """readiness and version (unless `version_path = ""`) run first, from [health]; then the [[checks]]
    in file order."""
    kinds = ("readiness", "version") if cfg.health.version_path else ("readiness",)
    implicit = [build_check(cfg, CheckConfig(kind=kind), ("health",)) for kind in kinds]
    return implicit + [build_check(cfg, entry, ("checks", i)) for i, entry in enumerate(cfg.checks)]


def build_notifier(cfg: Config) -> Notifier | None:
    """The [[notify]] targets, the older `webhooks` URLs as json targets, and the hooks."""
    hooks = cfg.hooks.commands()
    targets = [Target(url, name=f"webhooks[{i}]") for i, url in enumerate(cfg.webhooks)]
    for i, entry in enumerate(cfg.notify):
        try:
            targets.append(Target.from_config(entry, cfg.base_dir))
        except ConfigError as exc:
            raise cfg.locate(exc.under("notify", i)) from None
    if not targets and not hooks:
        return None
    return Notifier(targets, hooks, str(cfg.base_dir), DeliveryLog.in_state(cfg.state_dir()))


@dataclass
class Stack:
    """Everything one app's agent drives, built from its config."""

    cfg: Config
    store: Store
    router: Router
    runtime: Runtime
    checks: list[Check]
    notifier: Notifier | None = None
    migrations: Migrations | None = None
    actor: str = field(default_factory=actor)
    sampler_for: SamplerFor | None = None  # where the watch samples the live color (default: probe bursts)
    checks_for: Callable[[Config], list[Check]] = build_checks  # the checks of a config (`turnout reload`)

    @classmethod
    def build(cls, cfg: Config) -> Stack:
        """Validate and build every driver (no I/O but creating the state folder and opening the store)."""
        try:
            router, runtime, checks = build_router(cfg), build_runtime(cfg), build_checks(cfg)
            migrations = Migrations.from_config(cfg)
        except ConfigError as exc:
            raise cfg.locate(exc) from None
        cfg.state_dir().mkdir(parents=True, exist_ok=True)
        return cls(cfg, open_store(cfg), router, runtime, checks, build_notifier(cfg), migrations)

    def orchestrator(self, progress: Progress | None = None, actor: str | None = None) -> Orchestrator:
        orch = Orchestrator(self.cfg, self.store, self.router, self.runtime, self.checks, actor=actor or self.actor,
                            notifier=self.notifier, migrations=self.migrations, sampler_for=self.sampler_for)
        if progress:
            orch.progress = progress
        return orch

    async def status(self, agent: AgentView, operation: OperationView | None = None,
                     drifts: Sequence[DriftView] = ()) -> StatusView:
        """What the state says, next to what the runtime and the router report."""
        dep = self.store.load(self.cfg.app.name)
        envs: dict[Color, EnvView] = {}
        for color in Color:
            st = await self.runtime.status(color)
            envs[color] = EnvView(version=dep.version_of(color), running_version=st.version,
                                  instances=len(st.instances), healthy=st.healthy, warm=bool(dep.warm.get(color)),
                                  endpoints=tuple(i.endpoint.address for i in st.instances))
        try:
            seen = await self.router.observe()
            router = RouterView(kind=self.router.kind, reachable=True,
                                serving={Color.BLUE: seen.weights.blue, Color.GREEN: seen.weights.green},
                                test=seen.test_color, production_url=seen.production_url, test_url=seen.test_url)
        except TurnoutError as exc:
            router = RouterView(kind=self.router.kind, reachable=False, error=str(exc))
        lock = self.store.lock_info(self.cfg.app.name)
        stored = {Color.BLUE: dep.weights.blue, Color.GREEN: dep.weights.green}
        return StatusView(
            app=self.cfg.app.name, phase=dep.phase, active=dep.active, idle=dep.idle, revision=dep.revision,
            environments=envs, router=router, stored_weights=stored,
            drift=router.serving is not None and router.serving != stored,
            rollback_ready_until=dep.retire_at(self.cfg.deploy.retention),
            lock=LockView(holder=lock.holder, since=lock.since, purpose=lock.purpose) if lock else None, agent=agent,
            operation=operation, drifts=tuple(drifts), bad=tuple(sorted(dep.bad)))

    async def close(self) -> None:
        await self.runtime.close()
        self.store.close()


def record(cfg: Config, action: str, outcome: str, reason: str, who: str = "") -> None:
    """An audit entry from outside the agent (a migration run by `turnout migrate`), in the same log."""
    store = open_store(cfg)
    try:
        dep = store.load(cfg.app.name)
        store.append(AuditEvent(app=cfg.app.name, action=action, outcome=outcome, actor=who or actor(),
                                phase=dep.phase, versions={c.value: v for c, v in dep.versions.items()}, reason=reason))
    finally:
        store.close()


def rollback_open(cfg: Config) -> bool:
    """Whether the old color can still be rolled back to (contract migrations wait until it cannot)."""
    store = open_store(cfg)
    try:
        return store.load(cfg.app.name).rollback_open(time.time(), cfg.deploy.retention)
    finally:
        store.close()


async def local_logs(cfg: Config, color: Color, lines: int, follow: bool, emit: Callable[[str, str], None]) -> None:
    """`turnout logs` without an agent: the runtime read directly (its logs outlive the agent)."""
    runtime = build_runtime(cfg)
    try:
        if not isinstance(runtime, LogSource):
            raise UsageError(f"the {runtime.kind} runtime keeps no logs turnout can read")
        async for line in runtime.logs(color, lines=lines, follow=follow):
            emit(line.instance, line.text)
    finally:
        await runtime.close()
