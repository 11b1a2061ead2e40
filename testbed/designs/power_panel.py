"""The power panel: what a design can detect with its planned sample, said in words and drawn
as a small SVG made on the server.

Two-arm comparisons use analysis.power. Cluster designs inflate the variance by the design
effect 1 + (m − 1)·ICC: the minimum detectable effect comes from `mdes` with the cluster size
(on 2J − 2 degrees of freedom, J clusters per arm), and the power and the sample needed from
the effective sample size, students ÷ design effect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from analysis import power as stats_power

TARGET_POWER = 0.8
STUDENTS_PER_CLASSROOM = 22  # assumed when a classroom-cluster design gives no number
ESSA_MIN_STUDENTS = 350
ESSA_MIN_DISTRICTS = 2
PLOT_POINTS = 48


@dataclass(frozen=True)
class PowerPanel:
    applicable: bool
    total_students: int
    students_per_arm: float | None = None
    cluster_size: float | None = None
    design_effect: float | None = None
    mdes: float | None = None
    power_at_mme: float | None = None
    students_for_80_percent_power: int | None = None
    sentences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    svg: str = ""


def _sd(value: float) -> str:
    return f"{value:.2f} SD"


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def _cluster_size(document: dict[str, Any]) -> tuple[float, str | None]:
    """The students per assigned cluster, and a sentence when it is an assumption."""
    if document["design_type"] != "cluster_rct":
        return 1.0, None
    given = document.get("students_per_cluster")
    if given:
        return float(given), None
    if document["unit_of_assignment"] == "classroom":
        return float(STUDENTS_PER_CLASSROOM), (
            f"The design gives no classroom size, so about {STUDENTS_PER_CLASSROOM} students "
            "per classroom is assumed."
        )
    students = float(document["planned_students_per_site"])
    return students, (
        f"The design gives no school size, so each site is taken as one school of "
        f"{document['planned_students_per_site']:,} students."
    )


def power_panel(document: dict[str, Any]) -> PowerPanel:
    sites = int(document["planned_sites"])
    per_site = int(document["planned_students_per_site"])
    total = sites * per_site
    essa = _essa_warning(total, sites)
    if document["design_type"] == "pre_post":
        return PowerPanel(
            applicable=False,
            total_students=total,
            sentences=[
                "A single-group pre/post design has no comparison group, so there is no "
                "effect to power: growth that would have happened anyway counts as impact."
            ],
            warnings=[essa] if essa else [],
        )
    arms = max(2, len(document["arms"]))
    mme = float(document["minimum_meaningful_effect"])
    icc = float(document.get("icc") or 0.0) if document["design_type"] == "cluster_rct" else 0.0
    alpha = float((document.get("analysis_plan") or {}).get("alpha", 0.05))
    m, assumption = _cluster_size(document)
    design_effect = 1.0 + (m - 1.0) * icc
    per_arm = total / arms
    sentences = [assumption] if assumption else []
    warnings = []
    try:
        detectable = stats_power.mdes(
            per_arm, power=TARGET_POWER, alpha=alpha, icc=icc, cluster_size=m
        )
        power_at_mme = stats_power.power_two_sample(mme, per_arm / design_effect, alpha=alpha)
    except ValueError as error:
        return PowerPanel(
            applicable=False,
            total_students=total,
            students_per_arm=per_arm,
            cluster_size=m,
            design_effect=design_effect,
            sentences=sentences,
            warnings=[
                f"The power of this plan cannot be computed: {error}.",
                *filter(None, [essa]),
            ],
        )
    needed_per_arm = stats_power.sample_size_two_sample(mme, power=TARGET_POWER, alpha=alpha)
    needed = math.ceil(needed_per_arm.n_per_arm * design_effect) * arms
    cluster_words = (
        f" (design effect {design_effect:.2f} for clusters of {m:g} at ICC {icc:g})"
        if design_effect != 1.0
        else ""
    )
    sentences.append(
        f"With {sites:,} site{'s' if sites != 1 else ''} of {per_site:,} students{cluster_words}, "
        f"the smallest effect this pilot can reliably detect is {_sd(detectable)}; the effect "
        f"you hope for ({_sd(mme)}) would be detected with {_percent(power_at_mme)} probability. "
        f"About {needed:,} students would give {_percent(TARGET_POWER)} power."
    )
    if detectable > mme:
        warnings.append(
            f"This design cannot reliably detect the effect it hopes for: {_sd(mme)} is smaller "
            f"than the {_sd(detectable)} it can detect with {_percent(TARGET_POWER)} power. "
            + (
                "Add sites or classrooms, or assign students rather than whole clusters, "
                if design_effect > 1
                else "Add sites or students "
            )
            + "before registering."
        )
    if essa:
        warnings.append(essa)
    return PowerPanel(
        applicable=True,
        total_students=total,
        students_per_arm=per_arm,
        cluster_size=m,
        design_effect=design_effect,
        mdes=detectable,
        power_at_mme=power_at_mme,
        students_for_80_percent_power=needed,
        sentences=sentences,
        warnings=warnings,
        svg=power_curve_svg(mme, alpha, design_effect, arms, total, needed),
    )


def _essa_warning(total: int, sites: int) -> str | None:
    if total >= ESSA_MIN_STUDENTS and sites >= ESSA_MIN_DISTRICTS:
        return None
    return (
        f"With {total:,} students in {sites:,} district{'s' if sites != 1 else ''}, this pilot "
        f"cannot reach the sample that ESSA evidence tiers 1 and 2 require (at least "
        f"{ESSA_MIN_STUDENTS} students in at least {ESSA_MIN_DISTRICTS} districts); its "
        "findings can count at most as tier 3 or 4."
    )


# --- the plot ---------------------------------------------------------------------------------

WIDTH, HEIGHT = 480, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 16, 52


def _round_ticks(low: float, high: float, count: int = 5) -> list[int]:
    """Whole, round numbers of students (1, 2, 2.5 or 5 times a power of ten apart) inside
    [low, high], so the axis reads 100, 200, 300 rather than 11, 756, 1,501."""
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    first = math.ceil(low / step) * step
    return list(range(int(first), int(high) + 1, step))


# Text and background are explicit, so the text's contrast is known wherever the plot is shown
# (#1b1f24 on white is 16:1).
TEXT_COLOUR, BACKGROUND = "#1b1f24", "#ffffff"


@lru_cache(maxsize=256)
def power_curve_svg(
    mme: float, alpha: float, design_effect: float, arms: int, planned: int, needed: int
) -> str:
    """Power at the minimum meaningful effect against the total number of students."""
    smallest = math.ceil(2 * arms * design_effect)
    largest = max(planned, needed, smallest + arms) * 1.5
    step = (largest - smallest) / (PLOT_POINTS - 1)
    totals = [smallest + i * step for i in range(PLOT_POINTS)]
    points = [
        (n, stats_power.power_two_sample(mme, n / arms / design_effect, alpha=alpha))
        for n in totals
    ]

    def x(n: float) -> float:
        return LEFT + (n - smallest) / (largest - smallest) * (WIDTH - LEFT - RIGHT)

    def y(p: float) -> float:
        return TOP + (1 - p) * (HEIGHT - TOP - BOTTOM)

    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x(n):.1f},{y(p):.1f}" for i, (n, p) in enumerate(points)
    )
    planned_power = stats_power.power_two_sample(mme, planned / arms / design_effect, alpha=alpha)
    ticks = "".join(
        f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="#555"/>'
        f'<text x="{LEFT - 8}" y="{y(p) + 4:.1f}" text-anchor="end" font-size="13" '
        f'fill="{TEXT_COLOUR}">'
        f"{_percent(p)}</text>"
        for p in (0, 0.2, 0.4, 0.6, 0.8, 1.0)
    )
    axis_labels = "".join(
        f'<text x="{x(n):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="13" '
        f'fill="{TEXT_COLOUR}">'
        f"{n:,.0f}</text>"
        for n in _round_ticks(smallest, largest)
    ) + "".join(
        f'<line x1="{x(n):.1f}" x2="{x(n):.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 4}" '
        f'stroke="#555"/>'
        for n in _round_ticks(smallest, largest)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="power-title power-desc" class="power-plot" '
        f'style="background: {BACKGROUND}">'
        f'<title id="power-title">Power to detect {mme:.2f} SD by number of students</title>'
        f'<desc id="power-desc">The curve rises from {_percent(points[0][1])} at '
        f"{smallest:,} students to {_percent(points[-1][1])} at {largest:,.0f}. "
        f"The planned {planned:,} students give "
        f"{_percent(planned_power)}; {needed:,} students give {_percent(TARGET_POWER)}.</desc>"
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#999"/>'
        f"{ticks}{axis_labels}"
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(TARGET_POWER):.1f}" '
        f'y2="{y(TARGET_POWER):.1f}" stroke="#777" stroke-dasharray="4 3"/>'
        f'<path d="{path}" fill="none" stroke="#1f5fa8" stroke-width="2"/>'
        f'<line x1="{x(planned):.1f}" x2="{x(planned):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
        f'stroke="#b34700" stroke-dasharray="2 2"/>'
        f'<circle cx="{x(planned):.1f}" cy="{y(planned_power):.1f}" r="4" fill="#b34700"/>'
        f'<text x="{x(planned) + 6:.1f}" y="{y(planned_power) - 6:.1f}" font-size="13" '
        f'fill="{TEXT_COLOUR}">'
        f"planned: {_percent(planned_power)}</text>"
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle" '
        f'font-size="14" fill="{TEXT_COLOUR}">students in the pilot (all arms)</text>'
        f'<text transform="translate(16 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle" font-size="14" fill="{TEXT_COLOUR}">power at {mme:.2f} SD</text>'
        "</svg>"
    )
