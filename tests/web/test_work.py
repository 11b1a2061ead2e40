"""Your work: after signing in, each person lands on what needs them now, one link each; the
list follows the pilot's life (the data arrive, the design is registered, the finding is run and
decided) and never shows one organization's work to another."""

from __future__ import annotations

import datetime

from testbed.tables import Pilot
from tests import factories
from tests.web.conftest import EMAILS, PASSWORD, other_browser, post_form, sign_in
from tests.web.findings_data import seed_study


def _work(client) -> list[dict]:
    response = client.get("/api/v1/me/work")
    assert response.status_code == 200, response.text
    return response.json()


def _links(client) -> dict[str, str]:
    return {item["link"]: item["kind"] for item in _work(client)}


def test_signing_in_lands_on_your_work_and_the_menu_links_it(client, people):
    response = post_form(client, "/login", {"email": EMAILS["district"], "password": PASSWORD})
    assert response.headers["location"] == "/work"
    page = client.get("/work")
    assert page.status_code == 200 and "<h1>Your work</h1>" in page.text
    assert '<a href="/work">Your work</a>' in page.text


def test_anonymous_visitors_are_sent_to_sign_in(client, people):
    assert client.get("/work", follow_redirects=False).status_code in (302, 303, 401)
    assert client.get("/api/v1/me/work").status_code == 401


def test_each_role_sees_its_own_next_step_of_an_active_pilot(client, people):
    pilot = people.active_pilot
    sign_in(client, "district")
    assert _links(client) == {f"/pilots/{pilot}/data": "upload"}
    with other_browser(client):
        sign_in(client, "vendor")
        assert _links(client) == {f"/pilots/{pilot}/design": "design"}
    with other_browser(client):
        sign_in(client, "researcher")
        work = _work(client)
        assert [item["kind"] for item in work] == ["design"]
        assert "you are one of its researchers" in work[0]["words"]
    with other_browser(client):
        sign_in(client, "other_vendor")
        assert _work(client) == []
        assert "Nothing needs you right now." in client.get("/work").text
    with other_browser(client):
        sign_in(client, "admin")
        admin = _work(client)
        assert [item["words"] for item in admin if item["kind"] == "verify"] == [
            "Verify or leave unverified: Fresh Vendor"
        ]


def test_after_the_data_and_the_run_each_party_is_asked_to_decide_then_no_more(
    client, call, people
):
    study = call(seed_study, people)
    sign_in(client, "vendor")
    assert _links(client) == {}  # design registered, data in, pilot still active: nothing yet
    finding = post_form(client, f"/pilots/{study.pilot}/findings/run").headers["location"]
    finding_id = int(finding.rsplit("/", 1)[1])
    decide = f"/findings/{finding_id}#publication"
    assert _links(client) == {decide: "decide"}
    with other_browser(client):
        sign_in(client, "district")
        assert _links(client) == {decide: "decide"}
        post_form(
            client,
            f"/findings/{finding_id}/approval",
            {"decision": "approve", "site": str(people.district)},
        )
        assert _links(client) == {}
    post_form(client, f"/findings/{finding_id}/approval", {"decision": "approve"})
    assert _links(client) == {}


def test_a_proposal_to_accept_and_an_overdue_upload_come_first(client, call, people):
    async def propose_and_end() -> None:
        await factories.enrollment(
            people.open_pilot, people.district, "proposed", capacity_students=50
        )
        await Pilot.update({Pilot.ends_on: datetime.date(2026, 1, 31)}).where(
            Pilot.id == people.active_pilot
        )

    call(propose_and_end)
    sign_in(client, "district")
    work = _work(client)
    assert [(item["kind"], item["overdue"]) for item in work] == [
        ("upload", True),
        ("accept", False),
    ]
    page = client.get("/work").text
    assert "Overdue:" in page and f'href="/pilots/{people.active_pilot}/data"' in page
    with other_browser(client):
        sign_in(client, "vendor")
        kinds = {item["kind"] for item in _work(client)}
        assert "accept" in kinds  # the vendor decides on the proposed site too
    with other_browser(client):
        sign_in(client, "admin")
        closing = [item for item in _work(client) if item["kind"] == "close"]
        assert closing and closing[0]["overdue"] and "ended on 2026-01-31" in closing[0]["words"]


def test_a_new_member_of_an_unverified_organization_is_told_what_it_waits_for(client, people):
    sign_in(client, "unverified")
    work = _work(client)
    assert [item["kind"] for item in work] == ["wait"]
    assert work[0]["words"].startswith("Fresh Vendor is waiting for a network administrator")
