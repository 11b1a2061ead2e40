"""Randomized and analyzed students per site and arm, and attrition: the one source every page,
export and finding reads them from."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from analysis.wwc import attrition as wwc_attrition
from testbed.designs.services import registered_design
from testbed.tables import (
    Assignment,
    Dataset,
    Observation,
    SummaryRow,
)
from testbed.uploads.services.sites import pilot_datasets, rules_from_design


def json_value_sql(engine_type: str) -> str:
    """SQL for one outcome's value inside Observation.outcomes (the path as a parameter)."""
    if engine_type == "postgres":
        return "(outcomes::jsonb ->> {})"
    return "json_extract(outcomes, {})"


def json_path(engine_type: str, name: str) -> str:
    return name if engine_type == "postgres" else "$." + json.dumps(name)


@dataclass
class ArmCounts:
    randomized: int
    analyzed: int
    # Students with the outcome left out of the estimate for want of a baseline score.
    left_out_without_baseline: int = 0


async def site_arm_counts(
    pilot_id: int, design: dict[str, Any], datasets: list[dict[str, Any]]
) -> dict[int, dict[str, ArmCounts]]:
    """Per site (current upload) and arm: randomized and analyzed.

    Randomized comes from the site's randomization when students were randomized by the
    service, else from the rows uploaded; for aggregates from the file's randomized column.
    Analyzed is the analytic sample of the headline estimate: students with the primary
    outcome, and with a baseline too when the estimate adjusts for it (a continuous outcome
    under a design that registers a baseline, once any student has both; the ANCOVA leaves
    the others out, so they count as attrition). Findings count the same way
    (testbed.findings.compute, `analyzed_by_site`).
    """
    document = design["document"]
    rules = rules_from_design(document, None, 0)
    primary = rules.primary_outcome
    primary_kind = next(o.kind for o in rules.outcomes if o.name == primary)
    adjusts = rules.has_baseline and primary_kind != "binary"
    current = [d for d in datasets if d["is_current"]]
    counts: dict[int, dict[str, ArmCounts]] = {d["site"]: {} for d in current}
    student_sets = {d["id"]: d["site"] for d in current if d["kind"] == "students"}
    aggregate_sets = {d["id"]: d["site"] for d in current if d["kind"] == "aggregates"}
    engine = Observation._meta.db
    if student_sets:
        ids = ", ".join(str(int(i)) for i in student_sets)
        value = json_value_sql(engine.engine_type)
        rows = await Observation.raw(
            f"SELECT dataset, arm, COUNT(*) AS uploaded, "  # noqa: S608 (ids are ints)
            f"COUNT({value}) AS with_outcome, "
            f"COUNT(CASE WHEN baseline IS NOT NULL THEN {value} END) AS with_both "
            f"FROM observation WHERE dataset IN ({ids}) GROUP BY dataset, arm",
            json_path(engine.engine_type, primary),
            json_path(engine.engine_type, primary),
        )
        analyzed = (
            "with_both" if adjusts and any(row["with_both"] for row in rows) else "with_outcome"
        )
        for row in rows:
            counts[student_sets[row["dataset"]]][row["arm"]] = ArmCounts(
                row["uploaded"],
                row[analyzed],
                left_out_without_baseline=row["with_outcome"] - row[analyzed],
            )
    if aggregate_sets:
        summaries = await SummaryRow.select().where(SummaryRow.dataset.is_in(list(aggregate_sets)))
        # Randomized is a property of the site's arm, not of an outcome: the largest figure any
        # row of the file gives (its randomized column, else its n), so an outcome measured on
        # fewer students does not shrink the sample randomized.
        for row in summaries:
            site_counts = counts[aggregate_sets[row["dataset"]]]
            found = site_counts.get(row["arm"], ArmCounts(0, 0))
            randomized = max(found.randomized, row["randomized"] or 0, row["n"])
            analyzed = row["n"] if row["outcome"] == primary else found.analyzed
            site_counts[row["arm"]] = ArmCounts(max(randomized, analyzed), analyzed)
    if document.get("unit_of_assignment", "student") == "student":
        assignments = (
            await Assignment.select(Assignment.site, Assignment.arms)
            .where(Assignment.pilot == pilot_id)
            .order_by(Assignment.id)
            .output(load_json=True)
        )
        for assignment in assignments:
            site_counts = counts.get(assignment["site"])
            if site_counts is None or assignment["site"] in aggregate_sets.values():
                continue
            per_arm: dict[str, int] = {}
            for arm in assignment["arms"].values():
                per_arm[arm] = per_arm.get(arm, 0) + 1
            for arm, randomized in per_arm.items():
                found = site_counts.get(arm, ArmCounts(0, 0))
                site_counts[arm] = replace(found, randomized=max(randomized, found.analyzed))
    return counts


