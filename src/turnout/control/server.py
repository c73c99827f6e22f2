"""The agent: hosts the stack, resumes after a crash, retires old colors, serves the CLI over a unix socket.

Long operations run as tasks of their own, so a CLI that disconnects does not cut a deploy in half;
their progress is streamed to the caller as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from turnout import config as config_mod
from turnout.control.local import Stack
from turnout.control.paths import agent_paths
from turnout.engine.orchestrator import Orchestrator
from turnout.errors import TurnoutError, UsageError
from turnout.model import Color

log = logging.getLogger("turnout.agent")
Op = Callable[[Orchestrator], Awaitable[Any]]


def _result(value: Any) -> Any:
    if isinstance(value, list):
        return [m.as_dict() if hasattr(m, "as_dict") else m for m in value]
    if hasattr(value, "phase"):
        return {"phase": value.phase.value, "active": value.active.value}
    return value


class Agent:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
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

    # -- HTTP API -------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/status", self.status)
        app.router.add_post("/deploy", self.op_handler(
            lambda o, b: o.deploy(b["version"], switch=b.get("switch", True), pause=b.get("pause", False),
                                  steps=b.get("steps"))))
        app.router.add_post("/promote", self.op_handler(lambda o, b: o.promote(b.get("steps"))))
        app.router.add_post("/abort", self.op_handler(lambda o, b: o.abort(b.get("reason") or "manual abort")))
        app.router.add_post("/switch", self.op_handler(
            lambda o, b: o.switch(Color(b["to"]) if b.get("to") else None, reason=b.get("reason", ""))))
        app.router.add_post("/rollback", self.op_handler(lambda o, b: o.rollback(b.get("reason", ""))))
        app.router.add_post("/validate", self.op_handler(lambda o, b: o.validate()))
        app.router.add_post("/warm", self.op_handler(
            lambda o, b: o.warm(Color(b["color"]) if b.get("color") else None)))
        app.router.add_post("/scale-down", self.op_handler(
            lambda o, b: o.scale_down(Color(b["color"]) if b.get("color") else o.current().idle)))
        app.router.add_post("/down", self.down)
        return app

    async def status(self, request: web.Request) -> web.Response:
        info = {"running": True, "pid": os.getpid(), "since": self.started}
        return web.json_response(await self.stack.status(agent=info))

    def op_handler(self, op: Callable[[Orchestrator, dict[str, Any]], Awaitable[Any]]) -> Callable[
            [web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json() if request.can_read_body else {}
            except json.JSONDecodeError:
                return web.json_response({"error": {"message": "request body is not JSON"}}, status=400)
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            # A new operation ends the stabilize watch of the previous one: the human decides now.
            self.watch_stop.set()
            self.watch_stop = asyncio.Event()
            orch = self.stack.orchestrator(lambda step, data: queue.put_nowait({"step": step, **data}),
                                           actor=body.get("actor"), stop_watch=self.watch_stop)
            task = asyncio.create_task(self._run(op, orch, body, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await resp.prepare(request)
            while True:
                item = await queue.get()
                await resp.write(json.dumps(item, default=str).encode() + b"\n")
                if "result" in item or "error" in item:
                    break
            await resp.write_eof()
            return resp
        return handle

    async def _run(self, op: Callable[[Orchestrator, dict[str, Any]], Awaitable[Any]], orch: Orchestrator,
                   body: dict[str, Any], queue: asyncio.Queue[dict[str, Any]]) -> None:
        try:
            result = await op(orch, body)
            queue.put_nowait({"result": _result(result)})
        except TurnoutError as exc:
            queue.put_nowait({"error": {"type": type(exc).__name__, "message": str(exc), "hint": exc.hint,
                                        "exit_code": exc.exit_code}})
        except (KeyError, ValueError) as exc:
            queue.put_nowait({"error": {"type": "UsageError", "message": f"bad request: {exc}", "exit_code": 2}})
        except Exception as exc:
            log.exception("operation failed")
            queue.put_nowait({"error": {"type": type(exc).__name__, "message": f"internal error: {exc!r}",
                                        "exit_code": 1, "bug": True}})

    async def down(self, request: web.Request) -> web.Response:
        self.watch_stop.set()
        self.stopping.set()
        return web.json_response({"result": "stopping"})

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


async def serve(config_path: str | None, version: str | None) -> int:
    cfg = config_mod.load(config_path)
    sock, pid_file = agent_paths(cfg)
    stack = Stack.build(cfg)
    agent = Agent(stack)
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
