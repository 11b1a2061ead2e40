"""A small study on the `people` fixture's active pilot: a registered design, a current
dataset per site, and student rows with a known effect and one small subgroup."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from tests import factories
from tests.web.conftest import People

SECOND_DISTRICT_EMAIL = "coordinator@birch-falls.example"
SMALL_GROUP = 6  # English learners in the first site: fewer than 10


def design_document(primary: str = "math_score", label: str = "Spring math score") -> dict:
    return {
        "design_type": "rct",
        "unit_of_assignment": "student",
        "arms": ["treatment", "control"],
        "research_questions": ["Does MathQuest raise spring math scores?"],
        "outcomes": [
            {
                "name": primary,
                "label": label,
                "kind": "continuous",
                "primary": True,
                "direction": "higher_is_better",
                "instrument": "Interim assessment",
                "unit": "points",
                "min": 100,
                "max": 300,
            },
            {
                "name": "met_benchmark",
                "label": "Met the benchmark",
                "kind": "binary",
                "primary": False,
                "direction": "higher_is_better",
                "instrument": "Interim assessment",
                "unit": "",
                "min": 0,
                "max": 1,
            },
        ],
        "baseline_measure": "fall_math_score",
        "subgroups": ["frl", "el"],
        "minimum_meaningful_effect": 0.2,
        "icc": 0.2,
        "planned_sites": 2,
        "planned_students_per_site": 100,
        "analysis_plan": {
            "covariates": ["baseline"],
            "missing_data": "complete cases",
            "alpha": 0.05,
        },
    }


@dataclass(frozen=True)
class Study:
    pilot: int
    sites: tuple[int, ...]
    second_district_user: int | None


async def register(pilot: int, version: int, document: dict, when: datetime.datetime, reason=""):

    await factories.design(
        pilot, document, version, registered_at=when, sha256="0" * 64, amendment_reason=reason
    )


async def upload(pilot: int, site: int, seed: int, extra_outcome: str | None = None) -> int:
    """One current dataset of 120 students (effect about 0.5 SD); the first 6 + 6 are EL."""
    from testbed.bulk import bulk_insert
    from testbed.tables import Observation

    dataset = await factories.dataset(
        pilot, site, 120, uploaded_at=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
    )
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(120):
        treated = index % 2 == 0
        baseline = float(rng.normal(200, 20))
        score = 30 + 0.85 * baseline + (10.0 if treated else 0.0) + float(rng.normal(0, 12))
        outcomes = {"math_score": round(score, 1), "met_benchmark": int(score >= 200)}
        if extra_outcome:
            outcomes[extra_outcome] = round(float(rng.normal(50, 5)), 1)
        if index == 7:
            outcomes = dict.fromkeys(outcomes)  # one student missed the test
        rows.append(
            {
                "dataset": dataset,
                "student_key": f"{seed:04d}{index:060d}",
                "cluster": f"room-{index % 4 + 1:02d}",
                "arm": "treatment" if treated else "control",
                "frl": bool(rng.random() < 0.5),
                "el": index < 2 * SMALL_GROUP,
                "swd": False,
                "gender": "f" if index % 3 else "m",
                "race_ethnicity": "",
                "baseline": round(baseline, 1),
                "dosage": float(rng.integers(100, 500)) if treated else None,
                "outcomes": outcomes,
            }
        )
    await bulk_insert(Observation, rows)
    return dataset


async def seed_study(
    people: People,
    *,
    second_site: bool = False,
    title: str | None = None,
    document: dict | None = None,
    extra_outcome: str | None = None,
) -> Study:
    from testbed.tables import DesignVersion, Pilot

    pilot = people.active_pilot
    if title is not None:
        await Pilot.update({Pilot.title: title}).where(Pilot.id == pilot)
    # Another fixture may have registered a version already: this one comes after it.
    existing = await DesignVersion.count().where(DesignVersion.pilot == pilot)
    await register(
        pilot,
        existing + 1,
        document or design_document(),
        datetime.datetime(2026, 1, 10, tzinfo=datetime.UTC),
    )
    sites = [people.district]
    second_user = None
    if second_site:
        district = await factories.organization("district", "Birch Falls Schools", "birch-falls")
        second_user = await factories.user(
            SECOND_DISTRICT_EMAIL, "Bea Birch", organization=district
        )
        await factories.enrollment(pilot, district)
        sites.append(district)
    for number, site in enumerate(sites):
        await upload(pilot, site, seed=11 + number, extra_outcome=extra_outcome)
    return Study(pilot=pilot, sites=tuple(sites), second_district_user=second_user)


async def finding_for_matrix(people: People) -> int:
    """The active pilot's finding (made once per database), for the authorization matrix."""
    from testbed.auth import load_principal
    from testbed.findings.services import latest_finding, run_finding

    existing = await latest_finding(people.active_pilot)
    if existing is not None:
        return existing["id"]
    await seed_study(people)
    return await run_finding(await load_principal(people.vendor_user), people.active_pilot)
