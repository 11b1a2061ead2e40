"""Districts like mine and products side by side, through HTTP.

The likely gain is the prediction interval of analysis.meta.random_effects (itself checked
against metafor in tests/analysis/test_meta.py), not the pooled CI.
"""

from __future__ import annotations

import pytest

from analysis.meta import random_effects
from tests import factories
from tests.web.conftest import post_form, sign_in
from tests.web.test_synthesis import EFFECTS, district, four_pilots, results_document

PRICE = {
    "basis": "per_student",
    "amount": "50",
    "includes": "licences",
    "effective_on": "2024-01-01",
}


def _plan_path(people, **query) -> str:
    suffix = "".join(f"?{k}={v}" for k, v in query.items())
    return f"/api/v1/districts/{people.district}/products/{people.product}/costs{suffix}"


def test_district_plan_costs_the_enrolment_in_the_products_grades(client, call, people):
    call(four_pilots, people)
    sign_in(client, "vendor")
    post_form(client, f"/products/{people.product}/prices", PRICE)
    client.cookies.clear()
    plan = client.get(_plan_path(people)).json()
    # 1,800 students over K-5 (6 grades); MathQuest serves grades 3-5: 3 of them
    assert plan["students"] == 900 and plan["students_estimated"] is True
    assert plan["total_at_list_price"] == pytest.approx(900 * 50)
    expected = random_effects(
        [g for g, _ in EFFECTS], [se**2 for _, se in EFFECTS], method="REML", knapp_hartung=True
    )
    assert plan["prediction_interval"] == pytest.approx(list(expected.prediction_interval))
    assert plan["pooled_ci"] == pytest.approx(list(expected.ci))
    # the likely gain is the wider prediction interval
    assert plan["prediction_interval"][0] < plan["pooled_ci"][0]
    assert any("prediction interval" in sentence for sentence in plan["sentences"])
    own = client.get(_plan_path(people, students=250)).json()
    assert own["students"] == 250 and own["total_at_list_price"] == pytest.approx(12500)
    page = client.get(f"/districts/{people.district}/products/{people.product}/costs")
    assert page.status_code == 200
    assert "$45,000" in page.text and "Likely effect in a district like yours" in page.text
    assert "<svg" in page.text and "prediction interval" in page.text


def test_district_plan_refuses_bad_counts_and_unknown_objects(client, people):
    assert client.get(_plan_path(people, students=0)).status_code == 400
    assert client.get(_plan_path(people, students="lots")).status_code == 400
    missing = f"/api/v1/districts/999999/products/{people.product}/costs"
    assert client.get(missing).status_code == 404
    no_product = f"/districts/{people.district}/products/999999/costs"
    assert client.get(no_product).status_code == 404


def test_district_plan_without_price_or_pilots_says_so(client, people):
    plan = client.get(_plan_path(people)).json()
    assert plan["total_at_list_price"] is None and plan["prediction_interval"] is None
    assert "has no list price yet" in " ".join(plan["sentences"])
    assert "No published pilot" in " ".join(plan["sentences"])


async def _other_products(people) -> dict[str, int]:
    """A reading product (different outcome) and a math product tried only before and after."""
    from testbed.tables import Finding

    made = {}
    for name, label, design in (
        ("ReadWell", "Spring reading score", "rct"),
        ("CountUp", "Spring math score", "pre_post"),
    ):
        product = await factories.product(people.other_vendor, name)
        site = await district(f"{name} district", "town", 4000, 0.4, 0.05)
        pilot = await factories.pilot(product, "published", title=f"{name} pilot")
        await factories.enrollment(pilot, site)
        design_row = await factories.design(pilot, {}, sha256="")
        results = results_document(0.2, 0.05, [site], design_type=design)
        results["outcomes"][0]["label"] = label
        await factories.insert(
            Finding(
                pilot=pilot,
                design_version=design_row,
                dataset_ids=[],
                results=results,
                headline="",
                published_at=factories.VERIFIED_AT,
            )
        )
        made[name] = product
    return made


def test_comparison_puts_products_side_by_side_and_says_what_is_not_comparable(
    client, call, people
):
    call(four_pilots, people)
    others = call(_other_products, people)
    found = client.get("/api/v1/costs/compare?band=g35").json()
    assert found["outcome"] == "Spring math score"
    rows = {row["product"]: row for row in found["products"]}
    assert rows["MathQuest"]["comparable"] is True
    assert rows["MathQuest"]["pilots"] == 4
    expected = random_effects(
        [g for g, _ in EFFECTS], [se**2 for _, se in EFFECTS], method="REML", knapp_hartung=True
    )
    assert rows["MathQuest"]["effect"] == pytest.approx(expected.estimate)
    assert rows["ReadWell"]["comparable"] is False
    assert "measured Spring reading score" in rows["ReadWell"]["note"]
    assert rows["CountUp"]["comparable"] is False
    assert "no comparison group" in rows["CountUp"]["note"]
    assert len(found["caveats"]) >= 3
    reading = client.get("/api/v1/costs/compare?band=g35&outcome=Spring reading score").json()
    assert {row["product"]: row["comparable"] for row in reading["products"]}["ReadWell"]
    page = client.get("/costs/compare")
    assert page.status_code == 200 and "Not comparable" in page.text
    assert "<svg" not in page.text  # no product has a cost yet
    sign_in(client, "vendor")
    post_form(client, f"/products/{people.product}/prices", PRICE)
    assert (
        "Effect per $1,000 per student on list price, each product"
        in client.get("/costs/compare").text
    )
    assert others["ReadWell"] and "Before you compare" in page.text
    assert client.get("/api/v1/costs/compare?band=g99").status_code == 400
