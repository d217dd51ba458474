"""The summary's charts as PNG bytes (matplotlib, Agg backend: no display needed).

matplotlib is imported on first use, so a process that never renders pays nothing for it.
"""

from __future__ import annotations

import io
from typing import Any

from services.reports.domain import WeeklySummary

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


def heatmap(summary: WeeklySummary) -> bytes | None:
    """Concerns raised by zone (rows) and bell period (columns); None when there are none."""
    zones, periods = summary.heatmap_zones, summary.heatmap_periods
    if not zones or not periods:
        return None
    plt = _pyplot()
    grid = [[summary.heatmap.get((z, p), 0) for p in periods] for z in zones]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.3 * len(zones) + 1.6), layout="constrained")
    image = ax.imshow(grid, cmap="OrRd", aspect="auto", vmin=0)
    ax.set_xticks(range(len(periods)), labels=periods, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(zones)), labels=[summary.zone_names.get(z, z) for z in zones])
    ax.tick_params(axis="y", labelsize=8)
    for i, row in enumerate(grid):
        for j, n in enumerate(row):
            if n:
                ax.text(j, i, str(n), ha="center", va="center", fontsize=8)
    ax.set_title("Concerns by zone and bell period", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _png(fig)


def trend(summary: WeeklySummary) -> bytes | None:
    """Concerns and preventive contacts per week (bars) and patrol coverage % (line)."""
    if not summary.trend:
        return None
    plt = _pyplot()
    weeks = [w[-3:] for w, *_ in summary.trend]
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
    ax.set_title("The last weeks", fontsize=10)
    return _png(fig)
