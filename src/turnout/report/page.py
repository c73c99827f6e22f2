"""The deploy report as one self-contained HTML page: the picture embedded (a base64 PNG), a summary
per color, the steps, and the checks with their measured values. Nothing is loaded from elsewhere:
no script, no font, no stylesheet, no link."""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Sequence

from turnout.report.data import Report

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1140px; color: #111; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #555; margin: 0 0 16px; } img { width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #f3f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #15803d; } .fail, .error { color: #b91c1c; font-weight: 600; } .inconclusive { color: #a16207; }
"""


def render(report: Report, png: bytes) -> str:
    op = report.operation
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(report.started))
    title = f"{report.app}: {op.kind} {op.version or ''} ({op.id})"
    image = base64.b64encode(png).decode()
    meta = " · ".join(x for x in (op.state, f"started {when}", f"by {op.actor}" if op.actor else "", op.message) if x)
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(meta)}</p>',
        f'<img alt="traffic split, request rate, error rate and p99 per color" src="data:image/png;base64,{image}">',
        "<h2>Traffic per color</h2>",
        _table(("color", "requests", "5xx", "error rate", "max p99 (ms)", "points"), [
            (s.color, str(s.requests), str(s.errors),
             f"{100 * s.errors / s.requests:.2f} %" if s.requests else "-",
             f"{max(v for v in s.p99_ms if v is not None):.1f}" if any(v is not None for v in s.p99_ms) else "-",
             str(len(s.at))) for s in report.series.values()], numeric={1, 2, 3, 4, 5}),
        "<h2>Steps</h2>",
        _table(("t (s)", "step", "what"), [(f"{m.at:+.2f}", m.kind, m.label) for m in report.markers],
               numeric={0}),
        "<h2>Checks and their measured values</h2>",
        _table(("t (s)", "during", "check", "verdict", "value", "detail"),
               [(f"{c.at:+.2f}", c.step, c.check, c.verdict, _value(c.value), c.detail) for c in report.checks],
               numeric={0, 4}, verdict=3) if report.checks else "<p>No check was measured in this span.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _value(value: float | str | None) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: frozenset[int] | set[int] = frozenset(),
           verdict: int | None = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = "num" if i in numeric else (_e(cell) if i == verdict else "")
            cells.append(f'<td class="{cls}">{_e(cell)}</td>' if cls else f"<td>{_e(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join([*out, "</table>"])
