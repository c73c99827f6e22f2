"""Admin API: auth, validation, state, metrics, persistence across restarts, startup errors."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import TOKEN, Client, Proxy, StartProxy, Upstreams, free_port, get


async def test_auth_required_except_healthz(proxy: Proxy) -> None:
    async with proxy.api(token=None) as anon:
        assert (await anon.get("/healthz")).json() == {"ok": True}
        for method, path in [("GET", "/state"), ("GET", "/metrics"), ("PUT", "/route"), ("PUT", "/backends")]:
            resp = await anon.request(method, path, json={"weights": {"blue": 0, "green": 100}})
            assert resp.status_code == 401 and "error" in resp.json()
    async with proxy.api(token="wrong") as bad:
        assert (await bad.put("/route", json={"weights": {"blue": 0, "green": 100}})).status_code == 401
    assert (await proxy.state())["weights"] == {"blue": 100, "green": 0}


@pytest.mark.parametrize("body", [
    {"weights": {"blue": 50, "green": 40}},
    {"weights": {"blue": -10, "green": 110}},
    {"weights": {"blue": 50.0, "green": 50}},
    {"weights": {"blue": True, "green": 99}},
    {"weights": {"red": 100}},
    {"weights": [100, 0]},
    {"weights": {}},
    {"blue": 100},
    "nonsense",
])
async def test_bad_weights_400(proxy: Proxy, body: object) -> None:
    async with proxy.api() as api:
        resp = await api.put("/route", json=body)
    assert resp.status_code == 400 and resp.json()["error"]
    assert (await proxy.state())["generation"] == 1


async def test_bad_requests_are_json_errors(proxy: Proxy) -> None:
    async with proxy.api() as api:
        bad_json = await api.put("/route", content=b"{not json", headers={"Content-Type": "application/json"})
        assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]
        bad_backend = await api.put("/backends", json={"blue": ["no-port"]})
        assert bad_backend.status_code == 400
        assert (await api.put("/backends", json={"purple": []})).status_code == 400
        assert (await api.get("/nope")).status_code == 404
        assert (await api.post("/route", json={})).status_code == 405
    c = await Client.open(int(proxy.admin.rsplit(":", 1)[1]))
    await c.send(b"\x00\x01garbage\r\n\r\n")
    assert (await c.response()).status == 400
    assert (await proxy.state())["weights"]["blue"] == 100


async def test_state_shape_and_partial_backend_update(proxy: Proxy, upstreams: Upstreams) -> None:
    s = await proxy.state()
    assert set(s) == {"weights", "test", "backends", "healthy", "inflight", "generation", "pid"}
    assert s["pid"] == proxy.proc.pid and s["test"] == "green"
    s = await proxy.backends(green=[u.addr for u in upstreams.green])  # blue left out: keeps its list
    assert s["backends"] == {"blue": [upstreams.blue[0].addr], "green": [u.addr for u in upstreams.green]}
    assert s["healthy"] == s["backends"] and s["inflight"] == {"blue": 0, "green": 0}
    assert s["generation"] == 2
    s = await proxy.route(10, 90)
    assert (s["weights"], s["test"], s["generation"]) == ({"blue": 10, "green": 90}, "blue", 3)


async def test_metrics_count_per_color_and_listener(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    for _ in range(3):
        await c.request()
    await c.request(path="/status/404")
    await proxy.route(0, 100)
    for _ in range(2):
        await c.request()
    c.close()
    await get(proxy.test)
    text = await proxy.metrics()
    assert 'turnout_proxy_requests_total{listener="production",color="blue",code="2xx"} 3' in text
    assert 'turnout_proxy_requests_total{listener="production",color="blue",code="4xx"} 1' in text
    assert 'turnout_proxy_requests_total{listener="production",color="green",code="2xx"} 2' in text
    assert 'turnout_proxy_requests_total{listener="test",color="blue",code="2xx"} 1' in text
    assert 'turnout_proxy_request_duration_seconds_count{listener="production",color="blue"} 4' in text
    assert 'turnout_proxy_inflight_requests{listener="production",color="green"} 0' in text
    assert 'turnout_proxy_weight{color="green"} 100' in text


async def test_state_survives_restart(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy()
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[1].addr])
    await p.route(0, 100)
    assert json.loads(p.state_file.read_text())["weights"] == {"blue": 0, "green": 100}
    assert not [f for f in os.listdir(p.dir) if f.startswith(".state-")]  # no temp files left behind
    assert p.stop() == 0
    again = await start_proxy(ports=(p.production, p.test), admin=p.admin)
    s = await again.state()
    assert s["weights"] == {"blue": 0, "green": 100} and s["generation"] == 2
    assert s["backends"]["green"] == [upstreams.green[1].addr]
    resp = await get(again.production)
    assert (resp.color, resp.headers["x-backend"]) == ("green", "green2")


async def test_unix_admin_socket(start_proxy: StartProxy, upstreams: Upstreams, tmp_path: Path) -> None:
    sock = tmp_path / "admin.sock"
    p = await start_proxy(admin=f"unix:{sock}")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    await p.route(0, 100)
    assert (await get(p.production)).color == "green"
    assert oct(sock.stat().st_mode & 0o777) == "0o600"


async def test_port_taken_exits_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "turnout.proxy", "--production", f"127.0.0.1:{port}",
            "--test", f"127.0.0.1:{free_port()}", "--admin", f"127.0.0.1:{free_port()}",
            "--token-file", str(tmp_path / "token"), "--state-file", str(tmp_path / "s.json"),
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode not in (0, None)
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0]


async def test_broken_state_file_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "s.json").write_text('{"weights": {"blue": 60, "green": 60}, "backends": {}}')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "turnout.proxy", "--production", f"127.0.0.1:{free_port()}",
        "--test", f"127.0.0.1:{free_port()}", "--admin", f"127.0.0.1:{free_port()}",
        "--token-file", str(tmp_path / "token"), "--state-file", str(tmp_path / "s.json"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2 and b"state file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("junk", ["null", '{"weights": 7}', '{"weights": {"blue": 100, "green": 0}}', "\x00\xff{"])
async def test_a_damaged_state_file_is_set_aside_when_asked(tmp_path: Path, junk: str) -> None:
    # what the agent asks for: its store holds the routes and sets them again, so start rather than refuse
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "s.json").write_text(junk)
    admin = f"127.0.0.1:{free_port()}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "turnout.proxy", "--production", f"127.0.0.1:{free_port()}",
        "--test", f"127.0.0.1:{free_port()}", "--admin", admin, "--damaged-state", "set-aside",
        "--initial-weights", "0,100",
        "--token-file", str(tmp_path / "token"), "--state-file", str(tmp_path / "s.json"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            for _ in range(250):
                try:
                    state = (await client.get(f"http://{admin}/state")).json()
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.02)
            else:
                raise AssertionError("the proxy did not start")
        assert state["backends"] == {"blue": [], "green": []}  # no instances until the controller sets them
        assert state["weights"] == {"blue": 0, "green": 100}  # the controller's last split, not the default
        [aside] = tmp_path.glob("s.json.damaged-*")
        assert aside.read_text() == junk  # kept as it was, for a look
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert b"is not valid" in err and b"moved it to" in err


async def test_initial_weights_never_override_a_state_file(start_proxy: StartProxy, tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"weights": {"blue": 100, "green": 0}, "backends": {}, "generation": 4}')
    p = await start_proxy("--initial-weights", "0,100")
    assert (await p.state())["weights"] == {"blue": 100, "green": 0}


@pytest.mark.parametrize("bad", ["50", "50,60", "a,b", "-1,101"])
async def test_bad_initial_weights_is_one_line(tmp_path: Path, bad: str) -> None:
    (tmp_path / "token").write_text(TOKEN)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "turnout.proxy", "--production", f"127.0.0.1:{free_port()}",
        "--test", f"127.0.0.1:{free_port()}", "--admin", f"127.0.0.1:{free_port()}", f"--initial-weights={bad}",
        "--token-file", str(tmp_path / "token"), "--state-file", str(tmp_path / "s.json"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1 and b"--initial-weights" in err, err
