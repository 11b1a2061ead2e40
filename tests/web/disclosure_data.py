"""A published two-site pilot for the counting and disclosure tests: one site sends student
rows, the other only totals per arm (an aggregates-only site).

`Plan` says how many students each site randomized and analyzed, so the tests know every
true count (and which of them are small) without reading the database.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np

from analysis.randomization import ALGORITHM
from tests import factories
from tests.web.conftest import People
from tests.web.findings_data import design_document, register

SECOND_DISTRICT_EMAIL = "coordinator@birch-falls.example"


@dataclass(frozen=True)
class Plan:
    # Student-row site: rows uploaded per arm, and how many of them lack the primary outcome.
    rows: dict[str, int] = field(default_factory=lambda: {"treatment": 80, "control": 80})
    missing: dict[str, int] = field(default_factory=lambda: {"treatment": 12, "control": 10})
    # Aggregates-only site: randomized and analyzed (n) per arm, from its totals file.
    totals_randomized: dict[str, int] = field(
        default_factory=lambda: {"treatment": 60, "control": 60}
    )
    totals_analyzed: dict[str, int] = field(
        default_factory=lambda: {"treatment": 49, "control": 45}
    )
    # English learners among the analyzed students of the student-row site, per arm.
    english_learners: dict[str, int] = field(
        default_factory=lambda: {"treatment": 20, "control": 20}
    )
    # Analyzed students of the student-row site (per arm) whose baseline score is missing: the
    # ANCOVA leaves them out of the headline estimate.
    no_baseline: dict[str, int] = field(default_factory=lambda: {"treatment": 0, "control": 0})
    # Students of gender "x" among the analyzed treatment students (a level of 0-1 is left
    # out of the interaction test).
    gender_x: int = 0
    # Treatment students of the student-row site randomized in a block ("stratum") of their own.
    late_block: int = 0


@dataclass(frozen=True)
class Published:
    pilot: int
    finding: int  # the full finding
    public: int  # the finding the public reads
    student_site: int
    totals_site: int
    product: int


async def _second_district() -> int:

    district = await factories.organization(
        "district", "Birch Falls Schools", "birch-falls", state="WA"
    )
    await factories.user(SECOND_DISTRICT_EMAIL, "Bea Birch", organization=district)
    return district


async def _student_rows(pilot: int, site: int, plan: Plan) -> dict[str, str]:
    from testbed.bulk import bulk_insert
    from testbed.tables import Observation

    total = sum(plan.rows.values())
    dataset = await factories.dataset(
        pilot, site, total, uploaded_at=datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
    )
    rng = np.random.default_rng(5)
    rows = []
    for arm, count in plan.rows.items():
        for index in range(count):
            baseline = float(rng.normal(200, 20))
            lift = 10.0 if arm == "treatment" else 0.0
            score = 30 + 0.85 * baseline + lift + float(rng.normal(0, 12))
            analyzed = index >= plan.missing[arm]
            outcomes = {"math_score": round(score, 1), "met_benchmark": int(score >= 200)}
            position = index - plan.missing[arm]  # among the analyzed students of this arm
            gender_x = arm == "treatment" and 0 <= position < plan.gender_x
            rows.append(
                {
                    "dataset": dataset,
                    "student_key": f"{arm[0]}{index:063d}",
                    "cluster": f"room-{index % 4 + 1:02d}",
                    "arm": arm,
                    "frl": index % 2 == 0,
                    "el": 0 <= position < plan.english_learners[arm],
                    "swd": False,
                    "gender": "x" if gender_x else ("f" if index % 3 else "m"),
                    "race_ethnicity": "",
                    "baseline": None
                    if 0 <= position < plan.no_baseline[arm]
                    else round(baseline, 1),
                    "dosage": float(rng.integers(100, 500)) if arm == "treatment" else None,
                    "outcomes": outcomes if analyzed else dict.fromkeys(outcomes),
                }
            )
    await bulk_insert(Observation, rows)
    return {row["student_key"]: row["arm"] for row in rows}


async def _randomization(pilot: int, site: int, arms: dict[str, str], plan: Plan) -> None:
    """The service's record of the student-row site's draw (its counts are what was
    randomized there), with a block of `plan.late_block` treatment students."""
    from testbed.tables import Assignment, DesignVersion

    design = await DesignVersion.select(DesignVersion.id).where(DesignVersion.pilot == pilot)
    late = [key for key, arm in arms.items() if arm == "treatment"][: plan.late_block]
    await Assignment.insert(
        Assignment(
            pilot=pilot,
            site=site,
            seed=2026,
            algorithm=ALGORITHM,
            arms=arms,
            strata={key: "late" if key in late else "on time" for key in arms},
            design_version=design[-1]["id"],
        )
    )


async def _totals(pilot: int, site: int, plan: Plan) -> None:
    from testbed.tables import SummaryRow

    dataset = await factories.dataset(
        pilot,
        site,
        4,  # rows of the totals file, not students
        kind="aggregates",
        uploaded_at=datetime.datetime(2026, 6, 2, tzinfo=datetime.UTC),
    )
    for arm in ("treatment", "control"):
        n = plan.totals_analyzed[arm]
        lift = 8.0 if arm == "treatment" else 0.0
        await SummaryRow.insert(
            SummaryRow(
                dataset=dataset,
                arm=arm,
                outcome="math_score",
                randomized=plan.totals_randomized[arm],
                n=n,
                mean=200.0 + lift,
                sd=21.0,
            ),
            SummaryRow(
                dataset=dataset,
                arm=arm,
                outcome="met_benchmark",
                randomized=plan.totals_randomized[arm],
                n=n,
                successes=n // 2,
            ),
        )


async def seed_published(people: People, plan: Plan | None = None) -> Published:
    """Register, upload both sites, run the finding, approve it and publish it."""
    from testbed.auth import load_principal
    from testbed.findings import services
    from testbed.tables import Pilot

    plan = plan or Plan()
    pilot = people.active_pilot
    document = design_document()
    document["subgroups"] = ["el", "gender"]
    await register(pilot, 1, document, datetime.datetime(2026, 1, 10, tzinfo=datetime.UTC))
    totals_site = await _second_district()
    await factories.enrollment(pilot, totals_site)
    arms = await _student_rows(pilot, people.district, plan)
    await _randomization(pilot, people.district, arms, plan)
    await _totals(pilot, totals_site, plan)
    vendor = await load_principal(people.vendor_user)
    finding = await services.run_finding(vendor, pilot)
    await services.decide_approval(vendor, finding, decision="approve", site_id=None)
    district = await load_principal(people.district_user)
    await services.decide_approval(district, finding, decision="approve", site_id=people.district)
    second = await load_principal(
        (await _user_id(SECOND_DISTRICT_EMAIL)),
    )
    await services.decide_approval(second, finding, decision="approve", site_id=totals_site)
    await Pilot.update({Pilot.status: "analysis"}).where(Pilot.id == pilot)
    public = await services.publish(vendor, finding)
    return Published(
        pilot=pilot,
        finding=finding,
        public=public,
        student_site=people.district,
        totals_site=totals_site,
        product=people.product,
    )


async def _user_id(email: str) -> int:
    from testbed.tables import User

    return (await User.select(User.id).where(User.email == email).first())["id"]
