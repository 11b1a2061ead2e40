"""The cost-effectiveness plot: effect per $1,000 per student for each pilot and pooled, with
its interval, as small hand-written SVG (it scales to the page's width; no script)."""

from __future__ import annotations

from html import escape

from analysis.cost_effectiveness import CostEffectiveness

WIDTH = 360
ROW = 26
LEFT = 130  # room for the labels
RIGHT = 12


def _label(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def effect_per_1000(
    rows: list[tuple[str, CostEffectiveness]],
    pooled: CostEffectiveness | None,
    title: str = "Effect per $1,000 per student, each pilot and pooled",
) -> str | None:
    """rows: (label, result) per pilot; pooled drawn last as a diamond. None without numbers."""
    entries = [(label, ce) for label, ce in rows if ce.effect_per_1000 is not None]
    if pooled is not None and pooled.effect_per_1000 is not None:
        entries.append(("All pilots pooled", pooled))
    if not entries:
        return None
    ends = [0.0]
    for _, ce in entries:
        ends.append(ce.effect_per_1000)
        if ce.effect_per_1000_set.bounded:
            ends += [ce.effect_per_1000_set.low, ce.effect_per_1000_set.high]
    low, high = min(ends), max(ends)
    pad = (high - low) * 0.08 or 1.0
    low, high = low - pad, high + pad
    plot_width = WIDTH - LEFT - RIGHT
    height = ROW * len(entries) + 44

    def x(value: float) -> float:
        return LEFT + (value - low) / (high - low) * plot_width

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="ce-title ce-desc" '
        'style="max-width:40rem;font:11px sans-serif">',
        f'<title id="ce-title">{escape(title)}</title>',
        '<desc id="ce-desc">Standard deviations of gain per $1,000 spent per student; the line '
        "is the 95 % interval; a dashed line across the plot, no useful interval (the cost per "
        "student too uncertain to divide by). The table beside it gives the "
        "numbers.</desc>",
        f'<line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="{height - 36}" stroke="#888" '
        'stroke-dasharray="3 3"/>',
    ]
    for index, (label, ce) in enumerate(entries):
        y = 14 + index * ROW
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{escape(_label(label))}</text>'
        )
        found = ce.effect_per_1000_set
        if found.bounded:
            parts.append(
                f'<line x1="{x(found.low):.1f}" y1="{y}" x2="{x(found.high):.1f}" y2="{y}" '
                'stroke="#1b1f24" stroke-width="1.5"/>'
            )
        else:
            parts.append(
                f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#1b1f24" '
                'stroke-width="1.5" stroke-dasharray="6 3"/>'
            )
        point = x(ce.effect_per_1000)
        if label == "All pilots pooled":
            parts.append(
                f'<polygon points="{point - 6:.1f},{y} {point:.1f},{y - 6} {point + 6:.1f},{y} '
                f'{point:.1f},{y + 6}" fill="#1b1f24"/>'
            )
        else:
            parts.append(
                f'<rect x="{point - 4:.1f}" y="{y - 4}" width="8" height="8" fill="#0b5cad"/>'
            )
    axis_y = height - 32
    parts.append(
        f'<line x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}" stroke="#1b1f24"/>'
    )
    ticks: list[float] = []
    for value in (0.0, low + pad, high - pad):  # zero first; no two ticks closer than 20 %
        if all(abs(x(value) - x(shown)) > plot_width * 0.2 for shown in ticks):
            ticks.append(value)
    for value in ticks:
        parts.append(
            f'<text x="{x(value):.1f}" y="{axis_y + 13}" text-anchor="middle">{value:.2f}'.replace(
                "-", "−"
            )
            + "</text>"
        )
    parts.append(
        f'<text x="{LEFT + plot_width / 2:.1f}" y="{height - 3}" text-anchor="middle">'
        "SD gained per $1,000 per student</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def likely_gain(pooled_ci: tuple[float, float], prediction: tuple[float, float]) -> str:
    """The pooled effect's interval beside the wider prediction interval (a new district's
    likely effect), on one axis with zero marked."""
    low = min(0.0, prediction[0], pooled_ci[0])
    high = max(0.0, prediction[1], pooled_ci[1])
    pad = (high - low) * 0.08 or 0.1
    low, high = low - pad, high + pad
    plot_width = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return LEFT + (value - low) / (high - low) * plot_width

    rows = (("Average of pilots", pooled_ci), ("A district like yours", prediction))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 92" width="100%" '
        'role="img" aria-labelledby="gain-title gain-desc" style="max-width:40rem;font:11px '
        'sans-serif">',
        '<title id="gain-title">Likely effect in a district like yours</title>',
        '<desc id="gain-desc">The 95 % interval of the pilots\' average effect and the 95 % '
        "prediction interval for one new district, in standard deviations; the numbers are "
        "beside the plot.</desc>",
        f'<line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="62" stroke="#888" '
        'stroke-dasharray="3 3"/>',
    ]
    for index, (label, (start, end)) in enumerate(rows):
        y = 18 + index * 26
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<line x1="{x(start):.1f}" y1="{y}" x2="{x(end):.1f}" y2="{y}" stroke="#1b1f24" '
            f'stroke-width="{6 if index == 0 else 2}"/>'
        )
    parts.append(f'<line x1="{LEFT}" y1="66" x2="{WIDTH - RIGHT}" y2="66" stroke="#1b1f24"/>')
    for value in (0.0, *(v for v in (low + pad, high - pad) if abs(x(v) - x(0)) > 40)):
        parts.append(
            f'<text x="{x(value):.1f}" y="79" text-anchor="middle">'
            + f"{value:.2f}".replace("-", "−")
            + "</text>"
        )
    parts.append(
        f'<text x="{LEFT + plot_width / 2:.1f}" y="91" text-anchor="middle">effect (SD)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
