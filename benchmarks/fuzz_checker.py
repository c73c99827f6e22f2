"""Fuzz `turnout migrate check` with mutated corpus files: no input may crash the checker.

Every file of benchmarks/corpus (PostgreSQL: postgresql/, real/, schema/; MySQL and SQLite: mysql/) is cut,
has tokens dropped, repeated, swapped or SQL keywords and turnout's own comment markers inserted, and goes
through `Checker.check_text` as `turnout migrate check` runs it. A verdict or a located SQL error is a good
answer; any other exception is a crash, counted by kind with its shortest input.

    python benchmarks/fuzz_checker.py --dialect mysql --seconds 240 --seed 2

Bounded by --seconds; exit 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from turnout.migrate.check import Checker
from turnout.migrate.context import CheckOptions

CORPUS = Path(__file__).parent / "corpus"
FOLDERS = {"postgresql": ["postgresql", "real", "schema"], "mysql": ["mysql"], "sqlite": ["mysql"]}
INSERTS = ["ALTER", "TABLE", "ADD", "COLUMN", "DROP", "NOT", "NULL", "DEFAULT", "(", ")", ",", ";", "INDEX",
           "CONCURRENTLY", "TYPE", "USING", "CONSTRAINT", "CHECK", "FOREIGN KEY", "REFERENCES", "UNIQUE", "RENAME",
           "TO", "SET", "ON", "BEGIN", "COMMIT", "$$", "'", '"', "--", "/*", "*/", "DO", "UPDATE", "WHERE", "DELETE",
           "CREATE", "VIEW", "varchar(10)", "int", "bigint", "now()", "PRIMARY KEY", "IF EXISTS", "IF NOT EXISTS",
           "MODIFY", "CHANGE", "ALGORITHM=INPLACE", "LOCK=NONE", "AFTER", "FIRST", "ENUM('a','b')", "\\", "\n", "0",
           "-1", "99999999999999999999", "-- turnout:ignore drop-column", "-- turnout:no-transaction",
           "-- turnout:postgres-version 9", "-- users.email is varchar(5)"]


def mutate(rnd: random.Random, text: str) -> str:
    tokens = re.findall(r"\s+|\w+|[^\w\s]", text)
    for _ in range(rnd.randint(1, 4)):
        if not tokens:
            tokens = [rnd.choice(INSERTS)]
        i = rnd.randrange(len(tokens))
        match rnd.randrange(5):
            case 0:
                tokens = tokens[:i]
            case 1:
                del tokens[i]
            case 2:
                tokens.insert(i, f" {rnd.choice(INSERTS)} ")
            case 3:
                tokens.insert(i, tokens[rnd.randrange(len(tokens))])
            case _:
                j = rnd.randrange(len(tokens))
                tokens[i], tokens[j] = tokens[j], tokens[i]
    return "".join(tokens)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dialect", choices=sorted(FOLDERS), default="postgresql")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    texts = [p.read_text() for d in FOLDERS[args.dialect] for p in sorted((CORPUS / d).rglob("*.sql"))]
    inputs, crashes, shortest = 0, Counter[str](), {}
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        text = rnd.choice(texts) + ("\n" + rnd.choice(texts) if rnd.random() < 0.3 else "")
        sql = mutate(rnd, text)
        inputs += 1
        try:
            Checker(CheckOptions(dialect=args.dialect)).check_text(sql, "fuzz.sql")
        except Exception as exc:  # anything but a verdict or a located error is the finding
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            kind = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            crashes[kind] += 1
            if kind not in shortest or len(sql) < len(shortest[kind]):
                shortest[kind] = sql
    print(f"{args.dialect}: {inputs} inputs in {args.seconds:g} s, {sum(crashes.values())} crashes of "
          f"{len(crashes)} kinds")
    for kind, n in crashes.most_common():
        print(f"== {n}x {kind}\n{shortest[kind][:600]!r}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
