"""The agent: hosts the stack, resumes after a crash, retires old colors, serves the control API.

Long operations run as tasks of their own, so a CLI that disconnects does not cut a deploy in half;
their progress is streamed to the caller as frames, one JSON object per line. A request that does
not decode is a usage error (exit 2); a turnout error keeps its exit code; anything else raised
while running an operation is a bug (exit 70), with its traceback in the agent's log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from turnout import config as config_mod
from turnout.control import api
from turnout.control.local import Stack
from turnout.engine.orchestrator import Orchestrator
from turnout.errors import TurnoutError, UsageError
from turnout.events import ProgressEvent
from turnout.locations import agent_paths
from turnout.model import Color

log = logging.getLogger("turnout.agent")
NDJSON = "application/x-ndjson"


class Agent:
    def __init__(self, stack: Stack, log_file: Path) -> None:
        self.stack = stack
        self.log_file = log_file
        self.started = time.time()
        self.stopping = asyncio.Event()
        self.watch_stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, version: str | None) -> None:
        """Adopt or restart what a previous agent left, finish an interrupted step, then serve."""
        orch = self.stack.orchestrator()
        await self.stack.runtime.recover()
        dep = orch.current()
        if dep.version_of(dep.active) is None:
            if version is None:
                raise UsageError("nothing is deployed yet: the first `turnout up` needs --version V")
            await orch.bootstrap(version)
        else:
            await orch.reconcile()

    # -- the control API -------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/status", self.status)
        app.router.add_post("/v1/{command}", self.command)
        return app

    def view(self) -> api.AgentView:
        return api.AgentView(running=True, pid=os.getpid(), since=self.started)

    async def status(self, request: web.Request) -> web.Response:
        view = await self.stack.status(self.view())
        return web.Response(body=api.encode(view), content_type="application/json")

    async def command(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["command"]
        kind = api.COMMANDS.get(name)
        if kind is None:
            return _error_response(404, api.OpError(type="UsageError", message=f"unknown command {name!r}",
                                                    exit_code=2))
        try:
            args = api.decode(kind, await request.read() or b"{}")
        except UsageError as exc:
            return _error_response(400, api.OpError(type="UsageError", message=str(exc), exit_code=exc.exit_code))
        queue: asyncio.Queue[api.Frame] = asyncio.Queue()
        if not isinstance(args, api.DownArgs):
            # A new operation ends the stabilize watch of the previous one: the human decides now.
            self.watch_stop.set()
            self.watch_stop = asyncio.Event()

        def progress(event: ProgressEvent) -> None:
            queue.put_nowait(api.Frame(event=event))

        orch = self.stack.orchestrator(progress, actor=args.actor or None, stop_watch=self.watch_stop)
        task = asyncio.create_task(self._execute(args, orch, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        resp = web.StreamResponse(headers={"Content-Type": NDJSON})
        await resp.prepare(request)
        while True:
            frame = await queue.get()
            await resp.write(api.encode(frame) + b"\n")
            if frame.event is None:
                break
        await resp.write_eof()
        return resp

    async def _execute(self, args: api.Request, orch: Orchestrator, queue: asyncio.Queue[api.Frame]) -> None:
        try:
            result = await self._dispatch(args, orch)
            queue.put_nowait(api.Frame(result=result))
        except TurnoutError as exc:
            queue.put_nowait(api.Frame(error=api.OpError(type=type(exc).__name__, message=str(exc), hint=exc.hint,
                                                         exit_code=exc.exit_code)))
        except Exception as exc:
            log.exception("operation %s failed with a bug", type(args).__name__)
            queue.put_nowait(api.Frame(error=api.OpError.bug_in_agent(exc, str(self.log_file))))

    async def _dispatch(self, args: api.Request, orch: Orchestrator) -> api.Result:
        match args:
            case api.DeployArgs(version=version, switch=switch, pause=pause, steps=steps):
                dep = await orch.deploy(version, switch=switch, pause=pause, steps=steps)
            case api.PromoteArgs(steps=steps):
                dep = await orch.promote(steps)
            case api.AbortArgs(reason=reason):
                dep = await orch.abort(reason or "manual abort")
            case api.SwitchArgs(to=to, reason=reason):
                dep = await orch.switch(to, reason=reason)
            case api.RollbackArgs(reason=reason):
                dep = await orch.rollback(reason)
            case api.ValidateArgs():
                return api.Measurements(measurements=tuple(await orch.validate()))
            case api.WarmArgs(color=color):
                dep = await orch.warm(color)
            case api.ScaleDownArgs(color=color):
                await orch.scale_down(color or orch.current().idle)
                dep = orch.current()
            case api.DownArgs():
                self.watch_stop.set()
                self.stopping.set()
                return api.Done(message="stopping")
            case _:
                raise UsageError(f"no handler for {type(args).__name__}")
        return api.DeploymentView.of(dep)

    # -- background ------------------------------------------------------------------------------------
    async def retire_loop(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TurnoutError):
                await self.stack.orchestrator().retire_if_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 1.0)

    async def teardown(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
        for color in Color:
            with contextlib.suppress(TurnoutError):
                await self.stack.runtime.stop(color)
        with contextlib.suppress(TurnoutError):
            await self.stack.router.release()
        if self.stack.notifier:
            await self.stack.notifier.flush()
        await self.stack.close()


def _error_response(status: int, error: api.OpError) -> web.Response:
    return web.Response(status=status, body=api.encode(api.Frame(error=error)) + b"\n", content_type=NDJSON)


async def serve(config_path: str | None, version: str | None) -> int:
    cfg = config_mod.load(config_path)
    sock, pid_file = agent_paths(cfg.state_dir())
    stack = Stack.build(cfg)
    agent = Agent(stack, cfg.state_dir() / "logs" / "agent.log")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stopping.set)
    try:
        await agent.start(version)
    except BaseException:
        await stack.close()
        raise
    runner = web.AppRunner(agent.app(), access_log=None)
    await runner.setup()
    sock.unlink(missing_ok=True)
    await web.UnixSite(runner, str(sock)).start()
    os.chmod(sock, 0o600)
    pid_file.write_text(str(os.getpid()))
    log.info("agent ready on %s", sock)
    print(f"turnout agent ready (pid {os.getpid()})", flush=True)
    retire = asyncio.create_task(agent.retire_loop())
    await agent.stopping.wait()
    retire.cancel()
    await agent.teardown()
    await runner.cleanup()
    sock.unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="turnout-agent")
    parser.add_argument("--config")
    parser.add_argument("--version")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return asyncio.run(serve(args.config, args.version))
    except TurnoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
