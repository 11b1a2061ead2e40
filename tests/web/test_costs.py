"""Costs through HTTP: list prices, a site's ingredients, who sees what, and what a product buys.

The cost-effectiveness numbers are checked against analysis.cost_effectiveness (itself checked
against GraphPad's and DCSTATS' printed Fieller intervals in tests/analysis) fed with the pooled
effect the evidence page states, and the constant dollars against the BLS CPI-U annual averages
(2022: 292.655, 2024: 313.689).
"""

from __future__ import annotations

import pytest

from analysis.cost_effectiveness import cost_effectiveness, mean_cost
from tests.web.conftest import other_browser, post_form, sign_in
from tests.web.test_designs import bearer, token_for
from tests.web.test_synthesis import district, four_pilots, published_pilot

CPI_2022, CPI_2024 = 292.655, 313.689


def _site(people) -> str:
    return f"/pilots/{people.active_pilot}/sites/{people.district}/costs"


ITEM = {
    "category": "licences",
    "description": "Student licences at the price offered",
    "quantity": "120",
    "unit": "licences",
    "unit_price": "18.50",
    "price_year": "2022",
}


# --- list prices ---------------------------------------------------------------------------


def test_vendor_states_a_list_price_and_everyone_reads_it(client, people):
    sign_in(client, "vendor")
    response = post_form(
        client,
        f"/products/{people.product}/prices",
        {
            "basis": "per_student",
            "amount": "40",
            "includes": "licences and training",
            "effective_on": "2022-08-01",
        },
    )
    assert response.status_code in (302, 303), response.text
    with other_browser(client):
        page = client.get(f"/products/{people.product}/costs")
        assert page.status_code == 200
        assert "$40.00 per student per year since 2022-08-01" in page.text
        # in 2024 dollars, by the CPI-U ratio
        assert f"${40 * CPI_2024 / CPI_2022:,.2f} in 2024 dollars" in page.text
        assert "State a new list price" not in page.text
        api = client.get(f"/api/v1/products/{people.product}/costs").json()
        assert api["prices"][0]["amount_in_dollar_year"] == pytest.approx(40 * CPI_2024 / CPI_2022)
        assert "CUUR0000SA0" in api["cpi_source"]


def test_a_list_price_is_checked(client, people):
    sign_in(client, "vendor")
    response = post_form(
        client,
        f"/products/{people.product}/prices",
        {"basis": "per_month", "amount": "-5", "includes": ""},
    )
    assert response.status_code == 422
    assert "The price must not be negative" in response.text
    assert "Choose what the price is for" in response.text
    assert "Give what the price includes" in response.text


@pytest.mark.parametrize("role", ["district", "researcher", "other_vendor"])
def test_only_the_vendor_or_an_admin_sets_the_price(client, people, role):
    sign_in(client, role)
    response = post_form(
        client,
        f"/products/{people.product}/prices",
        {"basis": "per_student", "amount": "1", "includes": "x"},
    )
    assert response.status_code == 403


def test_signed_out_price_post_goes_to_sign_in_and_api_needs_a_token(client, people):
    response = post_form(
        client, f"/products/{people.product}/prices", {"basis": "per_student", "amount": "1"}
    )
    assert response.status_code in (302, 303, 401, 403)
    assert client.get(f"/api/v1/products/{people.product}/costs").status_code == 200
    api = client.post(
        f"/api/v1/products/{people.product}/prices",
        json={"basis": "per_student", "amount": 1, "includes": "x"},
    )
    assert api.status_code == 401


