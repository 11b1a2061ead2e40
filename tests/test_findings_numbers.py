"""The finding for a demo pilot equals an independent computation with scipy and numpy on the
same rows, read straight from the database; and it recovers the demo's true effect."""

from __future__ import annotations

import asyncio
import json
import math

import numpy as np
import pytest
from scipy import stats

PILOT_TITLE = "MathQuest Adaptive in grades 9–10"  # analysis, student RCT, 4 sites


async def _load_and_run() -> tuple[dict, dict]:
    from testbed.auth import load_principal
    from testbed.demo import load_demo
    from testbed.findings.services import run_finding
    from testbed.tables import Dataset, Enrollment, Finding, Observation, Pilot, User

    await load_demo(scale=1, seed=2026, reset=True)
    pilot = await Pilot.select(Pilot.id, Pilot.status).where(Pilot.title == PILOT_TITLE).first()
    admin = await User.select(User.id).where(User.is_network_admin.eq(True)).first()
    finding_id = await run_finding(await load_principal(admin["id"]), pilot["id"])
    finding = await Finding.select().where(Finding.id == finding_id).first()
    sites = await Enrollment.select(Enrollment.district).where(
        (Enrollment.pilot == pilot["id"]) & (Enrollment.status == "site")
    )
    datasets = await Dataset.select(Dataset.id, Dataset.site).where(
        (Dataset.pilot == pilot["id"])
        & Dataset.is_current.eq(True)
        & Dataset.site.is_in([row["district"] for row in sites])
    )
    rows = (
        await Observation.select(
            Observation.dataset, Observation.arm, Observation.baseline, Observation.outcomes
        )
        .where(Observation.dataset.is_in([row["id"] for row in datasets]))
        .output(load_json=True)
    )
    site_of = {row["id"]: row["site"] for row in datasets}
    return (
        {"finding": finding, "status": pilot["status"], "dataset_ids": sorted(site_of)},
        {"rows": rows, "site_of": site_of},
    )


@pytest.fixture(scope="module")
def demo_finding(migrated_database):
    """The demo loaded (replacing whatever the database held) and the finding run, once for
    the module, with no test client open."""
    return asyncio.run(_load_and_run())


def test_the_finding_records_its_inputs(demo_finding):
    finding, data = demo_finding
    assert finding["status"] == "analysis"
    assert json.loads(finding["finding"]["dataset_ids"]) == finding["dataset_ids"]
    assert finding["dataset_ids"] == sorted(data["site_of"])
    results = json.loads(finding["finding"]["results"])
    assert results["design"]["design_version_id"] == finding["finding"]["design_version"]


def test_every_key_number_matches_scipy_and_numpy(demo_finding):
    finding, data = demo_finding
    results = json.loads(finding["finding"]["results"])
    primary = next(o for o in results["outcomes"] if o["primary"])
    name = primary["name"]
    rows = [row for row in data["rows"] if row["outcomes"].get(name) is not None]
    y = np.array([row["outcomes"][name] for row in rows], dtype=float)
    arm = np.array([row["arm"] for row in rows])
    treatment, control = y[arm == "treatment"], y[arm == "control"]

    for label, values in (("treatment", treatment), ("control", control)):
        shown = primary["arms"][label]
        assert shown["n"] == values.size
        assert shown["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert shown["sd"] == pytest.approx(values.std(ddof=1), rel=1e-12)

    welch = stats.ttest_ind(treatment, control, equal_var=False)
    assert primary["test"]["statistic"] == pytest.approx(welch.statistic, rel=1e-10)
    assert primary["test"]["p"] == pytest.approx(welch.pvalue, rel=1e-8)
    rank_sum = stats.mannwhitneyu(treatment, control, alternative="two-sided")
    assert primary["sensitivity"]["p"] == pytest.approx(rank_sum.pvalue, rel=1e-8)

    n_t, n_c = treatment.size, control.size
    pooled = math.sqrt(
        ((n_t - 1) * treatment.var(ddof=1) + (n_c - 1) * control.var(ddof=1)) / (n_t + n_c - 2)
    )
    omega = 1 - 3 / (4 * (n_t + n_c) - 9)
    g = omega * (treatment.mean() - control.mean()) / pooled
    assert primary["effect"]["g"] == pytest.approx(g, rel=1e-10)

    # ANCOVA: outcome on treatment, baseline and one dummy per site but the first.
    sites = np.array([data["site_of"][row["dataset"]] for row in rows])
    baseline = np.array([row["baseline"] for row in rows], dtype=float)
    dummies = [(sites == site).astype(float) for site in sorted(set(sites))[1:]]
    design = np.column_stack(
        [np.ones(y.size), (arm == "treatment").astype(float), baseline, *dummies]
    )
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    assert primary["ancova"]["coefficient"] == pytest.approx(coefficients[1], rel=1e-8)
    assert primary["ancova"]["site_fixed_effects"] is True
    assert primary["headline"]["g"] == pytest.approx(coefficients[1] * omega / pooled, rel=1e-8)


def test_the_estimate_recovers_the_true_effect(demo_finding):
    from testbed.demo import generate_network

    finding, _ = demo_finding
    results = json.loads(finding["finding"]["results"])
    primary = next(o for o in results["outcomes"] if o["primary"])
    truth = generate_network(scale=1, seed=2026).true_effects[PILOT_TITLE]
    for effect in (primary["effect"], primary["headline"]):
        assert abs(effect["g"] - truth) < 4 * effect["se"]
