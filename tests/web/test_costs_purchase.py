"""The purchase after a decision to adopt, and the network's decisions by evidence strength."""

from __future__ import annotations

from tests import factories
from tests.web.conftest import other_browser, post_form, sign_in
from tests.web.test_designs import bearer, token_for


def _site(people) -> str:
    return f"/pilots/{people.active_pilot}/sites/{people.district}/costs"


def _adopt(client, people) -> None:
    response = post_form(
        client,
        f"/pilots/{people.active_pilot}/decision",
        {"decision": "adopt", "reasons": "Teachers asked to keep it."},
    )
    assert response.status_code in (302, 303), response.text


def test_a_purchase_needs_a_decision_to_adopt(client, people):
    sign_in(client, "district")
    response = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/purchase",
        {"price_per_student": "22", "students": "400"},
    )
    assert response.status_code == 409
    assert "Record the decision to adopt" in response.text


def test_the_district_records_what_it_paid_with_the_evidence_of_the_day(client, call, people):
    sign_in(client, "district")
    _adopt(client, people)
    findings = client.get(f"/pilots/{people.active_pilot}/findings").text
    assert f'href="{_site(people)}"' in findings
    assert "Record the purchase" in client.get(_site(people)).text
    bad = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/purchase",
        {"price_per_student": "-1", "students": "0"},
    )
    assert bad.status_code == 422
    assert "must not be negative" in bad.text and "between 1 and" in bad.text
    done = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/purchase",
        {"price_per_student": "22.50", "students": "400"},
    )
    assert done.status_code in (302, 303), done.text
    page = client.get(_site(people)).text
    assert "$22.50" in page and "$9,000" in page
    assert "What the evidence page said on" in page
    again = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/purchase",
        {"price_per_student": "20", "students": "400"},
    )
    assert again.status_code == 409
    api = client.get(f"/api/v1{_site(people)}").json()["purchase"]
    assert api["total"] == 9000 and api["evidence_strength"] == "none"
    assert api["evidence_snapshot"]["pilots"] == 0
    with other_browser(client):
        sign_in(client, "vendor")
        assert "$22.50" in client.get(_site(people)).text
        assert "$22.50" not in client.get(f"/products/{people.product}/costs").text
        refused = post_form(
            client,
            f"/pilots/{people.active_pilot}/sites/{people.district}/purchase",
            {"price_per_student": "1", "students": "1"},
        )
        assert refused.status_code == 403
    with other_browser(client):
        sign_in(client, "researcher")
        assert client.get(_site(people)).status_code == 403
    with other_browser(client):
        assert "$22.50" not in client.get("/network/decisions").text


def test_purchase_through_the_api(client, call, people):
    sign_in(client, "district")
    _adopt(client, people)
    token = token_for(call, people.district_user)
    path = f"/api/v1/pilots/{people.active_pilot}/sites/{people.district}/purchase"
    response = client.post(
        path, json={"price_per_student": 30, "students": 100}, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    assert response.json()["total"] == 3000
    other = token_for(call, people.other_vendor_user)
    assert (
        client.post(
            path, json={"price_per_student": 1, "students": 1}, headers=bearer(other)
        ).status_code
        == 404
    )


async def _decisions(people, decision: str, count: int) -> None:
    from testbed.tables import PilotDecision

    for index in range(count):
        slug = f"{decision}-{index}"
        site = await factories.organization("district", f"Decider {slug}", slug)
        await factories.insert(
            PilotDecision(pilot=people.active_pilot, district=site, decision=decision, reasons="r")
        )


def test_network_counts_decisions_by_strength_and_hides_small_cells(client, call, people):
    call(_decisions, people, "adopt", 12)
    call(_decisions, people, "stop", 11)
    counts = client.get("/api/v1/network/decisions").json()
    row = {code: counts["cells"][i] for i, code in enumerate(counts["decisions"])}
    none = counts["strengths"].index("none")
    assert row["adopt"][none] == 12 and row["stop"][none] == 11 and row["extend"][none] == 0
    assert counts["total"] == 23
    page = client.get("/network/decisions")
    assert page.status_code == 200 and "<td>12</td>" in page.text

    call(_decisions, people, "extend", 3)
    counts = client.get("/api/v1/network/decisions").json()
    row = {code: counts["cells"][i] for i, code in enumerate(counts["decisions"])}
    totals = dict(zip(counts["decisions"], counts["row_totals"], strict=True))
    assert row["extend"][none] is None and totals["extend"] is None
    # neither the column nor the grand total gives the 3 away by subtraction
    shown = [r[none] for r in row.values() if r[none] is not None]
    assert counts["column_totals"][none] is None or len(shown) < len(row) - 1
    assert "hidden" in client.get("/network/decisions").text