def test_api_price_by_token(client, call, people):
    token = token_for(call, people.vendor_user)
    response = client.post(
        f"/api/v1/products/{people.product}/prices",
        json={
            "basis": "per_site",
            "amount": 9000,
            "includes": "a site licence",
            "effective_on": "2024-01-01",
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    assert response.json()["amount_in_dollar_year"] == 9000
    other = token_for(call, people.other_vendor_user)
    refused = client.post(
        f"/api/v1/products/{people.product}/prices",
        json={"basis": "per_site", "amount": 1, "includes": "x"},
        headers=bearer(other),
    )
    assert refused.status_code == 403
    missing = client.get("/api/v1/products/999999/costs")
    assert missing.status_code == 404


# --- a site's ingredients ------------------------------------------------------------------


def test_district_enters_its_costs_and_the_vendor_sees_them(client, people):
    sign_in(client, "district")
    assert post_form(client, _site(people) + "/items", ITEM).status_code in (302, 303)
    training = {
        **ITEM,
        "category": "training",
        "description": "Teacher training",
        "who": "4 grade 4 teachers",
        "quantity": "12",
        "unit": "hours",
        "unit_price": "45",
        "price_year": "2024",
    }
    assert post_form(client, _site(people) + "/items", training).status_code in (302, 303)
    assert post_form(
        client, _site(people) + "/students", {"treatment_students": "120"}
    ).status_code in (302, 303)
    page = client.get(_site(people))
    licences = 120 * 18.50 * CPI_2024 / CPI_2022
    total = licences + 12 * 45
    assert page.status_code == 200
    assert f"${total:,.0f}" in page.text
    assert f"${total / 120:,.2f}" in page.text
    assert "4 grade 4 teachers" in page.text
    with other_browser(client):
        sign_in(client, "vendor")
        seen = client.get(_site(people))
        assert seen.status_code == 200
        assert "Student licences at the price offered" in seen.text
        assert "Add a cost" not in seen.text  # the vendor reads, the district enters
        assert post_form(client, _site(people) + "/items", ITEM).status_code == 403


def test_site_costs_through_the_api(client, call, people):
    token = token_for(call, people.district_user)
    response = client.post(
        f"/api/v1{_site(people)}/items",
        json={
            "category": "devices",
            "description": "Chromebooks",
            "quantity": 30,
            "unit_price": 250,
            "price_year": 2024,
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    assert response.json()["total"] == pytest.approx(7500)
    assert response.json()["per_student"] is None
    response = client.put(
        f"/api/v1{_site(people)}/students",
        json={"treatment_students": 60},
        headers=bearer(token),
    )
    assert response.status_code == 200
    assert response.json()["per_student"] == pytest.approx(125)
    admin = client.get(f"/api/v1{_site(people)}", headers=bearer(token_for(call, people.admin)))
    assert admin.status_code == 200 and admin.json()["items"][0]["description"] == "Chromebooks"


def test_costs_are_checked_with_the_field_named(client, people):
    sign_in(client, "district")
    response = post_form(
        client,
        _site(people) + "/items",
        {**ITEM, "unit_price": "-3", "quantity": "lots", "price_year": "2009", "category": "x"},
    )
    assert response.status_code == 422
    assert "The unit price must not be negative" in response.text
    assert "Give the quantity as a number" in response.text
    assert "Choose a kind of cost" in response.text
    assert 'aria-invalid="true"' in response.text
    api = client.post(
        f"/api/v1{_site(people)}/items",
        json={
            "category": "licences",
            "description": "x",
            "quantity": 1,
            "unit_price": -1,
            "price_year": 2024,
        },
    )
    assert api.status_code == 401  # API writes need a token


def test_negative_cost_refused_by_api_with_its_field(client, call, people):
    token = token_for(call, people.district_user)
    response = client.post(
        f"/api/v1{_site(people)}/items",
        json={
            "category": "licences",
            "description": "x",
            "quantity": 1,
            "unit_price": -1,
            "price_year": 2024,
        },
        headers=bearer(token),
    )
    assert response.status_code == 400
    assert "unit_price" in response.text
    late = client.post(
        f"/api/v1{_site(people)}/items",
        json={
            "category": "licences",
            "description": "x",
            "quantity": 1,
            "unit_price": 1,
            "price_year": 2016,
        },
        headers=bearer(token),
    )
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "price_year"


@pytest.mark.parametrize(
    ("role", "status"),
    [("researcher", 403), ("other_vendor", 404), ("unverified", 404)],
)
def test_who_may_not_read_a_site_sheet(client, people, role, status):
    sign_in(client, role)
    assert client.get(_site(people)).status_code == status
    assert post_form(client, _site(people) + "/items", ITEM).status_code == status


def test_signed_out_site_sheet(client, people):
    page = client.get(_site(people), follow_redirects=False)
    assert page.status_code in (302, 303, 401)
    assert client.get(f"/api/v1{_site(people)}").status_code == 401


def test_a_district_that_is_not_a_site_is_not_found(client, people):
    sign_in(client, "admin")
    assert (
        client.get(f"/pilots/{people.active_pilot}/sites/{people.vendor}/costs").status_code == 404
    )
    assert client.get(f"/pilots/999999/sites/{people.district}/costs").status_code == 404


def test_removing_a_cost(client, call, people):
    sign_in(client, "district")
    post_form(client, _site(people) + "/items", ITEM)
    sheet = client.get(f"/api/v1{_site(people)}").json()
    item = sheet["items"][0]["id"]
    assert post_form(client, _site(people) + "/remove", {"item": "99999999999"}).status_code == 404
    assert post_form(client, _site(people) + "/remove", {"item": str(item)}).status_code in (
        302,
        303,
    )
    assert client.get(f"/api/v1{_site(people)}").json()["items"] == []


# --- what the public sees of site costs ----------------------------------------------------


async def _costs_for(pilot: int, site: int, per_student: float, students: int) -> None:
    from testbed.tables import CostItem, CostSheet

    sheet = await CostSheet.insert(
        CostSheet(pilot=pilot, district=site, treatment_students=students)
    )
    await CostItem.insert(
        CostItem(
            sheet=sheet[0]["id"],
            category="licences",
            description="licences",
            quantity=students,
            unit_price=per_student,
            price_year=2024,
        )
    )


async def _sites_of(pilot: int) -> list[int]:
    from testbed.tables import Enrollment

    return [
        row["district"]
        for row in await Enrollment.select(Enrollment.district).where(Enrollment.pilot == pilot)
    ]


def test_site_costs_reach_the_public_only_across_three_sites(client, call, people):
    pilots = call(four_pilots, people)
    first_sites = call(_sites_of, pilots[0])  # two sites
    call(_costs_for, pilots[0], first_sites[0], 61.25, 50)
    call(_costs_for, pilots[0], first_sites[1], 87.5, 50)
    page = client.get(f"/products/{people.product}/costs").text
    assert "$61.25" not in page and "$87.50" not in page
    assert "2 have so far" in page
    api = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert api["site_cost_range"] is None and api["cost_basis"] == "none"
    assert "61.25" not in str(api) and "87.5" not in str(api)

    city = call(_sites_of, pilots[1])[0]
    call(_costs_for, pilots[1], city, 40.0, 100)
    api = client.get(f"/api/v1/products/{people.product}/costs").json()
    # Widened to two significant figures: neither end is a site's own exact cost.
    assert api["site_cost_range"] == pytest.approx([40.0, 88.0])
    assert api["cost_basis"] == "sites"
    # SE over pilots (their sites share a price): pilot 0's two sites average 74.375 over 100
    # students, pilot 1's one 40 over 100; mean 57.1875, SE |74.375 - 40| / 2 = 17.1875
    mean, se = mean_cost([61.25, 87.5, 40.0], [50, 50, 100])[0], 17.1875
    assert api["cost_per_student"] == pytest.approx(mean)
    assert api["pooled"]["cost_se"] == pytest.approx(se)
    page = client.get(f"/products/{people.product}/costs").text
    assert "from $40.00 to $88.00 per student across 3 sites" in page
    assert "87.5" not in page
    # a pilot with fewer than three costed sites shows no cost of its own on public pages
    first = next(p for p in api["pilots"] if p["pilot_id"] == pilots[0])
    assert first["cost_basis"] == "none" and first["cost_per_student"] is None
    # the vendor sees each site's sheet linked (confidential to it)
    sign_in(client, "vendor")
    assert (
        f"/pilots/{pilots[0]}/sites/{first_sites[0]}/costs"
        in client.get(f"/products/{people.product}/costs").text
    )


# --- cost-effectiveness --------------------------------------------------------------------


def test_pooled_cost_effectiveness_uses_the_evidence_pages_effect(client, call, people):
    call(four_pilots, people)
    sign_in(client, "vendor")
    post_form(
        client,
        f"/products/{people.product}/prices",
        {
            "basis": "per_student",
            "amount": "50",
            "includes": "licences",
            "effective_on": "2024-01-01",
        },
    )
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()["pooled"]
    costs = client.get(f"/api/v1/products/{people.product}/costs").json()
    expected = cost_effectiveness(evidence["estimate"], evidence["se"], 50.0, df=evidence["df"])
    pooled = costs["pooled"]
    assert costs["cost_basis"] == "list_price"
    assert pooled["effect"] == pytest.approx(evidence["estimate"])
    assert pooled["effect_ci"] == pytest.approx(evidence["ci"], abs=1e-9)
    assert pooled["effect_per_1000"] == pytest.approx(evidence["estimate"] / 0.05)
    assert pooled["effect_per_1000_interval"]["low"] == pytest.approx(evidence["ci"][0] / 0.05)
    # Knapp-Hartung on 3 degrees of freedom: the pooled interval of these four includes zero
    assert evidence["ci"][0] < 0 < evidence["ci"][1]
    assert pooled["withheld"] == expected.withheld == "effect_may_be_zero"
    page = client.get(f"/products/{people.product}/costs")
    assert "as a ratio" in page.text and "bought" not in page.text
    assert "<svg" in page.text and "Effect per $1,000 per student" in page.text


def test_a_clearly_positive_pooled_effect_prices_a_gain(client, call, people):
    async def seed():
        for index, g in enumerate((0.30, 0.32, 0.35)):
            site = await district(f"Strong {index}", "suburb", 8000, 0.3, 0.05)
            await published_pilot(people.product, [site], g, 0.05, title=f"Strong {index}")

    call(seed)
    sign_in(client, "vendor")
    post_form(
        client,
        f"/products/{people.product}/prices",
        {
            "basis": "per_student",
            "amount": "50",
            "includes": "licences",
            "effective_on": "2024-01-01",
        },
    )
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()["pooled"]
    pooled = client.get(f"/api/v1/products/{people.product}/costs").json()["pooled"]
    expected = cost_effectiveness(evidence["estimate"], evidence["se"], 50.0, df=evidence["df"])
    assert evidence["ci"][0] > 0 and expected.withheld is None
    assert pooled["cost_for_gain"] == pytest.approx(0.1 * 50 / evidence["estimate"])
    assert pooled["cost_for_gain_interval"]["kind"] == "interval"
    assert pooled["cost_for_gain_interval"]["low"] == pytest.approx(expected.cost_for_gain_set.low)
    assert pooled["cost_for_gain_interval"]["high"] == pytest.approx(
        expected.cost_for_gain_set.high
    )
    # with a known cost, Fieller's ends are the cost over the effect's interval ends
    assert pooled["cost_for_gain_interval"]["low"] == pytest.approx(5.0 / evidence["ci"][1])
    assert pooled["cost_for_gain_interval"]["high"] == pytest.approx(5.0 / evidence["ci"][0])
    page = client.get(f"/products/{people.product}/costs").text
    assert "As a ratio, a gain of 0.1 SD came to about" in page


def test_an_effect_that_may_be_zero_gets_no_cost_per_gain_and_says_why(client, call, people):
    async def seed():
        site = await district("Elm Flats", "rural", 3000, 0.4, 0.05)
        await published_pilot(people.product, [site], 0.03, 0.08, title="Near zero", p=0.7)

    call(seed)
    sign_in(client, "vendor")
    post_form(
        client,
        f"/products/{people.product}/prices",
        {
            "basis": "per_student",
            "amount": "30",
            "includes": "licences",
            "effective_on": "2024-01-01",
        },
    )
    costs = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert costs["pooled"]["withheld"] == "effect_may_be_zero"
    assert costs["pooled"]["cost_for_gain"] is None
    assert costs["pooled"]["effect_per_1000_interval"]["kind"] == "interval"
    page = client.get(f"/products/{people.product}/costs").text
    assert "includes zero, and a cost divided by an effect that may be zero has no" in page


def test_price_index_page_cites_its_source(client):
    page = client.get("/costs/price-index")
    assert page.status_code == 200
    assert "CUUR0000SA0" in page.text and "313.689" in page.text and "292.655" in page.text


def test_csv_export_with_its_data_dictionary(client, call, people):
    import csv
    import io

    from testbed.costs.export import COLUMNS

    pilots = call(four_pilots, people)
    sites = call(_sites_of, pilots[0])
    call(_costs_for, pilots[0], sites[0], 61.25, 50)  # one site: stays private
    sign_in(client, "vendor")
    post_form(
        client,
        f"/products/{people.product}/prices",
        {
            "basis": "per_student",
            "amount": "50",
            "includes": "licences",
            "effective_on": "2024-01-01",
        },
    )
    client.cookies.clear()
    response = client.get("/network/costs.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == COLUMNS
    assert [row["level"] for row in rows] == ["pilot"] * 4 + ["pooled"]
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()["pooled"]
    pooled = rows[-1]
    assert float(pooled["effect"]) == pytest.approx(evidence["estimate"])
    assert float(pooled["cost_per_student"]) == 50 and pooled["cost_basis"] == "list_price"
    assert float(pooled["effect_per_1000"]) == pytest.approx(evidence["estimate"] / 0.05)
    assert "61.25" not in response.text
    dictionary = client.get("/network/costs/data-dictionary").text
    assert all(f"<code>{name}</code>" in dictionary for name in COLUMNS)


def test_the_evidence_page_has_a_costs_section(client, call, people):
    page = client.get(f"/products/{people.product}/evidence").text
    assert f'href="/products/{people.product}/costs"' in page
    assert "No cost-effectiveness yet" in page
    call(four_pilots, people)
    sign_in(client, "vendor")
    post_form(client, f"/products/{people.product}/prices", PRICE_20)
    page = client.get(f"/products/{people.product}/evidence").text
    costs = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert costs["sentences"][1].replace("'", "&#39;") in page
    assert "It cost $20.00 per student (in 2024 dollars)." in page


def test_a_pilots_own_site_costs_stay_off_public_pages(client, call, people):
    """Beside the product's mean over all sites, one pilot's mean over its sites would give the
    other pilots' sites away by subtraction: public per-pilot rows use the list price."""

    async def seed():
        sites = [await district(f"Site {i}", "town", 3000, 0.4, 0.05) for i in range(4)]
        trio = await published_pilot(people.product, sites[:3], 0.3, 0.05, title="Trio")
        solo = await published_pilot(people.product, sites[3:], 0.2, 0.06, title="Solo")
        for site, cost in zip(sites[:3], (30.0, 40.0, 50.0), strict=True):
            await _costs_for(trio, site, cost, 100)
        await _costs_for(solo, sites[3], 95.0, 100)
        return trio, solo

    trio, solo = call(seed)
    sign_in(client, "vendor")
    post_form(client, f"/products/{people.product}/prices", {**PRICE_20})
    client.cookies.clear()
    costs = client.get(f"/api/v1/products/{people.product}/costs").json()
    assert costs["cost_basis"] == "sites" and costs["cost_per_student"] == pytest.approx(53.75)
    rows = {row["pilot_id"]: row for row in costs["pilots"]}
    assert rows[trio]["cost_basis"] == rows[solo]["cost_basis"] == "list_price"
    assert rows[trio]["cost_per_student"] == rows[solo]["cost_per_student"] == 20
    assert "95.0" not in str(costs["pilots"]) and "$95" not in str(costs["pilots"])


PRICE_20 = {
    "basis": "per_student",
    "amount": "20",
    "includes": "licences",
    "effective_on": "2024-01-01",
}
