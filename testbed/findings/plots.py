"""Plots of a finding as inline SVG, drawn on the server from numbers only.

matplotlib's object API (no pyplot state, so concurrent requests don't share a figure) with
the SVG backend; a fixed hash salt and no date make the same numbers give the same bytes. Each
SVG carries a <title> and <desc> for screen readers, and the page shows the same numbers in a
table beside it. Labels are XML-escaped by matplotlib and by `_accessible`; the templates mark
the result safe only because it is generated here from numbers and escaped text.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import textwrap
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from testbed.findings.words import better, number

COLOURS = {"treatment": "#0b5cad", "control": "#b35900"}
ARM_WORDS = {"treatment": "Used the product", "control": "Comparison group"}
# Text and backgrounds are explicit, so their contrast is known wherever a plot is shown
# (#1b1f24 on white is 16:1; WCAG asks 4.5:1): the page's colours are not inherited.
TEXT_COLOUR, BACKGROUND = "#1b1f24", "#ffffff"
STYLE = {
    "svg.hashsalt": "testbed-findings",
    "text.color": TEXT_COLOUR,
    "axes.labelcolor": TEXT_COLOUR,
    "xtick.color": TEXT_COLOUR,
    "ytick.color": TEXT_COLOUR,
    "legend.labelcolor": TEXT_COLOUR,
    "figure.facecolor": BACKGROUND,
    "axes.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    # With the figure 6 inches wide, 12 pt text is still about 10 px on a 390 px phone.
    "font.size": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


# Tick labels wrap at this many characters and keep at most this many lines, so a long pilot or
# outcome name cannot take the plot's width; the full name is in the description and the table.
LABEL_CHARACTERS, LABEL_LINES = 22, 2


def tick_label(text: str) -> str:
    return (
        "\n".join(textwrap.wrap(text, LABEL_CHARACTERS, max_lines=LABEL_LINES, placeholder=" …"))
        or text
    )


def _accessible(svg: str, key: str, title: str, description: str) -> str:
    """Drop the XML prologue and give the SVG a role, a title and a description (ids made
    unique on the page with `key`)."""
    start = svg.index("<svg")
    svg = svg[start:]
    opening_end = svg.index(">")
    opening = svg[:opening_end]
    opening = re.sub(r'\swidth="[^"]*"', "", opening, count=1)
    opening = re.sub(r'\sheight="[^"]*"', "", opening, count=1)
    return (
        f'{opening} role="img" aria-labelledby="{key}-title {key}-desc" class="plot" '
        f'style="background: {BACKGROUND}">'
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(description)}</desc>' + svg[opening_end + 1 :]
    )


def _render(figure: Figure, key: str, title: str, description: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    return _accessible(buffer.getvalue(), key, title, description)


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


# Drawings in this worker by key, the most recently used last (testbed.drawings keeps them in
# the database too, so a restarted worker reads them instead of drawing).
DRAWINGS_IN_MEMORY = 256
_drawn: OrderedDict[str, str | None] = OrderedDict()
# What the drawings depend on besides their numbers: the code that draws them (this module and
# the evidence page's forest plot) and matplotlib. A stored drawing is keyed on it, so a change
# of either is drawn anew (testbed.drawings' warm-up finds subjects not drawn by this code).
DRAWING_CODE = hashlib.sha256(
    Path(__file__).read_bytes()
    + (Path(__file__).parent.parent / "synthesis" / "plots.py").read_bytes()
    + matplotlib.__version__.encode()
).hexdigest()


def remember(key: str, svg: str | None) -> None:
    _drawn[key] = svg
    _drawn.move_to_end(key)
    while len(_drawn) > DRAWINGS_IN_MEMORY:
        _drawn.popitem(last=False)


def in_memory(key: str) -> bool:
    return key in _drawn


def recalled(key: str) -> str | None:
    return _drawn.get(key)


class Drawn:
    """A drawing function memoized on its arguments' JSON: drawing takes a few tenths of a
    second, and a finding's page shows the same plots to every reader. `key(*arguments)` names
    the drawing by the SHA-256 of the code that draws it (DRAWING_CODE), its name and the
    numbers, so a drawing stored under a key is never out of date."""

    def __init__(self, draw: Callable[..., str | None]) -> None:
        functools.update_wrapper(self, draw)
        self.draw = draw
        self.name = draw.__name__

    def key(self, *arguments: Any) -> str:
        return self._key(json.dumps(arguments, sort_keys=True))

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{DRAWING_CODE}\n{self.name}\n{text}".encode()).hexdigest()

    def __call__(self, *arguments: Any) -> str | None:
        text = json.dumps(arguments, sort_keys=True)
        key = self._key(text)
        if key in _drawn:
            _drawn.move_to_end(key)
            return _drawn[key]
        svg = self.draw(*json.loads(text))
        remember(key, svg)
        return svg


@Drawn
def distribution(outcome: dict[str, Any], key: str) -> str | None:
    """Histograms of the outcome by arm (bins merged when cells are small); None if hidden."""
    histogram = outcome.get("histogram")
    if not histogram or not histogram.get("edges"):
        return None
    edges = histogram["edges"]
    with matplotlib.rc_context(STYLE):
        figure = _figure(6, 3)
        axes = figure.add_subplot()
        for arm in ("control", "treatment"):
            counts = histogram[arm]
            total = sum(counts) or 1
            widths = [right - left for left, right in zip(edges[:-1], edges[1:], strict=True)]
            shares = [count / total / width for count, width in zip(counts, widths, strict=True)]
            axes.stairs(
                shares,
                edges,
                fill=arm == "control",
                alpha=0.35 if arm == "control" else 1.0,
                color=COLOURS[arm],
                linewidth=2,
                label=ARM_WORDS[arm],
            )
        axes.set_xlabel(outcome["label"])
        axes.set_ylabel("share of students")
        axes.set_yticks([])
        axes.legend(frameon=False)
    return _render(
        figure,
        key,
        f"{outcome['label']}: distribution by group",
        "Histograms of the outcome for students who used the product and the comparison group; "
        "the table beside the plot gives each group's number of students, mean and SD.",
    )


def _forest(rows: list[tuple[str, float, float, float]], threshold: float | None, xlabel: str):
    with matplotlib.rc_context(STYLE):
        figure = _figure(6, 0.7 * len(rows) + 1.3)
        axes = figure.add_subplot()
        positions = list(range(len(rows)))[::-1]
        for position, (_, estimate, low, high) in zip(positions, rows, strict=True):
            axes.plot([low, high], [position, position], color="#1b1f24", linewidth=2)
            axes.plot([estimate], [position], marker="s", color=COLOURS["treatment"])
        axes.axvline(0.0, color="#555e68", linewidth=1)
        if threshold:
            axes.axvline(threshold, color="#555e68", linewidth=1, linestyle="--")
        axes.set_yticks(positions, [tick_label(row[0]) for row in rows])
        axes.set_xlabel(xlabel)
    return figure


@Drawn
def effects(outcomes: list[dict[str, Any]], threshold: float | None) -> str | None:
    """Each outcome's effect (positive = better) with its 95 % interval."""
    rows = []
    for outcome in outcomes:
        effect = outcome.get("headline")
        if effect is None:
            continue
        rows.append((outcome["label"], *better(outcome["direction"], effect["g"], effect["ci"])))
    if not rows:
        return None
    figure = _forest(rows, threshold, "effect in SD (right of 0 = better)")
    described = "; ".join(
        f"{label}: {number(estimate)} (95 % CI {number(low)} to {number(high)})"
        for label, estimate, low, high in rows
    )
    return _render(
        figure,
        "effects",
        "Effect on each outcome with its 95 % confidence interval",
        f"{described}. The dashed line marks the minimum meaningful effect.",
    )


@Drawn
def subgroups(subgroup_results: list[dict[str, Any]], direction: str) -> str | None:
    """The primary outcome's effect within each subgroup level (positive = better; hidden
    levels left out)."""
    rows = []
    for subgroup in subgroup_results:
        for level in subgroup["levels"]:
            if level.get("g") is None:
                continue
            label = f"{subgroup['label']}: {level['level']}"
            rows.append((label, *better(direction, level["g"], level["ci"])))
    if not rows:
        return None
    figure = _forest(rows, None, "effect in SD (right of 0 = better)")
    described = "; ".join(
        f"{label}: {number(estimate)} (95 % CI {number(low)} to {number(high)})"
        for label, estimate, low, high in rows
    )
    return _render(figure, "subgroups", "Effect within each subgroup", described + ".")
