"""Fuzz turnout.toml: generated from docs/config.md's tables, no file may crash `turnout check-config`.

Each input is a turnout.toml with a random router and runtime kind and random sections, keys and values
(mostly sane, a share hostile: wrong types, negative and huge numbers, NaN, NUL, unknown placeholders,
odd addresses). It is parsed and every driver is built as `turnout check-config` does. A config or
driver error is a good answer; any other exception is a crash, counted by kind with its smallest input.

    python benchmarks/fuzz_config.py --seconds 150 --hostile 0.08 --seed 8

Bounded by --seconds; exit 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import tomli_w

from turnout.config import Config, parse
from turnout.control.local import Stack
from turnout.errors import TurnoutError

REFERENCE = Path(__file__).parent.parent / "docs" / "config.md"
ROUTERS = ["builtin", "haproxy", "envoy", "nginx", "kubernetes", "gateway_api", "aws_alb"]
RUNTIMES = ["process", "static", "kubernetes", "docker"]
CHECK_KINDS = ["http", "load", "latency", "error_rate", "soak", "chaos", "smoke-traffic", "sessions", "dependencies",
               "feature_flags", "bogus"]
WEIRD = ["", " ", "nonsense", "x" * 5000, "\x00", "\u202e", "127.0.0.1:0", "127.0.0.1:99999", "[::1]:8080",
         "unix:/tmp/x", "http://127.0.0.1:1/", "1s", "-1s", "1e400s", "nan", "inf", "0", "{port}", "{nope}", "{",
         "/", "../../etc", "blue", "green", "auto", "KILL", "halt", "json", "5xx", "p99", "999ms", "10%", "1,2",
         "héllo", "a\nb", "localhost:8080", "127.0.0.1", ":8080", "0.0.0.0:8080", "256.1.1.1:80", "*:80", "${HOME}"]
SANE = {"url": "http://127.0.0.1:9/hook", "point": "before-switch", "preview_instances": 1, "tolerance": 0.5,
        "checks": {}, "name": "n1", "path": "/health", "query": "up", "address": "127.0.0.1:9090"}
Section = tuple[str, str | None, str | None]  # (dotted name, "router"/"runtime"/"checks" or None, kind)


def sections() -> dict[Section, list[tuple[str, str, str]]]:
    """(key, type, default) per section of the generated reference."""
    out: dict[Section, list[tuple[str, str, str]]] = {}
    current: Section | None = None
    for line in REFERENCE.read_text().splitlines():
        if line == "## Top level":
            current = ("", None, None)
            out[current] = []
        elif m := re.match(r"## `\[\[?([\w.<>]+)\]\]?`(?: with (\w+)\.kind = \"(\w+)\")?", line):
            current = (m[1], m[2], m[3])
            out[current] = []
        elif (m := re.match(r"\| `(\w+)` \| ([^|]+) \| ([^|]*) \|", line)) and current is not None:
            out[current].append((m[1], m[2].strip(), m[3].strip()))
    return out


class Generator:
    def __init__(self, rnd: random.Random, hostile: float) -> None:
        self.rnd, self.hostile, self.sections = rnd, hostile, sections()

    def scalar(self) -> Any:
        r = self.rnd
        return r.choice([r.choice(WEIRD), r.randint(-5, 5), r.choice([0, -1, 2**63, 10**30, 65536]),
                         r.choice([0.0, -0.5, 1e308, 0.001, float("nan"), float("inf")]), r.choice([True, False]),
                         [], [r.choice(WEIRD)], {}, {"a": r.choice(WEIRD)}])

    def value(self, key: str, typ: str, default: str) -> Any:
        r, hostile = self.rnd, self.hostile
        if key in SANE and r.random() > hostile * 4:
            return SANE[key]
        if r.random() < hostile:
            return self.scalar()
        sane = r.random() > hostile * 4
        if "duration" in typ:
            return r.choice(["500ms", "30s", "2s", 1, 5] if sane else ["0s", "-3s", "1d", "99999999h", 2.5])
        if "boolean" in typ:
            return r.choice([True, False])
        if "integer" in typ:
            return r.choice([1, 2, 3, 10] if sane else [0, -1, 65535, 100])
        if "number" in typ:
            return r.choice([0.5, 1, 2.0, 0.1] if sane else [0, 99.9, 101, -1])
        if "list of string" in typ:
            return [r.choice(WEIRD) for _ in range(r.randint(0, 3))]
        if "list of integer" in typ:
            return [r.randint(-5, 120) for _ in range(r.randint(0, 5))]
        if typ.startswith("table"):
            return {r.choice(["blue", "green", "a", "x-y", "PATH"]): r.choice(WEIRD) for _ in range(r.randint(0, 2))}
        if typ.startswith('"'):
            return r.choice([*re.findall(r'"([^"]+)"', typ), "bogus"])
        if "string" in typ:
            return default.strip('`"') if sane else r.choice(WEIRD)
        return self.scalar()

    def config(self) -> dict[str, Any]:
        r = self.rnd
        doc: dict[str, Any] = {"app": {"name": r.choice(["a b", "", "-x"]) if r.random() < self.hostile else "shop"}}
        router, runtime = r.choice(ROUTERS), r.choice(RUNTIMES)
        doc["router"], doc["runtime"] = {"kind": router}, {"kind": runtime}
        if runtime == "process":
            doc["runtime"]["command"] = ["python3", "app.py", "--port", "{port}"]
        if runtime == "static":
            doc["runtime"]["hosts"] = {"blue": ["127.0.0.1:9001"], "green": ["127.0.0.1:9002"]}
        for (name, of, kind), keys in self.sections.items():
            if of in ("router", "runtime") and (kind != (router if of == "router" else runtime) or r.random() < 0.3):
                continue
            if r.random() < 0.5 and name != "app":
                continue
            if name in ("checks", "notify", "gates"):
                for _ in range(r.randint(1, 2)):
                    item = {"kind": kind or r.choice(CHECK_KINDS)} if name == "checks" else {}
                    item |= {k: self.value(k, t, d) for k, t, d in keys if r.random() < 0.4}
                    doc.setdefault(name, []).append(item)
                continue
            target = f"{of}.options" if of in ("router", "runtime") else name.replace(
                "<name>", r.choice(["error_rate", "latency", "bogus"]))
            for k, t, d in keys:
                if r.random() < 0.3:
                    put(doc, f"{target}.{k}" if target else k, self.value(k, t, d))
        if r.random() < 0.1:
            put(doc, r.choice(["router", "deploy", "stabilize", "x"]) + ".unknown_key", 1)
        return doc


def put(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        doc = doc.setdefault(p, {})
        if not isinstance(doc, dict):
            return
    doc[last] = value


async def build(cfg: Config) -> None:
    stack = Stack.build(cfg)  # every driver's options, as check-config
    await stack.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hostile", type=float, default=0.05, help="share of values that are wrong on purpose")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    gen = Generator(random.Random(args.seed), args.hostile)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-config-"))
    inputs = valid = 0
    crashes, smallest = Counter[str](), {}
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        try:
            text = tomli_w.dumps(gen.config())
        except (TypeError, ValueError):  # not representable in TOML (e.g. a NUL in a key)
            continue
        inputs += 1
        try:
            cfg = parse(text, source=str(folder / "turnout.toml"), base_dir=folder)
            valid += 1
            asyncio.run(build(cfg))
        except TurnoutError:
            pass
        except Exception as exc:  # anything but a config or driver error is the finding
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            kind = f"{type(exc).__name__}: {str(exc)[:80]} at {Path(frame.filename).name}:{frame.lineno}"
            crashes[kind] += 1
            if kind not in smallest or len(text) < len(smallest[kind]):
                smallest[kind] = text
    print(f"{inputs} configs in {args.seconds:g} s ({valid} valid, built), {sum(crashes.values())} crashes of "
          f"{len(crashes)} kinds")
    for kind, n in crashes.most_common(15):
        print(f"== {n}x {kind}\n{smallest[kind][:1500]}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
