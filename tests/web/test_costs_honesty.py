"""Costs through HTTP, the cases the demo data lacks: a cluster trial whose interval is on t,
a negative finding, implausible amounts, prices dated after the price index's last year.

Each test here failed before the fix it names (docs/costs.md, "What the numbers do not say").
"""

from __future__ import annotations

import csv
import io

import pytest
from scipy import stats

from tests.web.conftest import post_form, sign_in
from tests.web.test_synthesis import district, published_pilot


async def _t_interval(pilot: int, df: float) -> tuple[float, float]:
    """Rebuild the pilot's published interval on t with `df` degrees of freedom, as a cluster
    trial's analysis does (the SE stays)."""
    from testbed.tables import Finding

    row = await Finding.select(Finding.id, Finding.results).where(Finding.pilot == pilot).first()
    results = row["results"]
    if isinstance(results, str):
        import json

        results = json.loads(results)
    headline = results["outcomes"][0]["headline"]
    t = float(stats.t.ppf(0.975, df))
    headline["ci"] = [headline["g"] - t * headline["se"], headline["g"] + t * headline["se"]]
    await Finding.update({Finding.results: results}).where(Finding.id == row["id"])
    return tuple(headline["ci"])


def _price(client, people, amount: str = "20", basis: str = "per_student"):
    sign_in(client, "vendor")
    return post_form(
        client,
        f"/products/{people.product}/prices",
        {"basis": basis, "amount": amount, "includes": "licences", "effective_on": "2024-01-01"},
    )


def test_a_pilots_ratio_uses_the_critical_value_of_its_own_interval(client, call, people):
    """Fix 1: a cluster trial's interval is on t (df 15.6); the per-pilot ratio used z."""

    async def seed():
        site = await district("Fir Hollow", "rural", 3000, 0.4, 0.05)
        pilot = await published_pilot(
            people.product, [site], 0.30, 0.145, title="Cluster", design_type="cluster_rct"
        )
        return pilot, await _t_interval(pilot, 15.6)

    pilot, (low, high) = call(seed)
    assert low < 0 < high  # on t it includes zero; on z (0.30 ± 0.284) it would not
    _price(client, people)
    api = client.get(f"/api/v1/products/{people.product}/costs").json()
    row = next(p for p in api["pilots"] if p["pilot_id"] == pilot)["cost_effectiveness"]
    assert row["effect_ci"] == pytest.approx([low, high], abs=1e-12)
    # with a known cost, Fieller's ends are the effect's interval ends rescaled
    assert row["effect_per_1000_interval"]["low"] == pytest.approx(low / 0.02)
    assert row["effect_per_1000_interval"]["high"] == pytest.approx(high / 0.02)
    assert row["withheld"] == "effect_may_be_zero"
    # the single pilot is also the product's effect: the pooled row agrees
    assert api["pooled"]["effect_ci"] == pytest.approx([low, high], abs=1e-12)
    exported = list(csv.DictReader(io.StringIO(client.get("/network/costs.csv").text)))
    for line in exported:
        assert float(line["effect_per_1000_low"]) == pytest.approx(low / 0.02)
