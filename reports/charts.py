"""Digest charts drawn with matplotlib: PNG bytes, readable in grayscale, with titles and units.

Charts encode meaning by lightness, hatching and line style, never by hue alone,
so a printed or grayscale digest reads the same. Rendering is deterministic
(fixed size, no timestamps in the files) so a re-run gives identical bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

DPI = 100
_STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold", "axes.spines.top": False,
    "axes.spines.right": False, "svg.hashsalt": "listener", "path.simplify": False,
}


@dataclass(frozen=True)
class Chart:
    name: str     # file-safe id, used as the email Content-ID
    title: str    # alt text
    png: bytes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def volume_chart(name: str, product: str, days: Sequence[str], mentions: Sequence[int | None],
                 net: Sequence[float | None]) -> Chart:
    """Daily mentions (bars) with net sentiment (line, right axis) over the last days.

    A day with nothing collected (``None`` mentions) has no bar and is marked "no data"; the net
    sentiment line breaks on days without a scored mention instead of bridging them."""
    title = f"{product}: mentions per day and net sentiment, last {len(days)} days"
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.2, 2.6))
        x = list(range(len(days)))
        heights = [m if m is not None else 0 for m in mentions]
        ax.bar(x, heights, color="#9a9a9a", edgecolor="#404040", linewidth=0.4, label="mentions")
        top = max(heights + [1])
        ax.set_ylim(0, top * 1.1)
        unknown = [i for i, m in enumerate(mentions) if m is None]
        if unknown:
            ax.bar(unknown, [top * 1.1] * len(unknown), color="none", edgecolor="#c0c0c0", hatch="..",
                   linewidth=0, label="no data collected")
        ax.set_ylabel("mentions per day")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, loc="left")
        step = max(1, len(days) // 6)
        ax.set_xticks(x[::step])
        ax.set_xticklabels([d[5:] for d in days[::step]])
        ax.set_xlabel("day (UTC, MM-DD)")
        ax2 = ax.twinx()
        ax2.spines["top"].set_visible(False)
        if any(v is not None for v in net):
            ax2.plot(x, [float("nan") if v is None else v for v in net], color="black", linestyle="--",
                     marker="o", markersize=3, linewidth=1.2, label="net sentiment")
        ax2.axhline(0, color="#606060", linewidth=0.6, linestyle=":")
        ax2.set_ylim(-105, 105)
        ax2.set_ylabel("net sentiment (-100..+100)")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        # below the axes: inside them it covers the bars
        ax.legend(handles, [h.get_label() for h in handles], loc="upper center", bbox_to_anchor=(0.5, -0.3),
                  ncol=len(handles), frameon=False, fontsize=8)
        return Chart(name, title, _png(fig))


def share_chart(name: str, products: Sequence[str], shares: Sequence[float], ours: Sequence[bool]) -> Chart:
    """Share of voice among tracked products, as horizontal bars (ours dark, competitors hatched)."""
    title = "Share of voice among tracked products (% of mentions)"
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.2, 0.45 * max(len(products), 2) + 0.9))
        y = list(range(len(products)))[::-1]
        for yi, share, mine in zip(y, shares, ours):
            ax.barh(yi, share * 100, color="#303030" if mine else "#d0d0d0", edgecolor="#303030",
                    hatch=None if mine else "///", linewidth=0.6)
            ax.text(share * 100 + 0.8, yi, f"{share * 100:.1f}%", va="center", fontsize=8)
        ax.set_yticks(y)
        ax.set_yticklabels(products)
        ax.set_xlim(0, max([s * 100 for s in shares] + [10]) * 1.18)
        ax.set_xlabel("share of mentions (%); solid = ours, hatched = competitors")
        ax.set_title(title)
        return Chart(name, title, _png(fig))


def topic_chart(name: str, product: str, topics: Sequence[str], positive: Sequence[int],
                negative: Sequence[int]) -> Chart:
    """Sentiment by topic: positive mentions to the right, negative to the left."""
    title = f"{product}: sentiment by topic (mentions)"
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(7.2, 0.42 * max(len(topics), 2) + 0.9))
        y = list(range(len(topics)))[::-1]
        ax.barh(y, list(positive), color="#e0e0e0", edgecolor="#303030", linewidth=0.6, label="positive")
        ax.barh(y, [-n for n in negative], color="#404040", edgecolor="#303030", hatch="xx",
                linewidth=0.6, label="negative")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(topics)
        ax.set_xlabel("mentions (negative left, positive right)")
        ax.set_title(title)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=2, frameon=False, fontsize=8)
        return Chart(name, title, _png(fig))
