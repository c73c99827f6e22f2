"""`turnout demo`: the whole blue-green story on this machine, under continuous keep-alive load.

v1 starts on blue; load runs the whole time; v2 is deployed to green, validated through the test
endpoint and switched to; then a rollback and a switch again. Every request the load generator
sends is counted: connection errors, non-2xx answers and truncated bodies are failures.
With `--runtime docker` the instances are containers of the example app's image, built here first
(cli/docker_image.py: nothing is pulled) on the engine at $DOCKER_HOST or the local socket.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import shutil
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnout import config as config_mod
from turnout.control import api
from turnout.control.client import AgentClient
from turnout.errors import AutoRolledBack, TurnoutError
from turnout.events import AuditEvent, ProgressEvent, Recorded, RollbackTiming, SwitchTiming, to_builtins
from turnout.infra.procs import free_port
from turnout.measure.loadgen import run_load
from turnout.model import Color

APP = Path(__file__).resolve().parents[1] / "examples" / "app.py"


DOCKER_OPTIONS = """
[runtime.options]
image = "{image}"
pull = "never"
hosts = [{host}]
"""


def demo_config(folder: Path, *, app: Path = APP, retention: str = "10m", extra: str = "",
                docker_host: str | None = None) -> Path:
    """The demo's turnout.toml: the example app as local processes, or as containers on `docker_host`."""
    if not app.is_file():
        raise TurnoutError(f"the example app is not at {app}", hint="run the demo from a source checkout "
                           "installed with `pip install -e .`")
    if docker_host is None:  # the image runs the app by itself, with PORT and TURNOUT_* in its environment
        runtime, options = (f'command = [{json.dumps(sys.executable)}, {json.dumps(str(app))}, "--port", "{{port}}", '
                            '"--version", "{version}", "--color", "{color}"]'), ""
    else:
        runtime, options = 'kind = "docker"', DOCKER_OPTIONS.format(image=DEMO_IMAGE, host=json.dumps(docker_host))
    text = f"""
[app]
name = "demo"

[runtime]
{runtime}
instances = 2
ready_timeout = "30s"
stop_grace = "5s"
{options}
[health]
successes = 2
interval = "100ms"

[router]
production = "127.0.0.1:{free_port()}"
test = "127.0.0.1:{free_port()}"
admin = "127.0.0.1:{free_port()}"
drain = "5s"

[deploy]
retention = "{retention}"
{extra}
"""
    path = folder / "turnout.toml"
    path.write_text(text)
    config_mod.load(path)  # fail here, not in the agent, if the demo config were wrong
    return path


@dataclass
class Timeline:
    """When each color answered, and when each switch started and reached the router.

    Time to full switch = the old color's last answer before the next switch began, minus the
    moment the router served the new color (negative: the old color's last answer came first).
    """

    answers: dict[str, array[float]] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    switches: list[tuple[float, str]] = field(default_factory=list)  # (routed at, old color)
    requests: int = 0
    first_failure_at: float | None = None

    def observe(self, at: float, status: int, color: str | None, error: str | None) -> None:
        self.requests += 1
        if (error is not None or not 200 <= status < 300) and self.first_failure_at is None:
            self.first_failure_at = at
        if color:
            self.answers.setdefault(color, array("d")).append(at)

    def on_audit(self, event: AuditEvent) -> None:
        if event.action not in ("switch", "rollback"):
            return
        timing = event.find(SwitchTiming)
        if event.outcome == "started":
            self.starts.append(event.at)
        elif event.outcome == "ok" and timing is not None and event.from_color is not None:
            self.switches.append((timing.routed_at, event.from_color.value))

    def full_switch_ms(self) -> list[float]:
        result = []
        for i, (routed_at, old) in enumerate(self.switches):
            until = self.starts[i + 1] if i + 1 < len(self.starts) else float("inf")
            times = self.answers.get(old, array("d"))
            last = times[bisect.bisect_left(times, until) - 1] if times else routed_at
            result.append(round((last - routed_at) * 1000, 2))
        return result


