"""Precision and recall of `turnout migrate check` against squawk on a labelled migration corpus.

    python benchmarks/migrations.py            # table
    python benchmarks/migrations.py --json     # machine-readable
    python benchmarks/migrations.py -v         # also list every file a tool got wrong
    python benchmarks/migrations.py --real     # only the corpus of real migrations (corpus/real) and timings

Two corpora. `corpus/{postgresql,mysql}` was written together with the rules (see docs/migrations.md).
`corpus/real/<dialect>/<project>/` holds 338 migrations copied from eight public projects, labelled
before turnout ran on them (corpus/real/README.md). turnout checks each project folder the way
`turnout migrate check <folder>` does: files in order, the schema carried forward, no schema file.
The first run on it (with the rules as they were when the labels were committed) is stored in
corpus/real/first_run.json and scored next to the current rules and squawk, run now.

Corpus: benchmarks/corpus/{postgresql,mysql}/*.sql. Each file starts with `-- expect: <classes>`
(`safe`, or a comma list of backward_incompatible, lock_risk, destructive) and optionally
`-- pg-version: N`. Labels come from PostgreSQL/InnoDB lock facts and the seed's compatibility table
(docs/migrations.md), not from either tool's output. A file counts for a class when a tool reports
at least one finding of that class.

Both tools see the same PostgreSQL files in the same run, with the same --pg-version. turnout runs
twice: with the corpus schema (`--schema`, as a deploy has the live database) and without it (the
bare linter, as squawk runs). squawk's rule names are mapped to classes below; style and hygiene
rules (timeouts, re-runnability, type preferences) are not problem classes and are dropped.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from turnout.migrate import Checker, CheckOptions

ROOT = Path(__file__).resolve().parent / "corpus"
REAL = ROOT / "real"
FIRST_RUN = REAL / "first_run.json"
CLASSES = ("backward_incompatible", "lock_risk", "destructive")
BI, LR, DE = CLASSES

# squawk 2.x rule -> problem classes (docs/migrations.md explains each choice).
SQUAWK_CLASSES: dict[str, set[str]] = {
    "ban-drop-column": {DE}, "ban-drop-table": {DE}, "ban-drop-database": {DE}, "ban-truncate-cascade": {DE},
    "ban-drop-schema": {DE},
    "renaming-column": {BI}, "renaming-table": {BI}, "renaming-object": {BI}, "adding-required-field": {BI},
    "ban-drop-not-null": {BI}, "ban-drop-default": {BI}, "ban-set-schema": {BI}, "ban-drop-view": {BI},
    "ban-drop-function": {BI}, "ban-drop-type": {BI}, "ban-drop-domain": {BI}, "ban-drop-sequence": {BI},
    "ban-drop-extension": {BI}, "ban-drop-generated-expression": {BI}, "ban-alter-identity": {BI},
    "ban-drop-constraint": {BI},
    "changing-column-type": {BI, LR}, "adding-not-nullable-field": {BI, LR},
    "adding-field-with-default": {LR}, "adding-foreign-key-constraint": {LR}, "adding-serial-primary-key-field": {LR},
    "ban-alter-domain-with-add-constraint": {LR}, "constraint-missing-not-valid": {LR},
    "disallowed-unique-constraint": {LR}, "require-concurrent-index-creation": {LR},
    "require-concurrent-index-deletion": {LR}, "require-concurrent-partition-detach": {LR},
    "require-concurrent-reindex": {LR}, "prefer-repack": {LR}, "ban-concurrent-index-creation-in-transaction": {LR},
}
SQUAWK_IGNORED = {
    "require-lock-timeout", "require-statement-timeout", "require-timeout-settings", "prefer-robust-stmts",
    "prefer-bigint-over-int", "prefer-bigint-over-smallint", "prefer-identity", "prefer-text-field",
    "prefer-timestamptz", "prefer-timestamp-tz", "ban-char-field", "identifier-too-long",
    "require-enum-value-ordering", "ban-duplicate-column-assignments", "ban-uncommitted-transaction",
    "transaction-nesting", "unused-ignore", "require-table-schema", "ban-create-domain-with-constraint",
}

Prediction = dict[str, set[str]]


def header(text: str, key: str) -> str | None:
    m = re.search(rf"^--\s*{key}:\s*(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else None


def load(dialect: str) -> dict[Path, tuple[set[str], int]]:
    out = {}
    for path in sorted((ROOT / dialect).glob("*.sql")):
        text = path.read_text()
        expect = header(text, "expect")
        if expect is None:
            raise SystemExit(f"{path}: missing `-- expect:` header")
        labels = {c.strip() for c in expect.split(",")} - {"safe"}
        if labels - set(CLASSES):
            raise SystemExit(f"{path}: unknown class in {expect!r}")
        out[path] = (labels, int(header(text, "pg-version") or 15))
    return out


def run_turnout(corpus: dict[Path, tuple[set[str], int]], dialect: str, schema: bool) -> Prediction:
    schemas = (ROOT / "schema" / f"{dialect}.sql",) if schema else ()
    pred: Prediction = {}
    for path, (_, version) in corpus.items():
        checker = Checker(CheckOptions(dialect=dialect, pg_version=version, schema=schemas))
        report = checker.check_text(path.read_text(), str(path))
        pred[str(path)] = {"error"} if report.error else {v.value for v in report.classes}
    return pred


def run_squawk(corpus: dict[Path, tuple[set[str], int]], unmapped: set[str]) -> Prediction:
    exe = shutil.which("squawk")
    if exe is None:
        raise SystemExit("squawk not found: pip install squawk-cli")
    pred: Prediction = {str(p): set() for p in corpus}
    for version in sorted({v for _, v in corpus.values()}):
        files = [str(p) for p, (_, v) in corpus.items() if v == version]
        res = subprocess.run([exe, "--reporter", "json", "--pg-version", f"{version}.0", *files],
                             capture_output=True, text=True, check=False)
        for v in json.loads(res.stdout or "[]"):
            rule = v["rule_name"]
            if rule == "syntax-error":
                pred[v["file"]].add("error")
            elif rule in SQUAWK_CLASSES:
                pred[v["file"]] |= SQUAWK_CLASSES[rule]
            elif rule not in SQUAWK_IGNORED:
                unmapped.add(rule)
    return pred


def score(corpus: dict[Path, tuple[set[str], int]], pred: Prediction) -> dict[str, object]:
    out: dict[str, object] = {}
    tot = {"tp": 0, "fp": 0, "fn": 0}
    for c in CLASSES:
        tp = sum(1 for p, (lab, _) in corpus.items() if c in lab and c in pred[str(p)])
        fp = sum(1 for p, (lab, _) in corpus.items() if c not in lab and c in pred[str(p)])
        fn = sum(1 for p, (lab, _) in corpus.items() if c in lab and c not in pred[str(p)])
        out[c] = _pr(tp, fp, fn)
        tot = {"tp": tot["tp"] + tp, "fp": tot["fp"] + fp, "fn": tot["fn"] + fn}
    out["micro"] = _pr(**tot)
    wrong = {str(p.relative_to(ROOT)): sorted(pred[str(p)]) for p, (lab, _) in corpus.items() if pred[str(p)] != lab}
    out["files_exact"] = len(corpus) - len(wrong)
    out["files"] = len(corpus)
    out["wrong"] = wrong
    return out


def _pr(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0}


def timed(fn: Callable[[], Prediction]) -> tuple[Prediction, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def table(title: str, corpus: dict[Path, tuple[set[str], int]], results: dict[str, dict[str, object]],
          seconds: dict[str, float]) -> Iterable[str]:
    counts = {c: sum(1 for lab, _ in corpus.values() if c in lab) for c in CLASSES}
    safe = sum(1 for lab, _ in corpus.values() if not lab)
    yield f"{title}: {len(corpus)} files (" + ", ".join(f"{c} {n}" for c, n in counts.items()) + f", safe {safe})"
    names = list(results)
    yield f"{'':24}" + "".join(f"{n:>22}" for n in names)
    yield f"{'':24}" + "".join(f"{'precision':>12}{'recall':>10}" for _ in names)
    for row in (*CLASSES, "micro"):
        cells = "".join(f"{results[n][row]['precision']:>12.3f}{results[n][row]['recall']:>10.3f}"  # type: ignore[index]
                        for n in names)
        yield f"{row:<24}{cells}"
    right = {n: f"{results[n]['files_exact']}/{results[n]['files']}" for n in names}
    yield f"{'files fully right':<24}" + "".join(f"{right[n]:>22}" for n in names)
    yield f"{'seconds':<24}" + "".join(f"{seconds[n]:>22.2f}" if seconds[n] == seconds[n] else f"{'(stored)':>22}"
                                       for n in names)


def load_real(dialect: str) -> dict[Path, tuple[set[str], int]]:
    out = {}
    for path in sorted((REAL / dialect).glob("*/*.sql")):
        expect = header(path.read_text(), "expect")
        if expect is None:
            raise SystemExit(f"{path}: missing `-- expect:` header")
        out[path] = ({c.strip() for c in expect.split(",")} - {"safe"}, 15)
    return out


def run_turnout_folders(dialect: str) -> Prediction:
    """`turnout migrate check <project folder>` for each project: files in order, schema carried forward."""
    pred: Prediction = {}
    for folder in sorted(p for p in (REAL / dialect).iterdir() if p.is_dir()):
        report = Checker(CheckOptions(dialect=dialect)).check_files(sorted(folder.glob("*.sql")))
        for f in report.files:
            pred[f.path] = {"error"} if f.error else {v.value for v in f.classes}
    return pred


def first_run(corpus: dict[Path, tuple[set[str], int]], dialect: str) -> tuple[Prediction, str] | None:
    if not FIRST_RUN.exists():
        return None
    doc = json.loads(FIRST_RUN.read_text())
    rel = doc["predictions"][dialect]
    return {str(p): set(rel[str(p.relative_to(REAL))]) for p in corpus}, doc["commit"]


def record_first_run() -> None:
    """Store the current rules' predictions as the first run (done once, right after labelling)."""
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout.strip()
    preds = {d: {str(Path(p).relative_to(REAL)): sorted(v) for p, v in run_turnout_folders(d).items()}
             for d in ("postgresql", "mysql")}
    FIRST_RUN.write_text(json.dumps({"commit": commit, "predictions": preds}, indent=1, sort_keys=True) + "\n")


