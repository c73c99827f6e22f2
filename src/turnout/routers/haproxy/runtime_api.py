"""HAProxy's Runtime API over its stats socket, and the config turnout generates for an owned HAProxy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from turnout.errors import RouterError
from turnout.model import Color, Endpoint

WEIGHTS_MAP = "turnout-weights.map"  # key `green` -> percent of production traffic to green
TEST_MAP = "turnout-test.map"  # key `test` -> backend the test frontend uses
SERVING_MASK = 0x01 | 0x02 | 0x20  # srv_admin_state bits for forced/inherited/resolution maintenance


TRAFFIC_TABLE = "turnout_traffic"  # a stick table: one row per color, one counter per latency bucket
LATENCY_MS = (1, 3, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)  # bucket bounds (HAProxy counts in ms)


def backend(color: Color) -> str:
    """The color's backend for production traffic (its counters are production's alone)."""
    return f"turnout_{color.value}"


def test_backend(color: Color) -> str:
    """The same instances for the test listener, in a backend of their own so test traffic never
    counts as user traffic."""
    return f"turnout_test_{color.value}"


def color_of_test_backend(name: str) -> Color | None:
    return next((c for c in Color if name == test_backend(c)), None)


@dataclass(frozen=True)
class Slot:
    name: str
    endpoint: Endpoint
    serving: bool


async def command(socket_path: str, line: str, wait: float = 5.0) -> str:
    """Send one line (commands may be `;`-separated) and read until HAProxy closes the connection."""
    async def go() -> str:
        reader, writer = await asyncio.open_unix_connection(socket_path)
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode(errors="replace")
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(go(), wait)
    except (OSError, TimeoutError) as exc:
        raise RouterError(f"HAProxy is not answering on its stats socket {socket_path}: {exc or 'timeout'}",
                          hint="is HAProxy running? `turnout` restarts an owned one on the next prepare") from None


def parse_servers(text: str) -> list[Slot]:
    """`show servers state <backend>` (format 1: a version line, a `#` header, one row per server)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = next((ln[1:].split() for ln in lines if ln.startswith("#")), None)
    if not lines or lines[0].strip() != "1" or header is None:
        raise RouterError(f"unexpected `show servers state` output from HAProxy: {text[:200]!r}")
    slots = []
    for ln in lines:
        if ln.startswith("#") or ln.strip() == "1":
            continue
        row = dict(zip(header, ln.split(), strict=False))
        admin = int(row["srv_admin_state"])
        endpoint = Endpoint(row["srv_addr"], int(row["srv_port"]))
        slots.append(Slot(row["srv_name"], endpoint, serving=not admin & SERVING_MASK))
    return slots


