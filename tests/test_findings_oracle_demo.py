"""The independent oracle on the demo: the published cluster-randomized finding and the
two-pilot product synthesis, recomputed from the stored rows and findings with statsmodels
(test-only) and the published formulas (see tests/web/test_findings_oracle.py for the sources).
"""

from __future__ import annotations

import asyncio
import json
import math

import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from tests.cr2_formula import cr2

CLUSTER_PILOT = "MathQuest Adaptive in grades 6–8 (June 2025, cohort 2)"


async def _load() -> dict:
    from testbed.demo import load_demo
    from testbed.tables import Dataset, Finding, Observation, Pilot

    await load_demo(scale=1, seed=2026, reset=True)
    pilot = await Pilot.select(Pilot.id).where(Pilot.title == CLUSTER_PILOT).first()
    finding = (
        await Finding.select(Finding.results)
        .where((Finding.pilot == pilot["id"]) & Finding.published_at.is_not_null())
        .order_by(Finding.published_at, ascending=False)
        .first()
    )
    results = finding["results"]
    results = json.loads(results) if isinstance(results, str) else results
    datasets = await Dataset.select(Dataset.id, Dataset.site).where(
        Dataset.id.is_in(results["data"]["dataset_ids"])
    )
    site_of = {row["id"]: row["site"] for row in datasets}
    rows = await (
        Observation.select(
            Observation.dataset, Observation.cluster, Observation.arm, Observation.baseline,
            Observation.outcomes,
        )
        .where(Observation.dataset.is_in(list(site_of)))
        .output(load_json=True)
    )  # fmt: skip
    return {"results": results, "rows": rows, "site_of": site_of}


@pytest.fixture(scope="module")
def demo(migrated_database):
    return asyncio.run(_load())


def test_the_demo_cluster_rct_is_ols_with_cr2_and_the_wwc_cluster_g(demo):
    results = demo["results"]
    assert results["design"]["design_type"] == "cluster_rct"
    primary = next(o for o in results["outcomes"] if o["primary"])
    name = primary["name"]
    frame = pd.DataFrame(
        {
            "site": demo["site_of"][row["dataset"]],
            "cluster": f"{demo['site_of'][row['dataset']]}/{row['cluster']}",
            "arm": row["arm"],
            "treated": float(row["arm"] == "treatment"),
            "baseline": row["baseline"],
            "y": (row["outcomes"] or {}).get(name),
        }
        for row in demo["rows"]
    ).dropna(subset=["y", "baseline"])
    several_sites = frame.site.nunique() > 1
    model = smf.ols("y ~ treated + baseline" + (" + C(site)" if several_sites else ""), frame).fit()
    column = model.model.exog_names.index("treated")
    coefficient, se, df = cr2(
        frame.y.to_numpy(float), model.model.exog, frame.cluster.to_numpy(), column
    )
    cluster = primary["cluster"]
    assert cluster["method"] == "cr2"
    assert cluster["coefficient"] == pytest.approx(coefficient, rel=1e-9)
    assert cluster["se"] == pytest.approx(se, rel=1e-9)
    assert cluster["df"] == pytest.approx(df, rel=1e-9)
    assert primary["headline"]["p"] == pytest.approx(
        2 * stats.t.sf(abs(coefficient / se), df), rel=1e-9
    )
    n = len(frame)
    gamma = math.sqrt(1 - 2 * (n / cluster["n_clusters"] - 1) * cluster["icc"] / (n - 2))
    t = frame.loc[frame.arm == "treatment", "y"].to_numpy(float)
    c = frame.loc[frame.arm == "control", "y"].to_numpy(float)
    pooled = math.sqrt(((t.size - 1) * t.var(ddof=1) + (c.size - 1) * c.var(ddof=1)) / (n - 2))
    g = (1 - 3 / (4 * n - 9)) * gamma * coefficient / pooled
    assert primary["headline"]["g"] == pytest.approx(g, rel=1e-9)
    # The ANCOVA adjustment is kept: the interval is narrower than the WWC correction of the
    # unadjusted t would give with the registered ICC (the 73 % wider interval).
    assert primary["headline"]["se"] < math.sqrt(n / (t.size * c.size)) * math.sqrt(
        1 + (n / cluster["n_clusters"] - 1) * results["design"]["icc"]
    )