WATCH = """
[stabilize]
window = "{window}"
interval = "250ms"
baseline = "1s"
"""
SCENARIOS = ("happy", "bad-release")
RUNTIMES = ("process", "docker")
DEMO_IMAGE = "turnout-demo/app"
VERSIONS = {"happy": ("1.0.0", "2.0.0"), "bad-release": ("1.0.0", "2.0.0+fail-after-requests-300")}


class Story:
    """The demo's moving parts: the agent client, the timeline of answers, the steps taken."""

    def __init__(self, client: AgentClient, log: Any) -> None:
        self.client, self.log = client, log
        self.timeline = Timeline()
        self.counts = {"switches": 0, "rollbacks": 0}
        self.steps: list[dict[str, Any]] = []
        self.audit: list[AuditEvent] = []

    def on_event(self, event: ProgressEvent) -> None:
        if not isinstance(event, Recorded):
            return
        audit = event.event
        self.timeline.on_audit(audit)
        self.audit.append(audit)
        if audit.name == "switch:ok":
            self.counts["switches"] += 1
        elif audit.name == "rollback:ok":
            self.counts["rollbacks"] += 1

    def first(self, name: str) -> AuditEvent | None:
        return next((e for e in self.audit if e.name == name), None)

    async def call(self, command: str, args: api.Request) -> Any:
        started = time.monotonic()
        try:
            return await asyncio.to_thread(self.client.call, command, args, self.on_event)
        finally:
            self.steps.append({"op": command, **{k: v for k, v in to_builtins(args).items() if v},
                               "seconds": round(time.monotonic() - started, 2)})


async def happy(story: Story) -> dict[str, Any]:
    story.log(f"deploying {VERSIONS['happy'][1]} to green: start, validate through the test endpoint, switch, watch")
    await story.call("deploy", api.DeployArgs(version=VERSIONS["happy"][1]))
    await asyncio.sleep(1.5)
    story.log(f"rolling back to blue ({VERSIONS['happy'][0]} is still warm)")
    await story.call("rollback", api.RollbackArgs(reason="demo rollback"))
    await asyncio.sleep(1.5)
    story.log("switching to green again")
    await story.call("switch", api.SwitchArgs(to=Color.GREEN))
    await asyncio.sleep(1.5)
    return {}


async def bad_release(story: Story) -> dict[str, Any]:
    """A release that passes validation and breaks under production traffic after the switch."""
    version = VERSIONS["bad-release"][1]
    story.log(f"deploying {version}: it validates fine, then fails under real traffic")
    rolled_back, trigger = False, None
    try:
        await story.call("deploy", api.DeployArgs(version=version))
    except AutoRolledBack as exc:
        rolled_back = True
        story.log(f"automatic rollback: {exc}")
    measured = story.first("rollback:measured")
    info = measured.find(RollbackTiming) if measured else None
    watch_ms = info.detect_to_restore_ms if info else None
    trigger = info.trigger if info else None
    rollback = story.first("rollback:ok")
    timing = rollback.find(SwitchTiming) if rollback else None
    detect_to_restore = None
    if timing and story.timeline.first_failure_at is not None:
        detect_to_restore = round((timing.routed_at - story.timeline.first_failure_at) * 1000, 1)
    await asyncio.sleep(1.0)
    return {"rolled_back": rolled_back, "trigger": trigger, "detect_to_restore_ms": detect_to_restore,
            "watch_detect_to_restore_ms": watch_ms}


def docker_engine(log: Any) -> str:
    """The engine the demo runs on, with the example app's image built there, tagged with every version
    of the scenarios (the version string picks the app's behaviour, so one build serves them all)."""
    import os

    from turnout.cli import docker_image

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    api = docker_image.connect(host)
    tags = sorted({v.replace("+", "_") for versions in VERSIONS.values() for v in versions})
    docker_image.app_image(api, tags, repository=DEMO_IMAGE, log=log)
    api.close()
    return host


