"""Old-source scan: does the running version's code still use what a migration drops or renames?

"Drop unused column" is only compatible when the column really is unused. Given the running
version's source tree, each dropped/renamed table or column is searched for as a whole identifier,
under the names ORMs give it in code: `user_name` is also `userName` and `UserName` (those matched
with their case, since `username` is another identifier), while the SQL name itself is matched
without case (`USER_NAME`). References keep the finding and list where they are; none found makes
the drop or rename compatible with the running version (verdict safe; the data is still gone).
Deliberately conservative: any mention counts, including comments. Folders of migrations are
skipped, since old migrations mention every column that ever existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from turnout.migrate.findings import Finding, Phase, Verdict

SCANNED_RULES = frozenset({"drop-column", "drop-table", "rename-column", "rename-table"})
EXTENSIONS = frozenset({
    ".py", ".pyi", ".rb", ".erb", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".java", ".kt", ".kts",
    ".scala", ".cs", ".php", ".ex", ".exs", ".rs", ".swift", ".sql", ".graphql", ".prisma", ".html", ".jinja",
    ".j2", ".vue", ".svelte", ".yml", ".yaml", ".json", ".toml", ".xml", ".properties", ".sh"})
SKIP_DIRS = frozenset({".git", ".hg", "node_modules", "__pycache__", ".venv", "venv", "dist", "build", "vendor",
                       ".turnout", "migrations", "migrate", "alembic", ".mypy_cache", ".ruff_cache", ".tox"})
MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class SourceTree:
    files: tuple[tuple[Path, str], ...]

    @classmethod
    def load(cls, root: Path, exclude: set[Path] | None = None) -> SourceTree:
        exclude = {p.resolve() for p in exclude or ()}
        out = []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part in SKIP_DIRS for part in rel.parts[:-1]) or path.suffix.lower() not in EXTENSIONS:
                continue
            if not path.is_file() or path.resolve() in exclude or path.stat().st_size > MAX_BYTES:
                continue
            try:
                out.append((rel, path.read_text(encoding="utf-8", errors="replace")))
            except OSError:
                continue
        return cls(tuple(out))

    def find(self, name: str) -> list[str]:
        pattern = name_pattern(name)
        hits = []
        for rel, text in self.files:
            for m in pattern.finditer(text):
                hits.append(f"{rel.as_posix()}:{text.count(chr(10), 0, m.start()) + 1}")
        return hits


def name_pattern(name: str) -> re.Pattern[str]:
    """Whole-token matches of a SQL identifier and its ORM spellings (snake_case, camelCase, PascalCase)."""
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)] or [name.lower()]
    snake = "_".join(words)
    exact = {"".join(words[:1] + [w.capitalize() for w in words[1:]]), "".join(w.capitalize() for w in words)}
    if "_" not in name and name != name.lower():
        exact.add(name)  # a camelCase column name (Prisma, EF) is itself an exact spelling
    nocase = {snake} | ({name} if name == name.lower() else set())
    alts = [f"(?i:{re.escape(v)})" for v in sorted(nocase)]
    alts += [re.escape(v) for v in sorted(exact - nocase) if len(words) > 1 or v != name.lower()]
    return re.compile(rf"(?<![\w$])(?:{'|'.join(alts)})(?![\w$])")


def _bare(name: str) -> str:
    return name.rsplit(".", 1)[-1].strip('"`')


def apply_references(findings: list[Finding], tree: SourceTree) -> list[Finding]:
    out = []
    for f in findings:
        if f.rule not in SCANNED_RULES or not f.objects:
            out.append(f)
            continue
        hits = [h for ref in f.objects for h in tree.find(_bare(ref.column or ref.table))]
        what = " and ".join(_bare(r.column or r.table) for r in f.objects)
        if hits:
            shown = ", ".join(hits[:3]) + (f" and {len(hits) - 3} more" if len(hits) > 3 else "")
            out.append(f.with_(references=tuple(hits), message=f"{f.message} The running version still "
                                                              f"references {what}: {shown}."))
        else:
            verb = "dropped" if f.rule.startswith("drop") else "renamed"
            out.append(f.with_(verdict=Verdict.SAFE, phase=Phase.EXPAND, message=(
                f"{what} is {verb}, and the running version's code never references it "
                f"({len(tree.files)} files scanned), so it keeps working"
                + ("; the data is still lost." if verb == "dropped" else "."))))
    return out