async def current_site_counts(pilot_id: int) -> dict[int, dict[str, ArmCounts]]:
    """Per site with a current upload and arm: randomized and analyzed, under the pilot's
    registered design (empty before registration). The one source of these counts for the
    finding, the data page, the dashboard and the home page."""
    design = await registered_design(pilot_id)
    if design is None:
        return {}
    return await site_arm_counts(pilot_id, design, await pilot_datasets(pilot_id))


def students_reached(counts: dict[str, ArmCounts]) -> int:
    """Students in a site's part of the pilot: every student randomized (or uploaded), whether
    or not their outcome arrived; for a site that sent totals, from its totals."""
    return sum(arm.randomized for arm in counts.values())


async def network_students_reached() -> dict[tuple[int, int], int]:
    """(pilot, site) -> students reached, over every current upload of the network."""
    pilots = await Dataset.select(Dataset.pilot).where(Dataset.is_current.eq(True)).distinct()
    reached = {}
    for pilot_id in sorted(row["pilot"] for row in pilots):
        for site, counts in (await current_site_counts(pilot_id)).items():
            reached[(pilot_id, site)] = students_reached(counts)
    return reached


@dataclass(frozen=True)
class AttritionSummary:
    randomized: dict[str, int]
    analyzed: dict[str, int]
    overall: float | None
    differential: float | None
    rating: str | None
    max_differential: float | None
    words: str


def attrition_summary(
    counts: dict[str, ArmCounts], arms: tuple[str, ...] = ("treatment", "control")
) -> AttritionSummary:
    """Overall and differential attrition with the WWC rating (cautious boundary), in words."""
    randomized = {arm: counts[arm].randomized for arm in counts}
    analyzed = {arm: counts[arm].analyzed for arm in counts}
    total_randomized = sum(randomized.values())
    total_analyzed = sum(analyzed.values())
    in_sample = (
        "are in the analysis (students with the primary outcome and a baseline score, which the "
        "estimate adjusts for)"
        if any(arm.left_out_without_baseline for arm in counts.values())
        else "have the primary outcome"
    )
    treatment, control = (arms + ("control",))[:2]
    if randomized.get(treatment, 0) >= 1 and randomized.get(control, 0) >= 1:
        result = wwc_attrition(
            randomized[treatment], analyzed.get(treatment, 0), randomized[control],
            analyzed.get(control, 0),
        )  # fmt: skip
        words = (
            f"Of {total_randomized:,} students randomized, {total_analyzed:,} {in_sample}: "
            f"overall attrition {100 * result.overall:.1f} %, differential "
            f"{100 * result.differential:.1f} percentage points ({treatment} "
            f"{100 * result.treatment:.1f} %, {control} {100 * result.control:.1f} %). "
            + (
                "That is low attrition under the WWC's cautious boundary."
                if result.rating == "low"
                else "That is high attrition under the WWC's cautious boundary"
                + (
                    f" (at this overall rate the differential must stay within "
                    f"{100 * result.max_differential:.1f} points)."
                    if result.max_differential is not None
                    else " (no differential is low at this overall rate)."
                )
            )
        )
        return AttritionSummary(
            randomized, analyzed, result.overall, result.differential, result.rating,
            result.max_differential, words,
        )  # fmt: skip
    if total_randomized:
        overall = 1 - total_analyzed / total_randomized
        words = (
            f"Of {total_randomized:,} students, {total_analyzed:,} {in_sample} "
            f"(attrition {100 * overall:.1f} %). With one arm there is no differential "
            "attrition to rate."
        )
        return AttritionSummary(randomized, analyzed, overall, None, None, None, words)
    return AttritionSummary(randomized, analyzed, None, None, None, None, "No data yet.")


async def dataset_attrition(dataset_id: int) -> AttritionSummary | None:
    """Attrition of one site's upload, as shown right after it."""
    dataset = await Dataset.select().where(Dataset.id == dataset_id).first()
    design = await registered_design(dataset["pilot"]) if dataset else None
    if dataset is None or design is None:
        return None
    counts = await site_arm_counts(dataset["pilot"], design, [{**dataset, "is_current": True}])
    arms = tuple(design["document"].get("arms") or ("treatment", "control"))
    return attrition_summary(counts.get(dataset["site"], {}), arms)
