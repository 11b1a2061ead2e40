"""Plots stay legible whatever the labels: long names wrap and are cut, the legend sits below the
forest plot instead of taking its width, and the power plot has round ticks and both labels."""

from __future__ import annotations

import re

from testbed.designs.power_panel import _round_ticks, power_curve_svg
from testbed.findings.plots import LABEL_CHARACTERS, LABEL_LINES, tick_label
from testbed.synthesis.plots import forest

LONG_NAME = "MathQuest Adaptive in grades 6–8 (June 2025, cohort 2) at a very long district name"


def test_a_long_label_wraps_to_two_lines_and_says_it_was_cut():
    label = tick_label(LONG_NAME)
    lines = label.split("\n")
    assert len(lines) == LABEL_LINES
    assert all(len(line) <= LABEL_CHARACTERS for line in lines)
    assert lines[-1].endswith("…")
    assert tick_label("Spring math") == "Spring math"


def test_the_forest_plot_keeps_its_width_for_the_intervals_whatever_the_labels():
    rows = [[LONG_NAME + f" {i}", 0.1 * i, 0.1 * i - 0.2, 0.1 * i + 0.2, None] for i in range(3)]
    short_rows = [[f"Pilot {i}", *row[1:]] for i, row in enumerate(rows)]
    pooled = [0.1, 0.0, 0.2, -0.1, 0.3]

    def plot_width(svg: str) -> float:
        # the axes' background patch is the first path after the axes group opens
        axes = svg.split('<g id="axes_1">', 1)[1]
        xs = [float(x) for x in re.findall(r"[ML] ([\d.]+) [\d.]+", axes.split("</g>", 1)[0])]
        return max(xs) - min(xs)

    long_svg, short_svg = forest(rows, pooled), forest(short_rows, pooled)
    # The full names are in the description for screen readers, not squeezed into the plot.
    assert LONG_NAME + " 0" in long_svg
    assert plot_width(long_svg) > 0.6 * plot_width(short_svg)


def test_power_axis_ticks_are_round_numbers_of_students():
    assert _round_ticks(40, 9000) == [2000, 4000, 6000, 8000]
    assert _round_ticks(2, 9) == [2, 4, 6, 8]
    assert _round_ticks(11, 1501) == [500, 1000, 1500]


def test_the_power_plot_labels_both_axes_inside_its_box():
    svg = power_curve_svg(0.2, 0.05, 1.0, 2, 400, 788)
    width, height = (float(v) for v in re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    assert "students in the pilot (all arms)</text>" in svg
    assert "power at 0.20 SD</text>" in svg
    # x label: about 6.5 px a character at 12 px must fit the width it is centred in
    assert len("students in the pilot (all arms)") * 6.5 < width
    for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)"', svg):
        assert 0 < float(y) <= height


def _contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        red, green, blue = (
            c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels
        )
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_every_plots_text_has_its_own_colour_and_background_with_aa_contrast():
    """Every text in every plot says its colour, and the plot its background: the contrast
    (WCAG AA, at least 4.5:1) does not depend on the page around it."""
    import numpy as np

    from testbed.findings import plots as finding_plots
    from testbed.uploads.charts import histogram
    from testbed.uploads.validation import OutcomeRule

    outcome = {
        "name": "math",
        "label": "Spring math",
        "direction": "higher_is_better",
        "histogram": {"edges": [0, 10, 20], "treatment": [12, 15], "control": [14, 11]},
        "headline": {"g": 0.2, "ci": [0.05, 0.35], "favourable_g": 0.2},
    }
    scores = {"treatment": np.arange(40.0), "control": np.arange(40.0) + 3}
    chart = histogram(OutcomeRule("math", "continuous"), "Spring math", scores, suppress=False)
    svgs = [
        forest([["Pilot A", 0.2, 0.0, 0.4, 0.18], ["Pilot B", 0.1, -0.1, 0.3, 0.12]], None),
        power_curve_svg(0.2, 0.05, 1.0, 2, 400, 788),
        finding_plots.distribution(outcome, "dist-0"),
        finding_plots.effects([outcome], 0.2),
        str(chart["svg"]),
    ]
    for svg in svgs:
        background = re.search(r'<svg[^>]*style="background: (#[0-9a-f]{6})"', svg).group(1)
        texts = re.findall(r"<text[^>]*>", svg)
        assert texts
        for text in texts:
            fill = re.search(r'fill(?:="|: )(#[0-9a-f]{6})', text)
            assert fill, text
            assert _contrast(fill.group(1), background) >= 4.5, text
