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


def _site(people) -> str:
    return f"/pilots/{people.active_pilot}/sites/{people.district}/costs"


ITEM = {
    "category": "licences",
    "description": "Student licences",
    "quantity": "120",
    "unit": "licences",
    "unit_price": "18.50",
    "price_year": "2024",
}


def test_an_unknown_outcome_in_compare_is_said_not_swapped(client, call, people):
    """Fix 10: an outcome no product in the band measured silently showed another one."""
    call(
        published_pilot, people.product, [people.district], 0.2, 0.05
    )  # grades 3-5, Spring math score
    api = client.get("/api/v1/costs/compare?band=g35&outcome=Spring art score")
    assert api.status_code == 422, api.text
    assert "Spring art score" in api.text and "Spring math score" in api.text
    page = client.get("/costs/compare?band=g35&outcome=Spring art score")
    assert page.status_code == 422
    assert "Outcomes measured there: Spring math score" in page.text


def test_prediction_interval_words_follow_the_numbers_with_two_pilots(client, call, people):
    """Fix 9: with k = 2 and tau² = 0 the prediction interval equals the CI, yet the words
    said it "is wider"."""

    async def seed():
        for index, g in enumerate((0.20, 0.21)):
            site = await district(f"Twin {index}", "town", 4000, 0.4, 0.05)
            await published_pilot(people.product, [site], g, 0.08, title=f"Twin {index}")

    call(seed)
    plan = client.get(f"/api/v1/districts/{people.district}/products/{people.product}/costs").json()
    assert plan["prediction_interval"] == pytest.approx(plan["pooled_ci"])
    words = " ".join(plan["sentences"])
    assert "so it is wider than" not in words
    assert "no wider than the pooled average's interval" in words
    assert "With only two pilots, how much districts differ cannot be estimated" in words


def test_implausible_amounts_are_refused_with_the_field_named(client, call, people):
    """Fix 5: quantity 1e8 × unit price 1e8 was accepted and printed as trillions per student."""
    sign_in(client, "district")
    huge = post_form(
        client, _site(people) + "/items", {**ITEM, "quantity": "1e8", "unit_price": "1e8"}
    )
    assert huge.status_code == 422
    assert "above the $100,000,000 one item may total" in huge.text
    assert post_form(
        client, _site(people) + "/students", {"treatment_students": "10"}
    ).status_code in (302, 303)
    dear = post_form(
        client, _site(people) + "/items", {**ITEM, "quantity": "1", "unit_price": "2000000"}
    )
    assert dear.status_code == 422
    assert "$200,000 per student, above the $100,000 a year" in dear.text
    assert post_form(client, _site(people) + "/items", ITEM).status_code in (302, 303)
    # $2,220 over 10 students is plausible; over 0 it is no cost per student yet, and a count
    # that would put it above the ceiling is refused on its own field
    sign_in(client, "vendor")
    price = post_form(
        client,
        f"/products/{people.product}/prices",
        {"basis": "per_student", "amount": "250000", "includes": "x"},
    )
    assert price.status_code == 422
    assert "A list price per student per year above $100,000 is not plausible" in price.text


def test_api_refuses_an_implausible_item_with_its_field(client, call, people):
    from tests.web.test_designs import bearer, token_for

    token = token_for(call, people.district_user)
    response = client.post(
        f"/api/v1{_site(people)}/items",
        json={**ITEM, "quantity": 1e8, "unit_price": 1e8, "price_year": 2024},
        headers=bearer(token),
    )
    assert response.status_code == 422, response.text
    assert any(error["field"] == "quantity" for error in response.json()["errors"])


def test_a_tiny_price_never_prints_as_zero_dollars(client, call, people):
    """Fix 5: a ratio beside "$0.00" reads as free."""
    _price(client, people, amount="0.001")
    page = client.get(f"/products/{people.product}/costs").text
    assert "$0.00" not in page
    assert "less than $0.01 per student per year" in page


def test_price_year_range_is_stated_and_later_prices_are_labelled_face_value(client, call, people):
    """Fix 4: the error said "between 0 and 2,026"; prices dated after the table's last year
    were labelled "2024 dollars" at face value without a word."""
    import datetime

    this_year = datetime.date.today().year
    sign_in(client, "district")
    for year in ("0", "2016", str(this_year + 1)):
        refused = post_form(client, _site(people) + "/items", {**ITEM, "price_year": year})
        assert refused.status_code == 422, year
        assert (
            f"from 2017 (the price index&#39;s first year) to {this_year} (this year)"
            in refused.text
        )
    assert post_form(
        client, _site(people) + "/items", {**ITEM, "price_year": str(this_year)}
    ).status_code in (302, 303)
    sheet = client.get(_site(people)).text
    assert f"Prices dated {this_year} are not adjusted: the BLS annual average" in sheet
    _price(client, people, amount="30")
    sign_in(client, "vendor")
    post_form(
        client,
        f"/products/{people.product}/prices",
        {"basis": "per_student", "amount": "35", "includes": "x", "effective_on": "2025-01-01"},
    )
    call(published_pilot, people.product, [people.district], 0.2, 0.05)
    api = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert api["price_note"].startswith("Prices dated 2025 are not adjusted")
    assert (
        "Prices dated 2025 are not adjusted" in client.get(f"/products/{people.product}/costs").text
    )
    exported = client.get("/network/costs.csv").text
    assert "Prices dated 2025 are not adjusted" in exported
