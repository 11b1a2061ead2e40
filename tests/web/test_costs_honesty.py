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
    assert api.status_code == 404, api.text
    assert "Spring art score" in api.text and "Spring math score" in api.text
    page = client.get("/costs/compare?band=g35&outcome=Spring art score")
    assert page.status_code == 404
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


def test_ratio_words_tie_to_spending_and_an_unbounded_set_is_described(client, call, people):
    """Fix 6: "Each $1,000 spent per student bought 14.76 SD" extrapolated far beyond what
    was spent, and a set that is not an interval printed as "anything below … or above …"."""
    from tests.web.test_costs import _costs_for, _sites_of
    from tests.web.test_synthesis import four_pilots

    pilots = call(four_pilots, people)
    # three sites' costs so spread out that the mean's SE exceeds the mean over 1.96
    sites = call(_sites_of, pilots[0]) + call(_sites_of, pilots[1])
    for site, per_student in zip(sites, (1.0, 1.0, 1000.0), strict=True):
        call(
            _costs_for,
            pilots[0] if site in call(_sites_of, pilots[0]) else pilots[1],
            site,
            per_student,
            50,
        )
    api = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert api["cost_basis"] == "sites"
    assert api["pooled"]["effect_per_1000_interval"]["kind"] != "interval"
    page = client.get(f"/products/{people.product}/costs").text
    assert "anything below" not in page and "bought" not in page
    assert "no useful 95 % interval: the cost per student is too uncertain to divide by" in page
    assert "SD per $1,000 per student" in page and "as a ratio" in page
    # a list price is known exactly, so the product page's chart (on list prices) never shows
    # such a set; the comparison's chart on sites' own costs gives the true reason
    assert "the effect may be zero" not in page


def test_a_small_spend_is_worded_as_a_rate_not_a_forecast(client, call, people):
    call(published_pilot, people.product, [people.district], 0.30, 0.05)
    _price(client, people, amount="20")
    words = " ".join(client.get(f"/api/v1/products/{people.product}/costs").json()["sentences"])
    assert "The effect was 0.30 SD for $20.00 per student; as a ratio, 15.00 SD per $1,000" in words
    assert "no pilot spent anywhere near $1,000 per student" in words


def test_district_plan_spreads_a_site_price_as_the_product_page_does(client, call, people):
    """Fix 8: a per-site price was applied to a whole district as one site."""
    call(published_pilot, people.product, [people.district], 0.30, 0.05)
    _price(client, people, amount="6000", basis="per_site")
    client.cookies.clear()
    product = client.get(f"/api/v1/products/{people.product}/costs").json()
    per_student = product["list_price_per_student"]
    assert per_student == pytest.approx(6000 / 100)  # planned 100 students per site
    plan = client.get(f"/api/v1/districts/{people.district}/products/{people.product}/costs").json()
    assert plan["per_student"] == pytest.approx(per_student)
    assert plan["total_at_list_price"] == pytest.approx(per_student * plan["students"])
    assert "spread over the 100 students a pilot site plans" in " ".join(plan["sentences"])


def test_a_district_without_the_products_grades_says_exactly_that(client, call, people):
    """Fix 8: a district serving none of the product's grades read "about 0 students in the 0
    grades … has no list price yet" and still showed a likely effect."""
    from tests.web.test_synthesis import four_pilots

    call(four_pilots, people)
    kindergarten = call(district, "Only K", "town", 500, 0.4, 0.05)  # serves grade K only
    _price(client, people, amount="30")
    client.cookies.clear()
    plan = client.get(f"/api/v1/districts/{kindergarten}/products/{people.product}/costs").json()
    words = " ".join(plan["sentences"])
    assert "Only K serves none of the grades MathQuest is for (grades 3–5)" in words
    assert "0 grades" not in words and "no list price" not in words
    assert plan["prediction_interval"] is None
    page = client.get(f"/districts/{kindergarten}/products/{people.product}/costs").text
    assert "serves none of the grades" in page and "<svg" not in page


async def _pilot_in_band(product: int, band_grades: list[str], costs: list[float]) -> int:
    from testbed.tables import Pilot
    from tests.web.test_costs import _costs_for

    sites = [await district(f"Site {band_grades[0]} {c}", "town", 900, 0.4, 0.05) for c in costs]
    pilot = await published_pilot(product, sites, 0.25, 0.06, title=f"Band {band_grades[0]}")
    await Pilot.update({Pilot.grades: band_grades}).where(Pilot.id == pilot)
    for site, per_student in zip(sites, costs, strict=True):
        await _costs_for(pilot, site, per_student, 50)
    return pilot


def test_cost_comes_from_the_pilots_in_the_effect_with_se_over_pilots(client, call, people):
    """Fixes 2 and 3: an active pilot's site entered the pooled cost, and the SE treated one
    pilot's sites (one negotiated price) as independent."""
    from tests.web.test_costs import _costs_for

    call(_costs_for, people.active_pilot, people.district, 5000.0, 10)  # not in the effect
    call(_pilot_in_band, people.product, ["G03", "G04", "G05"], [10.0, 20.0])
    call(_pilot_in_band, people.product, ["G04"], [40.0, 40.0])
    api = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert api["cost_basis"] == "sites"
    # pilot means 15 and 40 over 100 students each: mean 27.5, SE |15 - 40| / 2 = 12.5
    assert api["cost_per_student"] == pytest.approx(27.5)
    assert api["pooled"]["cost_se"] == pytest.approx(12.5)
    page = client.get(f"/products/{people.product}/costs").text
    assert "the average over the 4 sites of the 2 pilots in the effect" in page


def test_compare_row_uses_the_bands_own_pilots_costs(client, call, people):
    """Fix 2: a compare row for one grade band used the product-wide mean cost."""
    call(_pilot_in_band, people.product, ["G03"], [10.0, 20.0])
    call(_pilot_in_band, people.product, ["G04"], [40.0])
    call(_pilot_in_band, people.product, ["G07"], [900.0, 900.0, 900.0])
    found = client.get("/api/v1/costs/compare?band=g35").json()
    row = next(r for r in found["products"] if r["product_id"] == people.product)
    # the grades 3-5 pilots' three sites only: (10·50 + 20·50 + 40·50) / 150
    assert row["cost_basis"] == "sites"
    assert row["cost_per_student"] == pytest.approx(70 / 3)


def test_one_chart_holds_one_cost_basis(client, call, people):
    """Fix 7: per-pilot rows on the list price were drawn beside a pooled row on sites'
    recorded costs, on one axis."""
    call(_pilot_in_band, people.product, ["G03"], [10.0, 20.0])
    call(_pilot_in_band, people.product, ["G04"], [40.0])
    _price(client, people, amount="50")
    api = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert api["cost_basis"] == "sites"
    page = client.get(f"/products/{people.product}/costs").text
    chart = page.split("<svg")[1].split("</svg>")[0]
    assert "Effect per $1,000 per student at list price, each pilot and pooled" in chart
    assert "its figure on sites' own costs is in the numbers above" in page
    assert "Cost per student (2024 dollars; sites&#39; own costs)" in page
    assert "Cost per student (list price)" in page
