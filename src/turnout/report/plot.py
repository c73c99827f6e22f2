"""The deploy report's picture, drawn with matplotlib's Agg renderer (no display, no browser): four
panels sharing the time axis (traffic split, requests/s, error rate, p99 per color) and a line
for each step of the operation across all of them."""

from __future__ import annotations

import io
import time
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from turnout.report.data import Report, Series

COLORS = {"blue": "#2563eb", "green": "#16a34a"}
MARKS = {"deploy": "#6b7280", "validate": "#7c3aed", "switch": "#0891b2", "trigger": "#dc2626",
         "rollback": "#ea580c", "abort": "#991b1b", "watch": "#65a30d"}
SIZE = (11.0, 8.5)  # inches; at 100 dpi a 1100 x 850 picture
DPI = 100


def figure(report: Report) -> Figure:
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    panels = fig.subplots(4, 1, sharex=True, height_ratios=(1.0, 1.2, 1.0, 1.2))
    draw: list[tuple[str, str, Any]] = [
        ("traffic split (%)", "weight", (0, 105)), ("requests / s", "rps", None),
        ("errors (% of requests)", "error_rate", None), ("p99 latency (ms)", "p99_ms", None)]
    for ax, (title, key, ylim) in zip(panels, draw, strict=True):
        if key == "weight" and report.split:
            _split(ax, report)
        else:
            for series in report.series.values():
                _line(ax, series, key)
        ax.set_ylabel(title, fontsize=9)
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        for m in report.markers:
            ax.axvline(m.at, color=MARKS.get(m.kind, "#444"), lw=1.2, ls="--" if m.kind == "validate" else "-",
                       alpha=0.85)
    _labels(panels[0], report)
    panels[-1].set_xlabel("seconds from the start of the operation", fontsize=9)
    panels[-1].set_xlim(report.since, report.until)
    op = report.operation
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.started))
    fig.suptitle(f"{report.app}: {op.kind} {op.version or ''} ({op.id}), {op.state}; started {when}",
                 fontsize=11, fontweight="bold")
    handles = [Line2D([], [], color=c, lw=2, label=name) for name, c in COLORS.items()]
    handles += [Line2D([], [], color=MARKS[k], lw=1.2, label=k) for k in MARKS if any(m.kind == k
                                                                                         for m in report.markers)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    return fig


def _line(ax: Axes, s: Series, key: str) -> None:
    values = getattr(s, key)
    if not s.at:
        return
    y = [float("nan") if v is None else v for v in values]
    if key == "weight":
        ax.step(s.at, y, where="post", color=COLORS.get(s.color), lw=2)
        ax.fill_between(s.at, y, step="post", color=COLORS.get(s.color), alpha=0.12)
    else:
        ax.plot(s.at, y, color=COLORS.get(s.color), lw=1.4, marker="o" if len(s.at) < 60 else None, ms=2.5)


def _split(ax: Axes, report: Report) -> None:
    """The split as the router served it, from the confirmed switches (steps at their exact times)."""
    at = [s.at for s in report.split] + [report.until]
    for color, c in COLORS.items():
        y = [float(s.weights.get(color, 0)) for s in report.split]
        ax.step(at, [*y, y[-1]], where="post", color=c, lw=2)
        ax.fill_between(at, [*y, y[-1]], step="post", color=c, alpha=0.12)


def _labels(ax: Axes, report: Report) -> None:
    """Each marker's name above the top panel, in the first row where it does not run into the
    label before it (a 7.5 pt character is about 0.45 % of the panel's width)."""
    width = (report.until - report.since) or 1.0
    rows: list[float] = []  # where each row's last label ends, as a fraction of the width
    for m in report.markers:
        start = (m.at - report.since) / width
        row = next((i for i, end in enumerate(rows) if start > end + 0.005), len(rows))
        if row == len(rows):
            rows.append(0.0)
        rows[row] = start + 0.0046 * len(m.label)
        ax.annotate(m.label, xy=(m.at, 1.0), xycoords=("data", "axes fraction"), xytext=(2, 3 + 11 * row),
                    textcoords="offset points", fontsize=7.5, color=MARKS.get(m.kind, "#444"), clip_on=False)


def png(report: Report) -> bytes:
    buf = io.BytesIO()
    # no Software metadata: the picture names nothing outside the machine
    figure(report).savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()
