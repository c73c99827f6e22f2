"""The example app as a real process on a free loopback port: endpoints, metrics, faults, SIGTERM drain."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import ADMIN, ADMIN_TOKEN

APP = Path(__file__).resolve().parents[1] / "src" / "turnout" / "examples" / "app.py"


@dataclass
class Running:
    url: str
    proc: asyncio.subprocess.Process
    log: Path


@asynccontextmanager
async def run_app(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[Running]:
    log = tmp_path / f"app-{time.monotonic_ns()}.log"
    inherited = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "FEATURE_FLAGS"}}
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(APP), "--port", "0", *args, stdout=asyncio.subprocess.PIPE, stderr=err,
            env={**inherited, "EXAMPLE_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})})
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        assert line.startswith("listening on "), f"{line!r}; log: {log.read_text()}"
        yield Running(line.split()[2], proc, log)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, trust_env=False, timeout=5)


async def test_identity_health_version_flags(tmp_path: Path) -> None:
    env = {"TURNOUT_COLOR": "green", "TURNOUT_INSTANCE": "1", "FEATURE_FLAGS": '{"new_checkout": true}'}
    async with run_app(tmp_path, "--version", "1.2.0", env=env) as app, client(app.url) as c:
        assert (await c.get("/")).json() == {"version": "1.2.0", "color": "green", "instance": "1"}
        assert (await c.get("/version")).json() == {"version": "1.2.0"}
        assert (await c.get("/health/live")).status_code == 200
        assert (await c.get("/health/ready")).status_code == 200
        assert (await c.get("/debug/feature-flags")).json() == {"new_checkout": True}
        deps = await c.get("/health/dependencies")
        assert deps.status_code == 200
        assert deps.json() == {"database": {"status": "healthy", "detail": "no database configured"}}


async def test_unreachable_database_is_unhealthy(tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"postgresql://app@127.0.0.1:{closed.getsockname()[1]}/app"
        async with run_app(tmp_path, env={"DATABASE_URL": url}) as app, client(app.url) as c:
            deps = await c.get("/health/dependencies")
    assert deps.status_code == 503
    assert deps.json()["database"]["status"] == "unhealthy"
    assert deps.json()["database"]["detail"]


async def test_bad_feature_flags_fail_the_start(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(APP), "--port", "0", env={**os.environ, "FEATURE_FLAGS": "[1]"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 2
    assert b"FEATURE_FLAGS must be a JSON object" in err


async def test_metrics_are_valid_exposition(tmp_path: Path) -> None:
    async with run_app(tmp_path, "--version", "1.0.0") as app, client(app.url) as c:
        for _ in range(3):
            await c.get("/")
        await c.get("/nope")
        await c.post("/admin/fault", json={"error_rate": 1.0}, headers=ADMIN)
        await c.get("/")
        await c.get("/health/ready")  # probes are not traffic
        text = (await c.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counts = {(s.labels["path"], s.labels["status"]): s.value for s in families["http_requests"].samples}
    assert counts == {("/", "200"): 3, ("other", "404"): 1, ("/", "500"): 1}
    hist = families["http_request_duration_seconds"]
    assert hist.type == "histogram"
    assert any(s.name.endswith("_count") and s.value == 4 for s in hist.samples if s.labels.get("path") == "/")
    window = families["http_request_duration_seconds_window"]
    assert window.type == "summary"
    assert {s.labels.get("quantile") for s in window.samples} >= {"0.5", "0.9", "0.99"}
    # The seed's validation script: grep both strings, awk the value; it must find exactly one line.
    p99 = [ln for ln in text.splitlines() if "http_request_duration_seconds" in ln and 'quantile="0.99"' in ln]
    assert len(p99) == 1
    assert 0 <= float(p99[0].split()[1]) < 0.5
    assert sum(1 for ln in text.splitlines() if ln.startswith("http_requests_total") and 'status="5' in ln) == 1


async def test_ready_delay(tmp_path: Path) -> None:
    async with run_app(tmp_path, "--ready-delay", "0.6") as app, client(app.url) as c:
        first = await c.get("/health/ready")
        assert first.status_code == 503 and first.json()["reason"] == "starting"
        assert (await c.get("/health/live")).status_code == 200
        for _ in range(50):
            if (await c.get("/health/ready")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("never became ready")


async def test_faults_from_version_tags(tmp_path: Path) -> None:
    async with (run_app(tmp_path, "--version", "2.0.0+slow+lie+fail-after-1") as bad,
                run_app(tmp_path, "--version", "2.0.0+broken") as broken,
                client(bad.url) as c, client(broken.url) as b):
        started = time.monotonic()
        first = await c.get("/")
        assert first.status_code == 200 and time.monotonic() - started >= 0.3  # +slow
        assert (await c.get("/version")).json()["version"] != "2.0.0+slow+lie+fail-after-1"  # +lie
        for _ in range(40):  # +fail-after-1: the release breaks after a second, health stays OK
            if (await c.get("/")).status_code == 500:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("fail-after never failed")
        assert (await c.get("/health/ready")).status_code == 200
        assert (await b.get("/health/ready")).status_code == 503  # +broken
        assert (await b.get("/health/live")).status_code == 200
        assert (await b.get("/")).status_code == 200


async def test_fault_flags_and_admin(tmp_path: Path) -> None:
    async with run_app(tmp_path, "--error-rate", "1", "--report-version", "9.9.9") as app, client(app.url) as c:
        assert (await c.get("/")).status_code == 500
        assert (await c.get("/health/ready")).status_code == 200
        assert (await c.get("/version")).json() == {"version": "9.9.9"}
        assert (await c.post("/admin/fault", json={"error_rate": 0, "latency_ms": 250})).status_code == 403
        assert (await c.post("/admin/fault", json={"error_rate": 0, "latency_ms": 250},
                             headers={"Authorization": "Bearer wrong"})).status_code == 403
        assert (await c.post("/admin/fault", json={"error_rate": 0, "latency_ms": 250},
                             headers=ADMIN)).status_code == 200
        started = time.monotonic()
        assert (await c.get("/")).status_code == 200
        assert time.monotonic() - started >= 0.25
        assert (await c.post("/admin/fault", content=b"[", headers=ADMIN)).status_code == 400


async def test_slow_and_echo_stream(tmp_path: Path) -> None:
    async with run_app(tmp_path) as app, client(app.url) as c:
        started = time.monotonic()
        async with c.stream("GET", "/slow", params={"ms": "600"}) as r:
            chunks = r.aiter_text()
            first = await chunks.__anext__()
            first_at = time.monotonic() - started
            rest = "".join([piece async for piece in chunks])
        assert first.startswith("chunk 1/6") and first_at < 0.4
        assert (first + rest).endswith("done\n") and time.monotonic() - started >= 0.55
        assert (await c.get("/slow", params={"ms": "x"})).status_code == 400

        payload = os.urandom(2 * 1024 * 1024)

        async def body() -> AsyncIterator[bytes]:
            for i in range(0, len(payload), 256 * 1024):
                yield payload[i:i + 256 * 1024]

        echoed = await c.post("/echo", content=body(), headers={"Content-Type": "application/x-test"})
        assert echoed.content == payload and echoed.headers["content-type"] == "application/x-test"


async def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    async with run_app(tmp_path, "--grace", "5") as app, client(app.url) as c:
        async with c.stream("GET", "/slow", params={"ms": "1000"}) as r:
            chunks = r.aiter_text()
            body = await chunks.__anext__()  # in flight now
            app.proc.send_signal(signal.SIGTERM)
            async with client(app.url) as fresh:  # a new client: its own connection
                for _ in range(40):
                    try:
                        await fresh.get("/")
                    except httpx.ConnectError:
                        break
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("still accepting connections after SIGTERM")
            body += "".join([piece async for piece in chunks])
        assert r.status_code == 200 and body.endswith("done\n")
        assert await asyncio.wait_for(app.proc.wait(), 5) == 0
        assert "draining in-flight requests" in app.log.read_text()