def parse_stat(text: str) -> dict[str, dict[str, str]]:
    """`show stat` (CSV with a `# pxname,svname,...` header): the BACKEND row of each proxy."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        raise RouterError(f"unexpected `show stat` output from HAProxy: {text[:200]!r}")
    header = lines[0][2:].split(",")
    rows = (dict(zip(header, ln.split(","), strict=False)) for ln in lines[1:])
    return {r["pxname"]: r for r in rows if r.get("svname") == "BACKEND"}


def parse_table(text: str) -> dict[str, list[int]]:
    """`show table <name>` rows: `0x... key=turnout_blue use=0 exp=0 gpc0=3 gpc1=0 ...` -> counters by key."""
    found: dict[str, list[int]] = {}
    for ln in text.splitlines():
        if not ln.startswith("0x"):
            continue
        fields = dict(part.split("=", 1) for part in ln.split()[1:] if "=" in part)
        counters = sorted((int(k[3:]), int(v)) for k, v in fields.items() if k.startswith("gpc") and k[3:].isdigit())
        found[fields.get("key", "")] = [v for _, v in counters]
    return found


def latency_rules(indent: str = "    ") -> list[str]:
    """Backend rules that count each production response in its latency bucket (ms since the
    request arrived, set by the frontend); HAProxy 2.6 has no timer fetch, so `date(0,ms)` it is."""
    rules = [f"{indent}http-response set-var(txn.turnout_ms) date(0,ms),sub(txn.turnout_t0)",
             f"{indent}http-response track-sc2 be_name table {TRAFFIC_TABLE}"]
    lower = None
    for i, bound in enumerate((*LATENCY_MS, None)):
        conds = []
        if lower is not None:
            conds.append(f"!{{ var(txn.turnout_ms) -m int lt {lower} }}")
        if bound is not None:
            conds.append(f"{{ var(txn.turnout_ms) -m int lt {bound} }}")
        rules.append(f"{indent}http-response sc-inc-gpc({i},2) if " + " ".join(conds))
        lower = bound
    return rules


def parse_map(text: str) -> dict[str, str]:
    """`show map <file>` rows look like `0x55d1c0 green 30`."""
    entries = {}
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) == 3 and parts[0].startswith("0x"):
            entries[parts[1]] = parts[2]
        elif ln.strip():
            raise RouterError(f"unexpected `show map` output from HAProxy: {text[:200]!r}")
    return entries


def find_maps(text: str) -> dict[str, str]:
    """`show map` lists loaded map files: `0 (/path/turnout-weights.map) pattern loaded ...`."""
    found = {}
    for ln in text.splitlines():
        if "(" in ln and ")" in ln:
            path = ln.split("(", 1)[1].split(")", 1)[0]
            found[Path(path).name] = path
    return found


def render_config(
    *, production: str, test: str, socket: str, maps_dir: Path, slots: dict[Color, list[Slot]],
    maxconn: int, threads: int | None, timeout_server: float, server_state_file: str | None = None,
    timeout_connect: float = 0.05,
) -> str:
    """An owned HAProxy's whole config, or (the frontends and backends part) a snippet for an attached one."""
    glob = [
        "global",
        f"    maxconn {maxconn}",
        f"    stats socket {socket} mode 600 level admin expose-fd listeners",
        "    stats timeout 30s",
    ]
    if threads:
        glob.append(f"    nbthread {threads}")
    if server_state_file:
        glob.append(f"    server-state-file {server_state_file}")
    lines = [
        *glob,
        "",
        "defaults",
        "    mode http",
        "    option http-keep-alive",
        "    option redispatch 1  # a retry goes to another instance: a killed one costs no request",
        "    retries 1  # with no other instance, HAProxy waits a second per retry: fail after one",
        # HAProxy waits min(timeout connect, 1 s) before retrying a refused connect: a short one
        # lets requests held on a dead instance fail (or go to another) quickly.
        f"    timeout connect {max(1, int(timeout_connect * 1000))}ms",
        "    timeout client 60s",
        f"    timeout server {int(timeout_server * 1000)}ms",
        "    timeout http-keep-alive 30s",
        *(["    load-server-state-from-file global"] if server_state_file else []),
        "",
        "# Latency buckets of production responses per color (read with `show table`).",
        f"backend {TRAFFIC_TABLE}",
        f"    stick-table type string len 32 size 8 store gpc({len(LATENCY_MS) + 1})",
        "",
        "# Production: the share of requests in the weights map goes to green, the rest to blue.",
        "frontend turnout_production",
        f"    bind {production}",
        "    http-request set-var(txn.turnout_t0) date(0,ms)",
        f"    http-request set-var(txn.turnout_green) str(green),map_str_int({maps_dir / WEIGHTS_MAP},0)",
        "    use_backend turnout_green if { rand(100),sub(txn.turnout_green) lt 0 }",
        "    default_backend turnout_blue",
        "",
        "# Test: always the idle color, named in the test map.",
        "frontend turnout_test",
        f"    bind {test}",
        f"    use_backend %[str(test),map({maps_dir / TEST_MAP},{test_backend(Color.GREEN)})]",
    ]
    for color in Color:
        for name in (backend(color), test_backend(color)):
            lines += ["", f"backend {name}", "    balance roundrobin"]
            if name == backend(color):
                lines += latency_rules()
            for slot in slots[color]:
                state = "" if slot.serving else " disabled"
                lines.append(f"    server {slot.name} {slot.endpoint.address}{state}")
    return "\n".join(lines) + "\n"


def slots_in_config(text: str) -> dict[Color, list[Slot]]:
    """The server slots an owned HAProxy's generated config lists per color (what a restart serves)."""
    found: dict[Color, list[Slot]] = {c: [] for c in Color}
    color = None
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["backend"]:
            color = next((c for c in Color if parts[1:2] == [backend(c)]), None)
        elif parts[:1] == ["server"] and color is not None and len(parts) >= 3:
            found[color].append(Slot(parts[1], Endpoint.parse(parts[2]), "disabled" not in parts[3:]))
    return found


def render_maps(weights_green: int, test_color: Color) -> tuple[str, str]:
    return f"green {weights_green}\n", f"test {test_backend(test_color)}\n"


def maps_valid(weights_text: str, test_text: str) -> bool:
    """Whether the map files hold what render_maps writes (a damaged one makes HAProxy refuse to start)."""
    def rows(text: str) -> list[list[str]]:
        return [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]

    match rows(weights_text), rows(test_text):
        case [["green", green]], [["test", backend_name]]:
            return green.isdigit() and int(green) <= 100 and color_of_test_backend(backend_name) is not None
    return False
