"""Small histograms drawn on the server as SVG, with their numbers for a table beside them.

Hand-made SVG rather than matplotlib: a few rectangles, no fonts to embed, and the page stays
light. Every chart has a title and a description for screen readers, and the page shows the
same counts in a table (suppressed where fewer than 10 students would be shown).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from markupsafe import Markup, escape

from analysis.suppression import suppress_small_cells
from testbed.findings.disclosure import hidden_reason
from testbed.uploads.validation import OutcomeRule

WIDTH, HEIGHT, MARGIN = 480, 180, 28
MAX_BINS = 12
ARM_COLOURS = ("#0b5cad", "#d08c00", "#2e7d32", "#6a1b9a")  # distinguishable, AA on white
# Text and background are explicit (not inherited from the page), so the text's contrast is
# known wherever the chart is shown: #1b1f24 on white is 16:1.
TEXT_COLOUR, BACKGROUND = "#1b1f24", "#ffffff"
SMALL_CELL = 10


def _edges(outcome: OutcomeRule, values: np.ndarray) -> np.ndarray:
    if outcome.kind == "binary":
        return np.array([-0.5, 0.5, 1.5])
    low, high = float(values.min()), float(values.max())
    if outcome.kind == "count":
        step = max(1, int(np.ceil((high - low + 1) / MAX_BINS)))
        return np.arange(np.floor(low) - 0.5, high + step, step)
    if high == low:
        return np.array([np.floor(low) - 1, np.floor(low) + 1])
    # Round edges (1, 2 or 5 times a power of ten), not the lowest and highest scores: those
    # are single students' (docs/findings.md, privacy).
    raw = (high - low) / MAX_BINS
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start, stop = np.floor(low / step) * step, (np.floor(high / step) + 1) * step
    return np.arange(start, stop + step / 2, step)


def _bin_label(outcome: OutcomeRule, low: float, high: float) -> str:
    if outcome.kind == "binary":
        return "1" if low > 0 else "0"
    if outcome.kind == "count":
        first, last = int(np.ceil(low)), int(np.floor(high))
        return str(first) if first >= last else f"{first}–{last}"
    return f"{low:.4g}–{high:.4g}"


def histogram(
    outcome: OutcomeRule, label: str, by_arm: dict[str, np.ndarray], *, suppress: bool
) -> dict[str, Any]:
    """Counts per bin and arm (suppressed below 10 students when `suppress`), and the SVG."""
    arms = list(by_arm)
    pooled = np.concatenate([values for values in by_arm.values()]) if arms else np.empty(0)
    chart: dict[str, Any] = {"name": outcome.name, "label": label, "arms": arms, "bins": []}
    if pooled.size == 0:
        chart["svg"] = None
        return chart
    edges = _edges(outcome, pooled)
    counts = [np.histogram(by_arm[arm], bins=edges)[0].tolist() for arm in arms]
    table = [[counts[a][b] for a in range(len(arms))] for b in range(len(edges) - 1)]
    shown = suppress_small_cells(table, SMALL_CELL) if suppress else None
    for b in range(len(edges) - 1):
        chart["bins"].append(
            {
                "label": _bin_label(outcome, edges[b], edges[b + 1]),
                "counts": shown.cells[b] if shown else table[b],
                "why": [hidden_reason(value) for value in table[b]],
            }
        )
    chart["totals"] = shown.column_totals if shown else [sum(column) for column in counts]
    chart["totals_why"] = [hidden_reason(sum(column)) for column in counts]
    chart["suppressed"] = bool(shown and shown.hidden_cells)
    chart["svg"] = _svg(chart, f"Distribution of {label} by arm")
    return chart


def _svg(chart: dict[str, Any], title: str) -> Markup:
    bins, arms = chart["bins"], chart["arms"]
    tallest = max([c for b in bins for c in b["counts"] if c is not None] or [1]) or 1
    slot = (WIDTH - 2 * MARGIN) / len(bins)
    bar = slot * 0.8 / max(1, len(arms))
    parts = []
    for b, item in enumerate(bins):
        for a, count in enumerate(item["counts"]):
            if count is None:
                continue  # suppressed: no bar, and the table says why
            height = (HEIGHT - 2 * MARGIN) * count / tallest
            x = MARGIN + b * slot + slot * 0.1 + a * bar
            y = HEIGHT - MARGIN - height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{ARM_COLOURS[a % len(ARM_COLOURS)]}"></rect>'
            )
    first, last = escape(bins[0]["label"]), escape(bins[-1]["label"])
    axis = (
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{HEIGHT - MARGIN}" stroke="#555e68"></line>'
        f'<text x="{MARGIN}" y="{HEIGHT - 8}" font-size="13" fill="{TEXT_COLOUR}">{first}</text>'
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - 8}" font-size="13" fill="{TEXT_COLOUR}" '
        f'text-anchor="end">{last}</text>'
    )
    legend = "".join(
        f'<rect x="{WIDTH - MARGIN - 110}" y="{8 + 16 * a}" width="10" height="10" '
        f'fill="{ARM_COLOURS[a % len(ARM_COLOURS)]}"></rect>'
        f'<text x="{WIDTH - MARGIN - 95}" y="{17 + 16 * a}" font-size="13" '
        f'fill="{TEXT_COLOUR}">{escape(arm)}</text>'
        for a, arm in enumerate(arms)
    )
    description = (
        f"Bars per arm for {len(bins)} ranges from {first} to {last}; the table below gives "
        "the counts."
    )
    ident = f"chart-{escape(chart['name'])}"
    # Every piece of text in it went through escape() above.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" style="background: {BACKGROUND}" '
        f'aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
        f"{''.join(parts)}{axis}{legend}</svg>"
    )
