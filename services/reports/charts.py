"""The summary's charts as PNG bytes (matplotlib, Agg backend: no display needed).

matplotlib is imported on first use, so a process that never renders pays nothing for it.
"""

from __future__ import annotations

import io
from typing import Any

from services.reports.domain import WeeklySummary, week_monday

WIDTH_IN = 6.0  # 600 px at 100 dpi: the width of the email's content column
DPI = 100


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # no bbox "tight": it draws twice
    _pyplot().close(fig)
    return buf.getvalue()


def _luminance(rgba: tuple[float, ...]) -> float:
    """WCAG relative luminance of an sRGB colour (components 0..1)."""

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgba[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ink(rgba: tuple[float, ...]) -> str:
    """Black or white, whichever contrasts more with the cell (always at least 4.5:1)."""
    lum = _luminance(rgba)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def heatmap(summary: WeeklySummary) -> bytes | None:
    """Concerns raised by bell period (rows: the whole day's periods, with their start times)
    and zone (columns: those with a concern); None when there are none. Counts are written in
    black or white, whichever reads better on the cell's colour."""
    import textwrap

    zones, periods = summary.heatmap_zones, summary.heatmap_periods
    if not zones or not periods:
        return None
    plt = _pyplot()
    grid = [[summary.heatmap.get((z, p), 0) for z in zones] for p in periods]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.24 * len(periods) + 1.6), layout="constrained")
    image = ax.imshow(grid, cmap="OrRd", aspect="auto", vmin=0)
    names = [textwrap.fill(summary.zone_names.get(z, z), 16) for z in zones]
    ax.set_xticks(range(len(zones)), labels=names, fontsize=8)
    ax.xaxis.tick_top()
    rows = [f"{summary.period_start.get(p, '')}  {summary.period_short.get(p, p)}" for p in periods]
    ax.set_yticks(range(len(periods)), labels=rows, fontsize=8)
    ax.tick_params(length=0)
    ax.set_xticks([x - 0.5 for x in range(1, len(zones))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(periods))], minor=True)
    ax.grid(which="minor", color="#ffffff", linewidth=1)
    ax.tick_params(which="minor", length=0)
    for i, row in enumerate(grid):
        for j, n in enumerate(row):
            if n:
                colour = ink(image.cmap(image.norm(n)))
                ax.text(j, i, str(n), ha="center", va="center", fontsize=9, color=colour)
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(image, ax=ax, shrink=0.6, label="concerns")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    return _png(fig)


def trend(summary: WeeklySummary) -> bytes | None:
    """Concerns and preventive contacts per week (bars) and patrol coverage % (line)."""
    if not summary.trend:
        return None
    plt = _pyplot()
    # Each week by its Monday ("23 Nov"), as people name weeks, not `W48`.
    weeks = [f"{week_monday(w).day} {week_monday(w):%b}" for w, *_ in summary.trend]
    concerns = [c for _, c, _, _ in summary.trend]
    contacts = [p for _, _, p, _ in summary.trend]
    cover = [float("nan") if v is None else v for *_, v in summary.trend]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.6), layout="constrained")
    x = range(len(weeks))
    ax.bar([i - 0.2 for i in x], concerns, width=0.4, label="concerns", color="#d9534f")
    ax.bar([i + 0.2 for i in x], contacts, width=0.4, label="preventive contacts", color="#5cb85c")
    ax.set_xticks(list(x), labels=weeks, fontsize=8)
    ax.set_ylabel("per week", fontsize=8)
    right = ax.twinx()
    right.plot(list(x), cover, color="#337ab7", marker="o", label="coverage %")
    right.set_ylim(0, 105)
    right.set_ylabel("coverage %", fontsize=8)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, loc="upper left")
    ax.set_title("Week by week, since the first week with data", fontsize=10)
    return _png(fig)
