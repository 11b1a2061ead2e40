"""Students with the outcome but no baseline score are not in an ANCOVA's estimate, so they
count as attrition: the analytic sample is the sample of the headline estimate.

WWC (Standards Handbook, Version 5.0, 2022, section III.B; the same in Version 4.1, 2020,
II.B): attrition is the share of the randomized sample not in the analytic sample, the students
whose outcomes enter the impact estimate. With no imputation, a student missing the baseline an
ANCOVA adjusts for is not in that sample.

The plan (tests/web/disclosure_data.Plan) with six treatment and four control students of the
student-row site lacking a baseline:
- student-row site: 80 / 80 randomized, 68 / 70 with the outcome, 62 / 66 with both;
- totals site: 60 / 60 randomized, 49 / 45 analyzed.
Randomized 140 / 140; analyzed 111 / 111; lost 29 / 29: overall 58 / 280 = 20.71 %, treatment
and control 20.71 %, differential 0: low under the cautious boundary. The ANCOVA's sample is
62 + 66 = 128 students; statsmodels' OLS on the same rows (rows with a missing value dropped)
is the independent check of that n and of the estimate.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import statsmodels.api as sm

from tests.web.conftest import sign_in
from tests.web.disclosure_data import Plan, seed_published

PLAN = Plan(no_baseline={"treatment": 6, "control": 4})
RANDOMIZED = {"treatment": 140, "control": 140}
ANALYZED = {"treatment": 111, "control": 111}


@pytest.fixture
def published(call, people):
    return call(seed_published, people, PLAN)


def _primary(results: dict) -> dict:
    return next(outcome for outcome in results["outcomes"] if outcome["primary"])


async def _student_rows(pilot: int) -> list[dict]:
    from testbed.tables import Dataset, Observation

    return (
        await Observation.select(Observation.arm, Observation.baseline, Observation.outcomes)
        .where(Observation.dataset.is_in(Dataset.select(Dataset.id).where(Dataset.pilot == pilot)))
        .output(load_json=True)
    )


def test_finding_counts_students_without_a_baseline_as_attrition(client, call, published):
    sign_in(client, "district")
    results = client.get(f"/findings/{published.finding}.json").json()["results"]
    primary = _primary(results)
    attrition = primary["attrition"]
    assert attrition["randomized"] == RANDOMIZED
    assert attrition["analyzed"] == ANALYZED
    assert attrition["overall"] == pytest.approx(58 / 280)
    assert attrition["differential"] == pytest.approx(0.0)
    assert attrition["rating"] == "low"
    rows = {row["site_id"]: row for row in results["site_counts"]}
    assert rows[published.student_site]["analyzed"] == {"treatment": 62, "control": 66}
    assert results["essa"]["students"] == 128

    # statsmodels, not our code: OLS of the outcome on treatment and baseline, rows with a
    # missing value dropped.
    table = call(_student_rows, published.pilot)
    scores = [r["outcomes"]["math_score"] for r in table]
    outcome = np.array([np.nan if s is None else s for s in scores], dtype=float)
    baseline = np.array([np.nan if r["baseline"] is None else r["baseline"] for r in table])
    treated = np.array([1.0 if r["arm"] == "treatment" else 0.0 for r in table])
    design = sm.add_constant(np.column_stack([treated, baseline]))
    fitted = sm.OLS(outcome, design, missing="drop").fit()
    assert int(fitted.nobs) == primary["ancova"]["n"] == 128
    assert primary["ancova"]["coefficient"] == pytest.approx(fitted.params[1], rel=1e-9)


def test_data_page_counts_the_same_analytic_sample(client, published):
    sign_in(client, "district")
    text = re.sub(r"\s+", " ", client.get(f"/pilots/{published.pilot}/data").text)
    assert (
        "Of 280 students randomized, 222 are in the analysis (students with the primary outcome "
        "and a baseline score, which the estimate adjusts for): overall attrition 20.7 %"
    ) in text


def test_public_page_counts_the_students_in_the_ancova(client, published):
    text = re.sub(r"\s+", " ", client.get(f"/findings/{published.public}").text)
    assert "<dt>Students analyzed</dt><dd>128</dd>" in text
