"""Sessions across a switch and a rollback: the library against a real redis-server, and the
`sessions` check against two real example-app processes (old and new version) sharing it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from turnout import config
from turnout import plugins as registry
from turnout.checks.base import Target
from turnout.checks.sessions import SessionCompatCheck
from turnout.contrib.sessions import IncompatibleSession, Payload, SessionNotFound, SessionStore
from turnout.errors import ConfigError
from turnout.infra.procs import free_port
from turnout.model import Color, Release, Verdict
from turnout.testing import check_from_config

APP = Path(__file__).resolve().parents[1] / "src" / "turnout" / "examples" / "app.py"
BLUE = {"version": "1.0.0", "color": "blue"}
GREEN = {"version": "2.0.0", "color": "green"}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port; a missing binary fails, it never skips."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server not found: install it (Debian: apt-get install redis-server)")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    with (folder / "redis.log").open("wb") as log:
        proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                 "--appendonly", "no", "--dir", str(folder)], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        with redis.Redis.from_url(url) as client:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"redis-server did not start: {(folder / 'redis.log').read_text()}")
                    time.sleep(0.02)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the library --------------------------------------------------------------------------------

def raw(store: SessionStore, session_id: str) -> Awaitable[Any]:
    return store.redis.get(store.key(session_id))


async def test_payload_carries_schema_and_writer(redis_url: str) -> None:
    async with SessionStore(redis_url, schema_version=1, required=("user",), writer=BLUE, ttl=60) as store:
        sid = await store.create({"user": "ada", "cart": [1]})
        assert json.loads(await raw(store, sid)) == {
            "schemaVersion": 1, "writtenBy": {**BLUE, "schema": 1}, "user": "ada", "cart": [1]}
        assert 50 < await store.redis.ttl(store.key(sid)) <= 60
        got = await store.get(sid)
        assert got.data == {"user": "ada", "cart": [1]}
        assert (got.schema_version, got.migrated, got.newer) == (1, False, False)
        assert (await store.update(sid, {"cart": [1, 2]})).data == {"user": "ada", "cart": [1, 2]}
        with pytest.raises(SessionNotFound, match="nope"):
            await store.get("nope")
        with pytest.raises(SessionNotFound):
            await store.update("nope", {"cart": []})
        with pytest.raises(ValueError, match="needs user"):
            await store.create({"cart": []})
        with pytest.raises(ValueError, match="schemaVersion"):
            await store.update(sid, {"schemaVersion": 9})
        assert await store.delete(sid) and not await store.delete(sid)


async def test_older_payloads_migrate_step_by_step_without_write_back(redis_url: str) -> None:
    steps: list[int] = []

    def to_v2(doc: Payload) -> Payload:
        steps.append(2)
        return {**doc, "lastSeenAt": doc["createdAt"]}

    def to_v3(doc: Payload) -> Payload:
        steps.append(3)
        return {**doc, "seenTwice": doc["lastSeenAt"] != doc["createdAt"]}  # needs v2's field: order matters

    v1 = SessionStore(redis_url, schema_version=1, writer=BLUE, ttl=60)
    v3 = SessionStore(redis_url, schema_version=3, migrations={2: to_v2, 3: to_v3}, required=("user", "seenTwice"),
                      writer=GREEN, ttl=3600)
    async with v1, v3:
        sid = await v1.create({"user": "ada", "createdAt": "t0"})
        got = await v3.get(sid)
        assert steps == [2, 3] and got.migrated and got.schema_version == 1 and got.read_as == 3
        assert got.data == {"user": "ada", "createdAt": "t0", "lastSeenAt": "t0", "seenTwice": False}
        assert got.written_by == {**BLUE, "schema": 1}
        assert json.loads(await raw(v1, sid))["schemaVersion"] == 1  # a read writes nothing back
        assert (await v1.get(sid)).data == {"user": "ada", "createdAt": "t0"}  # blue still reads it as it wrote it

        written = await v3.get(sid, write_back=True)
        stored = json.loads(await raw(v1, sid))
        assert written.schema_version == 3 and stored["schemaVersion"] == 3 and stored["seenTwice"] is False
        assert stored["writtenBy"] == {**GREEN, "schema": 3}
        assert await v1.redis.ttl(v1.key(sid)) <= 60  # write-back keeps the TTL: a read is no activity

        # A payload from before versioning counts as version 1.
        await v1.redis.set(v1.key("legacy"), json.dumps({"user": "bob", "createdAt": "t1"}))
        assert (await v3.get("legacy")).data["lastSeenAt"] == "t1"
        await v1.redis.set(v1.key("broken"), json.dumps({"user": "eve"}))
        with pytest.raises(IncompatibleSession, match="migration to schema 2 failed: KeyError"):
            await v3.get("broken")
    async with SessionStore(redis_url, schema_version=3, migrations={3: to_v3}) as gap:
        with pytest.raises(IncompatibleSession, match="no migration to schema 2"):
            await gap.get("legacy")


async def test_newer_payloads_are_read_tolerantly_and_unknown_fields_survive_old_writers(redis_url: str) -> None:
    def to_v2(doc: Payload) -> Payload:
        return {**doc, "lastSeenAt": "MIGRATED"}

    green = SessionStore(redis_url, schema_version=2, migrations={2: to_v2}, required=("user", "lastSeenAt"),
                         writer=GREEN)
    blue = SessionStore(redis_url, schema_version=1, required=("user",), writer=BLUE)  # rolled back to
    async with green, blue:
        sid = await green.create({"user": "ada", "lastSeenAt": "t1", "theme": "dark"})
        got = await blue.get(sid)
        assert got.newer and not got.migrated and got.schema_version == 2
        assert got.data == {"user": "ada", "lastSeenAt": "t1", "theme": "dark"}

        await blue.update(sid, {"cart": ["sku-1"]})
        stored = json.loads(await raw(blue, sid))
        assert stored == {"schemaVersion": 2, "writtenBy": {**BLUE, "schema": 1}, "user": "ada",
                          "lastSeenAt": "t1", "theme": "dark", "cart": ["sku-1"]}
        # Still version 2, so green does not migrate again over the fields blue only carried along.
        again = await green.get(sid)
        assert again.data["lastSeenAt"] == "t1" and not again.migrated and again.data["cart"] == ["sku-1"]


async def test_a_payload_missing_a_required_field_is_a_clear_error(redis_url: str) -> None:
    breaking = SessionStore(redis_url, schema_version=2, required=("userId",), writer=GREEN)  # renamed user
    blue = SessionStore(redis_url, schema_version=1, required=("user",), writer=BLUE)
    async with breaking, blue:
        sid = await breaking.create({"userId": "ada"})
        before = await raw(blue, sid)
        with pytest.raises(IncompatibleSession) as err:
            await blue.get(sid)
        assert err.value.missing == ("user",) and err.value.stored_version == 2 and err.value.session_id == sid
        assert "(schema 2, written by 2.0.0/green) lacks required field(s) user of schema 1" in str(err.value)
        with pytest.raises(IncompatibleSession):
            await blue.update(sid, {"cart": []})
        assert await raw(blue, sid) == before  # an update it cannot understand writes nothing

        for junk in ("not json", "[1, 2]", json.dumps({"schemaVersion": "two", "user": "x"})):
            await blue.redis.set(blue.key("junk"), junk)
            with pytest.raises(IncompatibleSession, match="junk"):
                await blue.get("junk")


async def test_concurrent_updates_from_both_colors_lose_nothing(redis_url: str) -> None:
    async with SessionStore(redis_url, schema_version=1, writer=BLUE) as blue, \
            SessionStore(redis_url, schema_version=2, migrations={2: dict}, writer=GREEN) as green:
        sid = await blue.create({"user": "ada"})
        await asyncio.gather(*(store.update(sid, {f"{store.writer['color']}{i}": i})
                               for i in range(15) for store in (blue, green)))
        data = (await blue.get(sid)).data
        assert len(data) == 31 and data["blue14"] == 14 and data["green14"] == 14


def test_store_arguments_are_validated() -> None:
    for bad in ({"schema_version": 0}, {"schema_version": 2, "migrations": {1: dict}},
                {"schema_version": 2, "migrations": {3: dict}}, {"schema_version": 1, "ttl": 0}):
        with pytest.raises(ValueError):
            SessionStore("redis://127.0.0.1:1/0", **bad)


# -- the example app and the check --------------------------------------------------------------

@dataclass
class App:
    url: str
    proc: asyncio.subprocess.Process


StartApp = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_app(tmp_path: Path) -> AsyncIterator[StartApp]:
    """start_app(*args, env=...) -> App: examples/app.py on a free port, stopped at teardown."""
    procs: list[asyncio.subprocess.Process] = []
    inherited = {k: v for k, v in os.environ.items() if k not in {"SESSION_REDIS_URL", "DATABASE_URL"}}

    async def start(*args: str, env: dict[str, str] | None = None) -> App:
        log = tmp_path / f"app-{len(procs)}.log"
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(APP), "--port", "0", *args, stdout=asyncio.subprocess.PIPE, stderr=err,
                env={**inherited, **(env or {})})
        procs.append(proc)
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        assert line.startswith("listening on "), f"{line!r}; log: {log.read_text()}"
        return App(line.split()[2], proc)

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def target(live: str, idle: str, version: str) -> Target:
    return Target(url=idle, color=Color.GREEN, release=Release(version), baseline_url=live)


async def test_example_app_session_endpoints(start_app: StartApp, redis_url: str) -> None:
    v2 = await start_app("--version", "2.0.0", "--session-schema", "2", "--session-redis", redis_url)
    async with httpx.AsyncClient(base_url=v2.url, trust_env=False, timeout=5) as c:
        created = await c.post("/session", json={"user": "ada", "cart": [1]})
        assert created.status_code == 201 and created.json()["schemaVersion"] == 2
        sid = created.json()["id"]
        patched = await c.patch(f"/session/{sid}", json={"cart": [1, 2]})
        body = patched.json()
        assert body["schemaVersion"] == 2 and body["writtenBy"] == {"version": "2.0.0", "schema": 2}
        assert body["session"]["cart"] == [1, 2] and body["session"]["user"] == "ada"
        assert {"createdAt", "lastSeenAt"} <= set(body["session"])
        assert (await c.post("/session", json={"cart": []})).status_code == 400  # no user
        assert (await c.patch(f"/session/{sid}", json={"schemaVersion": 1})).status_code == 400
        assert (await c.get("/session/nope")).status_code == 404
    down = await start_app("--session-redis", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    async with httpx.AsyncClient(base_url=down.url, trust_env=False, timeout=10) as c:
        answer = await c.post("/session", json={"user": "ada"})
        assert answer.status_code == 503 and "session store unavailable" in answer.json()["error"]
    proc = await asyncio.create_subprocess_exec(sys.executable, str(APP), "--port", "0", "--version", "3+sessions-v3",
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 2 and b"the example knows 1 and 2" in err


async def test_check_passes_a_compatible_schema_change_both_ways(start_app: StartApp, redis_url: str) -> None:
    blue, green = await asyncio.gather(
        start_app("--version", "1.0.0", "--color", "blue", "--session-redis", redis_url),
        start_app("--version", "2.0.0+sessions-v2", "--color", "green", env={"SESSION_REDIS_URL": redis_url}))
    m = await SessionCompatCheck().measure(target(blue.url, green.url, "2.0.0+sessions-v2"))
    assert m.verdict is Verdict.PASS, m.detail
    assert m.data["schema_versions"] == {"live": {"writes": 1, "reads_as": 1}, "idle": {"writes": 2, "reads_as": 2}}
    assert [s["status"] for s in m.data["steps"]] == [201, 200, 201, 200, 200, 200, 200]
    assert "blue (live) writes schema 1, green (idle, 2.0.0+sessions-v2) writes schema 2" in m.detail
    # Deploying the older release again (v2 live, v1 idle) is just as compatible.
    back = await SessionCompatCheck().measure(target(green.url, blue.url, "1.0.0"))
    assert back.verdict is Verdict.PASS, back.detail


async def test_check_fails_when_the_old_color_cannot_read_the_new_sessions(start_app: StartApp,
                                                                          redis_url: str) -> None:
    other_store = redis_url.rsplit("/", 1)[0] + "/1"
    blue, breaking, elsewhere = await asyncio.gather(
        start_app("--version", "1.0.0", "--color", "blue", "--session-redis", redis_url),
        start_app("--version", "2.0.0+sessions-breaking", "--color", "green", "--session-redis", redis_url),
        start_app("--version", "2.0.0", "--color", "green", "--session-redis", other_store))
    m = await SessionCompatCheck().measure(target(blue.url, breaking.url, "2.0.0+sessions-breaking"))
    assert m.verdict is Verdict.FAIL and m.value == 2, m.detail
    assert "forward" not in m.detail  # green migrates blue's sessions fine; rollback is what breaks
    assert ("rollback: blue (live) reading the session green (idle, 2.0.0+sessions-breaking) created: HTTP 409: "
            in m.detail)
    assert "lacks required field(s) user of schema 1" in m.detail
    assert "rollback: blue (live) reading the session green (idle, 2.0.0+sessions-breaking) updated" in m.detail
    assert m.data["schema_versions"]["idle"]["writes"] == 2

    split = await SessionCompatCheck().measure(target(blue.url, elsewhere.url, "2.0.0"))
    assert split.verdict is Verdict.FAIL, split.detail
    assert "forward: green (idle, 2.0.0) reading the session blue (live) created: HTTP 404" in split.detail
    assert "same session store" in split.detail


async def test_check_errors_without_session_endpoints(start_app: StartApp, redis_url: str) -> None:
    plain, with_sessions = await asyncio.gather(start_app("--version", "1.0.0"),
                                                start_app("--version", "2.0.0", "--session-redis", redis_url))
    check = SessionCompatCheck()
    m = await check.measure(target(plain.url, with_sessions.url, "2.0.0"))
    assert m.verdict is Verdict.ERROR and "blue (live) has no session endpoint" in m.detail, m.detail
    m = await check.measure(target(with_sessions.url, plain.url, "1.0.0"))
    assert m.verdict is Verdict.ERROR and "green (idle, 1.0.0) has no session endpoint" in m.detail, m.detail
    m = await check.measure(target(f"http://127.0.0.1:{free_port()}", with_sessions.url, "2.0.0"))
    assert m.verdict is Verdict.ERROR and "unreachable" in m.detail, m.detail
    m = await check.measure(target("", with_sessions.url, "2.0.0"))
    assert m.verdict is Verdict.INCONCLUSIVE
    wrong_read = SessionCompatCheck(read_path="/sessions/{id}")
    m = await wrong_read.measure(target(with_sessions.url, with_sessions.url, "2.0.0"))
    assert m.verdict is Verdict.ERROR and "check read_path" in m.detail, m.detail


def test_check_options_from_config() -> None:
    def parse(entry: str) -> SessionCompatCheck:
        cfg = config.parse(f'[app]\nname = "shop"\n\n[[checks]]\nkind = "sessions"\n{entry}\n')
        cls = registry.load("checks", "sessions", key=("checks", 0, "kind"))
        assert cls is SessionCompatCheck
        made: SessionCompatCheck = check_from_config(cls, cfg.checks[0], cfg)
        return made

    check = parse('name = "carts"\nread_path = "/s/{id}"\npayload = { user = "probe", n = 3 }\nupdate = { x = 1 }')
    assert (check.name, check.create_path, check.read_path) == ("carts", "/session", "/s/{id}")
    assert (check.payload, check.update) == ({"user": "probe", "n": 3}, {"x": 1})
    with pytest.raises(ConfigError, match=r"checks\[0\]\.bogus: unknown key"):
        parse("bogus = 1")
    with pytest.raises(ConfigError, match=r"checks\[0\]\.read_path: must contain \{id\}"):
        parse('read_path = "/session"')