def median_wall(cmd: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def timings() -> dict[str, float]:
    """Wall time of directory mode on 100 real files and of one file, as a new process each time."""
    import tempfile

    files = sorted((REAL / "postgresql").glob("*/*.sql"))[:100]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "migrations"
        folder.mkdir()
        for i, f in enumerate(files):
            (folder / f"{i:03d}_{f.name}").write_bytes(f.read_bytes())
        one = str(folder / sorted(p.name for p in folder.iterdir())[0])
        lib = ("import sys; from pathlib import Path; from turnout.migrate import check_paths; "
               "check_paths([Path(sys.argv[1])])")
        turnout = shutil.which("turnout") or "turnout"
        return {
            "cli_100_files": median_wall([turnout, "migrate", "check", str(folder)]),
            "cli_1_file": median_wall([turnout, "migrate", "check", one]),
            "library_100_files": median_wall([sys.executable, "-c", lib, str(folder)]),
            "library_1_file": median_wall([sys.executable, "-c", lib, one]),
            "python_startup": median_wall([sys.executable, "-c", "pass"]),
        }


def real_section(verbose: bool, unmapped: set[str], report: dict[str, object]) -> list[str]:
    lines: list[str] = []
    version = subprocess.run(["squawk", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    for dialect in ("postgresql", "mysql"):
        corpus = load_real(dialect)
        tools: dict[str, Callable[[], Prediction]] = {"turnout": lambda d=dialect: run_turnout_folders(d)}  # type: ignore[misc]
        if dialect == "postgresql":
            tools[version or "squawk"] = lambda c=corpus: run_squawk(c, unmapped)  # type: ignore[misc]
        results, seconds, preds = {}, {}, {}
        first = first_run(corpus, dialect)
        if first is not None:
            preds[f"first run ({first[1]})"], seconds[f"first run ({first[1]})"] = first[0], float("nan")
        for name, fn in tools.items():
            preds[name], seconds[name] = timed(fn)
        for name, pred in preds.items():
            results[name] = score(corpus, pred)
        report[f"real_{dialect}"] = {"files": len(corpus), "tools": results, "seconds": seconds}
        lines.extend(table(f"real {dialect}", corpus, results, seconds))
        if verbose:
            for name, res in results.items():
                for f, got in res["wrong"].items():  # type: ignore[attr-defined]
                    lines.append(f"  {name}: {f}: expected {sorted(corpus[ROOT / f][0]) or ['safe']}, "
                                 f"got {got or ['safe']}")
        lines.append("")
    t = timings()
    report["timings"] = t
    lines.append("directory mode, 100 real PostgreSQL files; median wall of 5 runs, each a new process (seconds)")
    lines.extend(f"  {k:<20}{v:>8.3f}" for k, v in t.items())
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--real", action="store_true", help="only the corpus of real migrations, and timings")
    ap.add_argument("--record-first-run", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.record_first_run:
        record_first_run()
        return
    version = subprocess.run(["squawk", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    unmapped: set[str] = set()
    pg, my = load("postgresql"), load("mysql")
    runs = {
        "postgresql": (pg, {"turnout": lambda: run_turnout(pg, "postgresql", True),
                            "turnout (no schema)": lambda: run_turnout(pg, "postgresql", False),
                            version or "squawk": lambda: run_squawk(pg, unmapped)}),
        "mysql": (my, {"turnout": lambda: run_turnout(my, "mysql", True),
                       "turnout (no schema)": lambda: run_turnout(my, "mysql", False)}),
    }
    report: dict[str, object] = {}
    lines: list[str] = []
    for dialect, (corpus, tools) in ({} if args.real else runs).items():
        results, seconds, preds = {}, {}, {}
        for name, fn in tools.items():
            preds[name], seconds[name] = timed(fn)
            results[name] = score(corpus, preds[name])
        report[dialect] = {"files": len(corpus), "tools": results, "seconds": seconds}
        lines.extend(table(dialect, corpus, results, seconds))
        held = {p: v for p, v in corpus.items() if header(p.read_text(), "holdout")}
        if held:
            hres = {name: score(held, preds[name]) for name in tools}
            report[f"{dialect}_holdout"] = {"files": len(held), "tools": hres}
            lines.append(f"  of which holdout (labelled before turnout ran on them): {len(held)} files, micro P/R "
                         + "; ".join(f"{n} {hres[n]['micro']['precision']:.3f}/{hres[n]['micro']['recall']:.3f}"  # type: ignore[index]
                                     for n in tools))
        if args.verbose:
            for name, res in results.items():
                for f, got in res["wrong"].items():  # type: ignore[attr-defined]
                    lines.append(f"  {name}: {f}: expected {sorted(corpus[ROOT / f][0]) or ['safe']}, "
                                 f"got {got or ['safe']}")
        lines.append("")
    lines.extend(real_section(args.verbose, unmapped, report))
    if unmapped:
        lines.append(f"squawk rules seen but not mapped to a class: {', '.join(sorted(unmapped))}")
    report["squawk_unmapped_rules"] = sorted(unmapped)
    print(json.dumps(report, indent=2) if args.json else "\n".join(lines))
    sys.exit(0)


if __name__ == "__main__":
    main()
