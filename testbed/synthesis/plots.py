"""The product evidence page's forest plot, as inline accessible SVG.

Drawn with the findings module's figure and rendering helpers (fixed hash salt, no date, a
<title> and <desc>), so the same numbers give the same bytes. One vectorized call per layer
(intervals, own estimates, shrunken estimates) keeps a 200-pilot plot fast.
"""

from __future__ import annotations

from typing import Any

import matplotlib

from testbed.findings.plots import COLOURS, STYLE, Drawn, _figure, _render, tick_label
from testbed.findings.words import number

SHRUNKEN_COLOUR = "#b35900"
POOLED_COLOUR = "#1b1f24"


@Drawn
def forest(rows: list[list[Any]], pooled: list[float] | None) -> str | None:
    """rows: [label, own estimate, ci low, ci high, shrunken estimate or None];
    pooled: [estimate, ci low, ci high, prediction low, prediction high] or None."""
    if not rows:
        return None
    count = len(rows) + (2 if pooled else 0)
    with matplotlib.rc_context(STYLE):
        figure = _figure(6, min(0.5 * count + 2.2, 80))
        axes = figure.add_subplot()
        positions = list(range(count - 1, count - 1 - len(rows), -1))
        axes.hlines(positions, [r[2] for r in rows], [r[3] for r in rows], color=POOLED_COLOUR)
        axes.scatter(
            [r[1] for r in rows],
            positions,
            marker="s",
            color=COLOURS["treatment"],
            label="pilot's own estimate",
            zorder=3,
        )
        shrunk = [
            (r[4], position)
            for r, position in zip(rows, positions, strict=True)
            if r[4] is not None
        ]
        if shrunk:
            axes.scatter(
                [s[0] for s in shrunk],
                [s[1] for s in shrunk],
                marker="o",
                facecolors="none",
                edgecolors=SHRUNKEN_COLOUR,
                label="shrunk toward the pooled effect",
                zorder=4,
            )
        labels = [tick_label(r[0]) for r in rows]
        ticks = list(positions)
        if pooled:
            estimate, low, high, pi_low, pi_high = pooled
            axes.hlines(
                [0],
                [pi_low],
                [pi_high],
                color=POOLED_COLOUR,
                linestyle=":",
                label="prediction interval",
            )
            axes.fill(
                [low, estimate, high, estimate],
                [0, 0.3, 0, -0.3],
                color=POOLED_COLOUR,
                label="pooled effect (95 % CI)",
            )
            ticks.append(0)
            labels.append("Pooled (random effects)")
        axes.axvline(0.0, color="#555e68", linewidth=1)
        axes.set_yticks(ticks, labels)
        axes.set_xlabel("effect in SD (right of 0 = better)")
        # Below the plot, not beside it: beside, it took the width the intervals need.
        figure.legend(frameon=False, loc="outside lower center", ncols=2)
    described = "; ".join(
        f"{label}: {number(own)} (95 % CI {number(low)} to {number(high)})"
        + ("" if shrunken is None else f", shrunk {number(shrunken)}")
        for label, own, low, high, shrunken in rows
    )
    if pooled:
        described += (
            f". Pooled: {number(pooled[0])} (95 % CI {number(pooled[1])} to {number(pooled[2])});"
            f" prediction interval {number(pooled[3])} to {number(pooled[4])}"
        )
    return _render(
        figure,
        "forest",
        "Each pilot's effect, its shrunken estimate and the pooled effect",
        described + ". The table below the plot gives the same numbers.",
    )
