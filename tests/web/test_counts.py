"""One definition per count: the home page, its stage table, the network dashboard and the API
agree on how many pilots the network has, and pages show stages in words, not codes."""

from __future__ import annotations

from testbed.tables import Pilot
from testbed.vocabulary import NETWORK_PILOT_STATUSES, PILOT_STATUS_WORDS
from tests.web.conftest import sign_in


def _add_pilots(people) -> None:
    async def add() -> None:
        template = await Pilot.select().where(Pilot.id == people.open_pilot).first()
        del template["id"]
        for status in ("draft", "draft", "withdrawn", "closed", "analysis"):
            await Pilot.insert(Pilot(**{**template, "status": status, "title": f"A {status}"}))

    return add


def test_home_stage_table_dashboard_and_api_count_the_same_pilots(client, call, people):
    call(_add_pilots(people))
    # seeded: active, open, published; added: 2 drafts, withdrawn, closed, analysis
    numbers = client.get("/api/v1/network/numbers").json()
    assert numbers["pilots"] == 5  # drafts are the vendor's own; withdrawn calls never ran
    assert numbers["pilots"] == sum(numbers["pilots_by_status"].values())
    assert list(numbers["pilots_by_status"]) == list(NETWORK_PILOT_STATUSES)
    assert numbers["pilots_by_status"]["closed"] == 1
    dashboard = client.get("/api/v1/network/dashboard").json()
    assert dashboard["pilots"] == numbers["pilots"]
    assert dashboard["by_status"] == numbers["pilots_by_status"]


def test_stages_appear_as_words_on_the_home_page_the_dashboard_and_the_lists(client, call, people):
    call(_add_pilots(people))
    home = client.get("/").text
    dashboard = client.get("/network").text
    for status in NETWORK_PILOT_STATUSES:
        assert f"<td>{PILOT_STATUS_WORDS[status]}</td>" in home
        assert f'<th scope="row">{PILOT_STATUS_WORDS[status]}</th>' in dashboard
    assert '<th scope="row">published</th>' not in dashboard
    sign_in(client, "vendor")
    pilot_page = client.get(f"/pilots/{people.open_pilot}").text
    assert 'status-open">Open for volunteers</span>' in pilot_page