async def run(*, scenario: str = "happy", min_requests: int = 20_000, concurrency: int = 16, keep: bool = False,
              log: Any = print, runtime: str = "process", report_dir: Path | None = None) -> dict[str, Any]:
    """Run a scenario under continuous keep-alive load; return the summary. With `report_dir`, the
    deploy report of the run (the deploy and everything after it) is written there."""
    if scenario not in SCENARIOS:
        raise TurnoutError(f"unknown demo scenario {scenario!r} (known: {', '.join(SCENARIOS)})")
    if runtime not in RUNTIMES:
        raise TurnoutError(f"unknown demo runtime {runtime!r} (known: {', '.join(RUNTIMES)})")
    host = await asyncio.to_thread(docker_engine, log) if runtime == "docker" else None
    folder = Path(tempfile.mkdtemp(prefix="turnout-demo-"))
    path = demo_config(folder, extra=WATCH.format(window="2s" if scenario == "happy" else "20s"), docker_host=host)
    cfg = config_mod.load(path)
    client = AgentClient(cfg.state_dir(), cfg.app.name)
    story = Story(client, log)
    if scenario == "bad-release":
        min_requests = min(min_requests, 5_000)  # the story ends at the rollback
    log(f"demo folder {folder}")
    try:
        await asyncio.to_thread(client.start_detached, str(path), VERSIONS[scenario][0])
        status = await asyncio.to_thread(client.status)
        prod = status.router.production_url
        log(f"{VERSIONS[scenario][0]} live on blue behind {prod}; starting keep-alive load ({concurrency} connections)")
        stop = asyncio.Event()
        load = asyncio.create_task(run_load(prod, concurrency=concurrency, duration=300, stop=stop,
                                            max_requests=min_requests * 20, observer=story.timeline.observe))
        await asyncio.sleep(3.0 if report_dir else 1.0)  # a report shows the traffic before the deploy too
        extra = await (happy(story) if scenario == "happy" else bad_release(story))
        if report_dir:
            await asyncio.sleep(3.0)  # and the traffic after it
        deadline = time.monotonic() + 120
        # Keep the load going until enough requests went through the whole story.
        while not load.done() and time.monotonic() < deadline and story.timeline.requests < min_requests:  # noqa: ASYNC110
            await asyncio.sleep(0.25)
        stop.set()
        result = await load
        history = await asyncio.to_thread(_history_len, cfg)
        if report_dir is not None:
            await asyncio.sleep(1.2)  # the recorder's last point of the run
            extra["report"] = await asyncio.to_thread(write_report, path, report_dir)
            log(f"deploy report: {', '.join(extra['report'])}")
    finally:
        with contextlib.suppress(TurnoutError):
            await asyncio.to_thread(client.call, "down", api.DownArgs())
        await asyncio.to_thread(_wait_gone, client)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    p99 = result.p99()
    full_switch = story.timeline.full_switch_ms()
    return {
        "scenario": scenario, "requests": result.requests, "failed": result.failed, "errors": result.errors,
        **story.counts, "max_full_switch_ms": max(full_switch, default=None), "full_switch_ms": full_switch,
        "colors": result.colors, "rps": round(result.rps, 1),
        "p99_ms": round(p99 * 1000, 2) if p99 is not None else None, "duration_s": round(result.elapsed, 2),
        "audit_events": history, "steps": story.steps, **extra,
    }


def write_report(config: Path, folder: Path) -> list[str]:
    """The report of the demo's deploy, from 3 s before it to now: demo-report.html, .png and .json."""
    from turnout.cli.commands import Ctx
    from turnout.cli.report import gather, render

    report = gather(Ctx(str(config), False), None, margin=3.0, until=time.time())
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in ("html", "png", "json"):
        target = folder / f"demo-report.{fmt}"
        target.write_bytes(render(report, fmt))
        written.append(str(target))
    return written


def _history_len(cfg: config_mod.Config) -> int:
    from turnout.control.local import open_store

    store = open_store(cfg)
    try:
        return len(store.history(cfg.app.name, 1000))
    finally:
        store.close()


def _wait_gone(client: AgentClient, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while client.pid() and time.monotonic() < deadline:
        time.sleep(0.1)
