"""Routing state: weights, backends per color, passive health, and its JSON file.

The data plane reads `Router.snap` once per request; every change builds a new immutable `Snapshot`
and swaps it in one assignment, so a request never sees half an update and never mixes colors.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout.proxy.upstream import UpstreamConn

COLORS = ("blue", "green")
DOWN_SECONDS = 2.0  # how long a backend that refused a connection is skipped


class Backend:
    """One upstream instance with its pool of idle keep-alive connections."""

    __slots__ = ("addr", "down_until", "host", "idle", "port", "retired")

    def __init__(self, addr: str) -> None:
        self.addr = addr
        host, _, port = addr.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.idle: list[UpstreamConn] = []  # LIFO: hot connections stay warm, cold ones age out
        self.down_until = 0.0
        self.retired = False  # removed from every color: close connections instead of pooling them


class ColorSet:
    """The instances of one color in one snapshot, with its round-robin cursor."""

    __slots__ = ("backends", "color_line", "index", "name", "rr")

    def __init__(self, name: str, backends: list[Backend]) -> None:
        self.name = name
        self.index = COLORS.index(name)
        self.backends = backends
        self.rr = 0
        self.color_line = b"x-turnout-color: " + name.encode() + b"\r\n"

    def pick(self, now: float, tried: list[Backend] | None = None) -> Backend | None:
        """Next healthy instance round-robin; if all are marked down, any not yet tried (they may be back)."""
        bs = self.backends
        n = len(bs)
        for _ in range(n):
            b = bs[self.rr % n]
            self.rr += 1
            if b.down_until <= now and (tried is None or b not in tried):
                return b
        for b in bs:
            if tried is None or b not in tried:
                return b
        return None


class Snapshot:
    __slots__ = ("colors", "fixed", "generation", "green_weight", "test", "weights")

    def __init__(self, weights: tuple[int, int], colors: tuple[ColorSet, ColorSet], generation: int) -> None:
        self.weights = weights
        self.colors = colors
        self.generation = generation
        self.green_weight = weights[1]
        # A pure route (100/0) needs no per-request arithmetic.
        self.fixed = colors[0] if weights[0] == 100 else colors[1] if weights[1] == 100 else None
        self.test = colors[0] if weights[1] > weights[0] else colors[1]


class Router:
    def __init__(self) -> None:
        self.registry: dict[str, Backend] = {}
        self.snap = Snapshot((100, 0), (ColorSet("blue", []), ColorSet("green", [])), 0)
        self._acc = 0

    def production(self) -> ColorSet:
        s = self.snap
        if s.fixed is not None:
            return s.fixed
        # Smooth split: green gets exactly green_weight of every 100 requests, evenly spread.
        self._acc += s.green_weight
        if self._acc >= 100:
            self._acc -= 100
            return s.colors[1]
        return s.colors[0]

    def apply(self, weights: tuple[int, int] | None = None, backends: dict[str, list[str]] | None = None,
              generation: int | None = None) -> Snapshot:
        old = self.snap
        colors = old.colors
        if backends is not None:
            lists = {c: [b.addr for b in cs.backends] for c, cs in zip(COLORS, colors, strict=True)}
            lists.update(backends)
            wanted = {a for addrs in lists.values() for a in addrs}
            for addr in wanted:
                if addr not in self.registry:
                    self.registry[addr] = Backend(addr)
            for addr in [a for a in self.registry if a not in wanted]:
                retire(self.registry.pop(addr))
            colors = (ColorSet("blue", [self.registry[a] for a in lists["blue"]]),
                      ColorSet("green", [self.registry[a] for a in lists["green"]]))
        gen = old.generation + 1 if generation is None else generation
        self.snap = Snapshot(weights or old.weights, colors, gen)
        return self.snap

    def to_json(self) -> dict[str, Any]:
        s = self.snap
        return {"weights": dict(zip(COLORS, s.weights, strict=True)),
                "backends": {cs.name: [b.addr for b in cs.backends] for cs in s.colors},
                "generation": s.generation}

    def healthy(self, now: float) -> dict[str, list[str]]:
        return {cs.name: [b.addr for b in cs.backends if b.down_until <= now] for cs in self.snap.colors}


def retire(b: Backend) -> None:
    b.retired = True
    idle, b.idle = b.idle, []
    for conn in idle:
        conn.close()


# -- validation (admin API and state file share it) ----------------------------------------------

def parse_pair(text: str) -> tuple[int, int]:
    """--initial-weights BLUE,GREEN."""
    try:
        blue, green = (int(x) for x in text.split(","))
        return parse_weights({"blue": blue, "green": green})
    except ValueError:
        raise ValueError(f"--initial-weights: expected BLUE,GREEN summing to 100 like 0,100, got {text!r}") from None


def parse_weights(obj: Any) -> tuple[int, int]:
    if not isinstance(obj, dict) or not obj or set(obj) - set(COLORS):
        raise ValueError('weights must be an object like {"blue": 0, "green": 100}')
    w = [obj.get(c, 0) for c in COLORS]
    if any(type(v) is not int or v < 0 for v in w) or sum(w) != 100:
        raise ValueError(f"weights must be non-negative integers summing to 100, got {obj}")
    return w[0], w[1]


def parse_backends(obj: Any) -> dict[str, list[str]]:
    if not isinstance(obj, dict) or set(obj) - set(COLORS):
        raise ValueError('backends must be an object like {"blue": ["127.0.0.1:9001"], "green": [...]}')
    out: dict[str, list[str]] = {}
    for color, addrs in obj.items():
        if not isinstance(addrs, list):
            raise ValueError(f"backends.{color} must be a list of host:port strings")
        for a in addrs:
            host, _, port = a.rpartition(":") if isinstance(a, str) else ("", "", "")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"backends.{color}: {a!r} is not host:port")
        out[color] = list(addrs)
    return out


def load(path: str, router: Router) -> bool:
    """Restore the last routing state (True if there was one); a missing file is a fresh start, a broken one
    an error."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return False
    if not raw.strip():
        return False
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        weights = parse_weights(data["weights"])
        backends = parse_backends(data["backends"])
        generation = int(data.get("generation", 0))
    except KeyError as exc:
        raise ValueError(f"state file {path} is not valid: {exc} is missing") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"state file {path} is not valid: {exc}") from None
    router.apply(weights, backends, generation)
    return True


def save(path: str, data: dict[str, Any]) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
