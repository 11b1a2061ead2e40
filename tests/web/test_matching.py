"""Volunteering and matching through HTTP: volunteering and withdrawing, fit in words,
recommendations, invitations, rounds (admin and vendor), two-sided acceptance, declines,
capacity under concurrent acceptances, explained empty rounds, and the fit weights."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import factories
from tests.web.conftest import (
    PASSWORD,
    People,
    csrf_token,
    other_browser,
    post_form,
    sign_in,
)


def sign_in_as(client, email: str) -> None:
    response = post_form(client, "/login", {"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.text


async def add_district(
    name: str,
    *,
    verified: bool = True,
    locale: str = "suburb",
    frl_share: float = 0.3,
    max_pilots: int = 2,
    profile: bool = True,
) -> tuple[int, str]:
    """A district with one coordinator (who signs in with PASSWORD); (organization id, email)."""
    from testbed.tables import DistrictProfile

    slug = re.sub(r"[^a-z]+", "-", name.lower()).strip("-")
    organization = await factories.organization(
        "district", name, slug, verified=verified, state="WA"
    )
    email = f"coordinator@{slug}.example"
    await factories.user(email, f"{name} coordinator", organization=organization)
    if profile:
        await factories.insert(
            DistrictProfile(
                organization=organization,
                nces_lea_id=f"53{organization:05d}",
                locale=locale,
                enrollment=3000,
                frl_share=frl_share,
                el_share=0.1,
                swd_share=0.12,
                grades_served=["K", *(f"G{n:02d}" for n in range(1, 13))],
                device_ratio=1.0,
                platforms=["chromebook"],
                signed_ndpa=True,
                max_concurrent_pilots=max_pilots,
            )
        )
    return organization, email


async def add_call(people: People, title: str, *, sites_wanted: int = 2, **fields) -> int:
    fields.setdefault("status", "open")
    return await factories.pilot(people.product, title=title, sites_wanted=sites_wanted, **fields)


async def enroll(pilot_id: int, district_id: int, status: str = "volunteered") -> int:
    return await factories.enrollment(pilot_id, district_id, status, capacity_students=120)


async def statuses(pilot_id: int) -> dict[int, str]:
    from testbed.tables import Enrollment

    rows = await Enrollment.select(Enrollment.district, Enrollment.status).where(
        Enrollment.pilot == pilot_id
    )
    return {row["district"]: row["status"] for row in rows}


async def token_for(user_id: int) -> str:
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal

    return (await create_access_token(await load_principal(user_id), "tests"))[1]


async def user_of(email: str) -> int:
    from testbed.tables import User

    return (await User.select(User.id).where(User.email == email).first())["id"]


async def notifications_of(email: str) -> list[str]:
    from testbed.tables import Notification

    rows = (
        await Notification.select(Notification.message)
        .where(Notification.user.email == email)
        .order_by(Notification.id)
    )
    return [row["message"] for row in rows]


# --- volunteering -----------------------------------------------------------------------------


def test_verified_district_volunteers_and_sees_its_fit_in_words(client, people, call):
    sign_in(client, "district")
    page = client.get(f"/pilots/{people.open_pilot}/volunteer")
    assert page.status_code == 200
    assert "Serves grade 4, which the call needs" in page.text
    assert "Open need in the call&#39;s subject and grades: “Grade 4 fractions”" in page.text
    assert "Signed the national student-data privacy agreement" in page.text

    response = post_form(
        client,
        f"/pilots/{people.open_pilot}/volunteer",
        {"capacity_students": "120", "grades": "G04", "note": "Two schools"},
    )
    assert response.status_code in (302, 303)
    assert call(statuses, people.open_pilot) == {people.district: "volunteered"}
    page = client.get(f"/pilots/{people.open_pilot}/volunteer")
    assert "Status: <strong>Volunteered</strong>" in page.text
    assert "Withdraw my district" in page.text


def test_volunteering_twice_is_a_conflict_and_bad_input_is_shown_by_field(client, people, call):
    sign_in(client, "district")
    bad = post_form(
        client,
        f"/pilots/{people.open_pilot}/volunteer",
        {"capacity_students": "none", "grades": "G11"},
    )
    assert bad.status_code == 422
    assert "Enter a whole number of at least 1." in bad.text
    assert "Choose among the grades the call needs." in bad.text
    assert post_form(
        client, f"/pilots/{people.open_pilot}/volunteer", {"capacity_students": "90"}
    ).status_code in (302, 303)
    again = post_form(client, f"/pilots/{people.open_pilot}/volunteer", {"capacity_students": "90"})
    assert again.status_code == 409
    assert "already volunteered" in again.text


def test_unverified_district_vendor_and_closed_calls_are_refused(client, people, call):
    _, email = call(add_district, "Fresh Pines District", verified=False)
    sign_in_as(client, email)
    refused = client.get(f"/pilots/{people.open_pilot}/volunteer")
    assert refused.status_code == 403
    assert "has not been verified by the network yet" in refused.text

    with other_browser(client):
        sign_in(client, "vendor")
        vendor = post_form(
            client, f"/pilots/{people.open_pilot}/volunteer", {"capacity_students": "90"}
        )
        assert vendor.status_code == 403
        assert "for district coordinators" in vendor.text

    with other_browser(client):
        sign_in(client, "district")
        closed = post_form(
            client, f"/pilots/{people.active_pilot}/volunteer", {"capacity_students": "90"}
        )
        assert closed.status_code == 409
        assert "is not taking volunteers" in closed.text


def test_api_volunteer_withdraw_and_volunteer_again_reopens_the_same_enrollment(
    client, people, call
):
    headers = {"Authorization": f"Bearer {call(token_for, people.district_user)}"}
    first = client.post(
        f"/api/v1/pilots/{people.open_pilot}/volunteer",
        json={"capacity_students": 110, "note": "Ready"},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "volunteered" and first.json()["grades"] == ["G04"]
    withdrawn = client.post(f"/api/v1/pilots/{people.open_pilot}/withdraw", headers=headers)
    assert withdrawn.json()["status"] == "withdrawn"
    again = client.post(
        f"/api/v1/pilots/{people.open_pilot}/volunteer",
        json={"capacity_students": 80},
        headers=headers,
    )
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["capacity_students"] == 80
    closed = client.post(
        f"/api/v1/pilots/{people.published_pilot}/volunteer",
        json={"capacity_students": 80},
        headers=headers,
    )
    assert closed.status_code == 409
    assert closed.headers["content-type"] == "application/problem+json"


# --- recommendations and invitations ----------------------------------------------------------


def test_recommendations_rank_open_calls_by_fit_with_words(client, people, call):
    poor = call(
        add_call,
        people,
        "Lab science for high school",
        grades=["G11"],
        subjects=["science"],
        pillars=[5],
    )
    good = call(add_call, people, "Fractions practice for grade 4")
    call(enroll, people.open_pilot, people.district)  # already volunteered: not recommended
    sign_in(client, "district")
    ranked = client.get("/api/v1/matching/recommendations").json()
    assert [r["pilot_id"] for r in ranked] == [good, poor]
    assert ranked[0]["score"] > ranked[1]["score"]
    words = {part["part"]: part["why"] for part in ranked[1]["parts"]}
    assert words["grades"] == "Serves none of the call's grades (11)"
    assert words["needs"].startswith("No open need matches the call's pillars")
    page = client.get("/matching")
    assert page.status_code == 200
    assert page.text.index("Fractions practice for grade 4") < page.text.index("Lab science")


def test_vendor_sees_volunteers_and_invites_a_district_that_has_not_volunteered(
    client, people, call
):
    other, email = call(add_district, "Maple Ridge Schools", frl_share=0.7)
    call(enroll, people.open_pilot, people.district)
    sign_in(client, "vendor")
    page = client.get(f"/pilots/{people.open_pilot}/volunteers")
    assert page.status_code == 200
    assert "Cedar Hollow Unified" in page.text and "Offers 120 students" in page.text
    assert "Invite Maple Ridge Schools" in page.text
    invited = post_form(
        client, f"/pilots/{people.open_pilot}/invitations", {"district_id": str(other)}
    )
    assert invited.status_code in (302, 303)
    assert call(notifications_of, email) == [
        "Brightpath Learning invites Maple Ridge Schools to volunteer for “MathQuest open pilot”."
    ]
    again = post_form(
        client, f"/pilots/{people.open_pilot}/invitations", {"district_id": str(people.district)}
    )
    assert again.status_code == 409
    with other_browser(client):
        sign_in_as(client, email)
        assert "Notifications (1" in client.get("/matching").text
        inbox = client.get("/notifications")
        assert "invites Maple Ridge Schools" in inbox.text
        assert f'href="/pilots/{people.open_pilot}/volunteer"' in inbox.text
        post_form(client, "/notifications/read")
        assert "Notifications (" not in client.get("/notifications").text


# --- rounds -----------------------------------------------------------------------------------


def test_admin_runs_a_round_and_every_proposal_says_why(client, people, call):
    suburb, suburb_email = call(
        add_district, "Birch Valley Schools", locale="suburb", frl_share=0.2
    )
    city, _ = call(add_district, "Harbor City Schools", locale="city", frl_share=0.3)
    for district in (people.district, suburb, city):
        call(enroll, people.open_pilot, district)
    sign_in(client, "admin")
    assert "3 volunteer(s) waiting" in client.get("/admin/matching").text
    response = post_form(client, "/admin/matching/rounds", {"confirm": "yes"})
    assert response.status_code in (302, 303)
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "Proposals and why" in page.text
    assert "above the network&#39;s median" in page.text  # Cedar Hollow, FRL 62 %
    # The optimality gap said in words, with the term linked to its explanation.
    assert "No better pairing of calls and districts exists than this one." in page.text
    assert 'href="/glossary#lp-bound"' in page.text
    # Each proposal links to its call and its district.
    assert f'<a href="/pilots/{people.open_pilot}">' in page.text
    assert f'<a href="/districts/{people.district}">Cedar Hollow Unified</a>' in page.text
    proposed = {d for d, s in call(statuses, people.open_pilot).items() if s == "proposed"}
    assert len(proposed) == 2 and people.district in proposed
    assert any(
        "A matching round proposes" in m
        for m in call(notifications_of, "founder@brightpath.example")
    )
    round_id = int(response.headers["location"].rsplit("/", 1)[1])
    api = client.get(f"/api/v1/matching/rounds/{round_id}").json()
    assert api["status"] == "optimal" and api["gap"] == pytest.approx(0, abs=1e-6)
    assert all(p["reasons"] and p["parts"] for p in api["proposals"])
    assert client.get("/admin/matching").status_code == 200


def test_vendor_runs_a_round_for_its_own_call_only(client, people, call):
    other_call = call(add_call, people, "Someone else's call")
    from testbed.tables import Pilot, Product

    async def give_to_other_vendor() -> None:
        product = await factories.insert(
            Product(vendor=people.other_vendor, name="Rival", description="x")
        )
        await Pilot.update({Pilot.product: product}).where(Pilot.id == other_call)

    call(give_to_other_vendor)
    call(enroll, people.open_pilot, people.district)
    call(enroll, other_call, people.district)
    sign_in(client, "vendor")
    assert post_form(client, f"/pilots/{other_call}/rounds", {"confirm": "yes"}).status_code == 404
    response = post_form(client, f"/pilots/{people.open_pilot}/rounds", {"confirm": "yes"})
    assert response.status_code in (302, 303)
    assert call(statuses, people.open_pilot)[people.district] == "proposed"
    assert call(statuses, other_call)[people.district] == "volunteered"
    round_path = response.headers["location"]
    assert client.get(round_path).status_code == 200
    with other_browser(client):
        sign_in(client, "other_vendor")
        assert client.get(round_path).status_code == 404


def test_a_round_without_volunteers_or_with_too_few_is_explained_not_crashed(client, people, call):
    sign_in(client, "admin")
    empty = client.get(
        post_form(client, "/admin/matching/rounds", {"confirm": "yes"}).headers["location"]
    )
    assert empty.status_code == 200
    assert "No call had volunteers waiting for a round" in empty.text
    greedy = call(add_call, people, "Wants four sites", sites_wanted=4)
    call(enroll, greedy, people.district)
    page = client.get(
        post_form(client, "/admin/matching/rounds", {"confirm": "yes"}).headers["location"]
    )
    assert (
        "“Wants four sites” wanted 4 more site(s); only 1 volunteer(s) were eligible" in page.text
    )
    assert "sites cannot span two locales" in page.text


# --- accepting and declining ------------------------------------------------------------------


def test_both_sides_accept_in_the_browser_and_it_becomes_a_site(client, people, call):
    enrollment = call(enroll, people.open_pilot, people.district, "proposed")
    sign_in(client, "district")
    dashboard = client.get("/matching")
    assert "Accept “MathQuest open pilot”" in dashboard.text
    assert post_form(client, f"/enrollments/{enrollment}/accept").status_code in (302, 303)
    assert call(statuses, people.open_pilot)[people.district] == "accepted_by_district"
    again = post_form(client, f"/enrollments/{enrollment}/accept")
    assert again.status_code == 409 and "waiting for the vendor" in again.text
    assert any(
        "accepted the proposal" in m for m in call(notifications_of, "founder@brightpath.example")
    )
    with other_browser(client):
        sign_in(client, "vendor")
        page = client.get(f"/pilots/{people.open_pilot}/volunteers")
        assert "Accept Cedar Hollow Unified" in page.text
        accepted = post_form(
            client,
            f"/enrollments/{enrollment}/accept",
            {"next": f"/pilots/{people.open_pilot}/volunteers"},
        )
        assert accepted.headers["location"] == f"/pilots/{people.open_pilot}/volunteers"
    assert call(statuses, people.open_pilot)[people.district] == "site"
    assert "Cedar Hollow Unified is now a site of “MathQuest open pilot”." in call(
        notifications_of, "coordinator@cedar.example"
    )


def test_vendor_may_accept_first_and_outsiders_cannot_answer(client, people, call):
    enrollment = call(enroll, people.open_pilot, people.district, "proposed")
    headers = {"Authorization": f"Bearer {call(token_for, people.vendor_user)}"}
    first = client.post(f"/api/v1/enrollments/{enrollment}/accept", headers=headers)
    assert first.json() == {"enrollment_id": enrollment, "status": "accepted_by_vendor"}
    outsider = {"Authorization": f"Bearer {call(token_for, people.other_vendor_user)}"}
    assert (
        client.post(f"/api/v1/enrollments/{enrollment}/accept", headers=outsider).status_code == 404
    )
    admin = {"Authorization": f"Bearer {call(token_for, people.admin)}"}
    assert client.post(f"/api/v1/enrollments/{enrollment}/accept", headers=admin).status_code == 404
    district = {"Authorization": f"Bearer {call(token_for, people.district_user)}"}
    done = client.post(f"/api/v1/enrollments/{enrollment}/accept", headers=district)
    assert done.json()["status"] == "site"


def test_a_decline_by_either_side_ends_the_proposal(client, people, call):
    enrollment = call(enroll, people.open_pilot, people.district, "accepted_by_district")
    sign_in(client, "vendor")
    assert post_form(client, f"/enrollments/{enrollment}/decline").status_code in (302, 303)
    assert call(statuses, people.open_pilot)[people.district] == "declined"
    assert any(
        "declined the proposal" in m for m in call(notifications_of, "coordinator@cedar.example")
    )
    late = post_form(client, f"/enrollments/{enrollment}/accept")
    assert late.status_code == 409 and "This proposal is closed" in late.text
    with other_browser(client):
        sign_in(client, "district")
        assert post_form(client, f"/pilots/{people.open_pilot}/withdraw").status_code == 409


def test_a_proposal_cannot_be_accepted_when_the_call_is_full(client, people, call):
    full = call(add_call, people, "One site only", sites_wanted=1)
    other, _ = call(add_district, "Aspen Grove Schools")
    call(enroll, full, other, "site")
    enrollment = call(enroll, full, people.district, "accepted_by_district")
    headers = {"Authorization": f"Bearer {call(token_for, people.vendor_user)}"}
    refused = client.post(f"/api/v1/enrollments/{enrollment}/accept", headers=headers)
    assert refused.status_code == 409
    assert "already has the 1 site(s) it wanted" in refused.json()["detail"]


def _fire(client, requests: list[tuple[str, dict]]) -> list:
    """Send every request at once from its own thread, into the one app and event loop."""
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [pool.submit(client.post, path, headers=headers) for path, headers in requests]
        return [future.result() for future in futures]


def test_concurrent_vendor_acceptances_never_exceed_the_sites_wanted(client, people, call):
    """50 districts have accepted a call that wants 3 sites and the vendor accepts all 50 at
    once: exactly 3 become sites, the other 47 are refused cleanly (409, never a 500), and the
    database holds exactly 3 sites: no overbooking under concurrency."""
    pilot = call(add_call, people, "Three sites wanted", sites_wanted=3)
    enrollments = []
    for number in range(50):
        letters = chr(65 + number // 26) + chr(65 + number % 26)
        district, _ = call(add_district, f"Concurrent District {letters}")
        enrollments.append(call(enroll, pilot, district, "accepted_by_district"))
    headers = {"Authorization": f"Bearer {call(token_for, people.vendor_user)}"}
    responses = _fire(client, [(f"/api/v1/enrollments/{e}/accept", headers) for e in enrollments])
    codes = sorted(response.status_code for response in responses)
    assert codes == [200] * 3 + [409] * 47
    assert all(r.json()["status"] == "site" for r in responses if r.status_code == 200)
    losers = [r.json()["detail"] for r in responses if r.status_code == 409]
    assert all("already has the 3 site(s) it wanted" in detail for detail in losers)
    after = call(statuses, pilot)
    assert list(after.values()).count("site") == 3
    assert list(after.values()).count("accepted_by_district") == 47


def test_concurrent_district_acceptances_never_exceed_its_concurrent_pilots(client, people, call):
    district, email = call(add_district, "Single Pilot Schools", max_pilots=1)
    pilots = [call(add_call, people, f"Call {n}") for n in range(6)]
    enrollments = [call(enroll, pilot, district, "accepted_by_vendor") for pilot in pilots]
    headers = {"Authorization": f"Bearer {call(token_for, call(user_of, email))}"}
    responses = _fire(client, [(f"/api/v1/enrollments/{e}/accept", headers) for e in enrollments])
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5
    assert all(
        "limit of concurrent pilots" in r.json()["detail"]
        for r in responses
        if r.status_code == 409
    )
    sites = sum(list(call(statuses, pilot).values()).count("site") for pilot in pilots)
    assert sites == 1


# --- weights ----------------------------------------------------------------------------------


def test_admin_changes_the_weights_audited_and_scores_follow(client, people, call):
    sign_in(client, "admin")
    page = client.get("/admin/matching")
    assert 'name="grades"' in page.text and 'value="25"' in page.text
    bad = post_form(client, "/admin/matching/weights", {"grades": "150", "subject": "x"})
    assert bad.status_code == 422 and "Enter a number from 0 to 100." in bad.text
    weights = {
        "grades": "50",
        "subject": "10",
        "needs": "10",
        "platforms": "10",
        "privacy": "10",
        "capacity": "10",
    }
    assert post_form(client, "/admin/matching/weights", weights).status_code in (302, 303)
    events = client.get("/admin?action=fit_weights_changed").text
    assert "fit_weights_changed" in events and "&#39;grades&#39;: 50.0" in events
    assert client.get("/api/v1/matching/weights").json()["weights"]["grades"] == 50
    with other_browser(client):
        sign_in(client, "district")
        page = client.get(f"/pilots/{people.open_pilot}/volunteer")
        assert "(50 of 50 points): Serves grade 4" in page.text


def test_csrf_is_required_for_accepting(client, people, call):
    enrollment = call(enroll, people.open_pilot, people.district, "proposed")
    sign_in(client, "district")
    csrf_token(client)
    refused = client.post(f"/enrollments/{enrollment}/accept", follow_redirects=False)
    assert refused.status_code == 403
    assert call(statuses, people.open_pilot)[people.district] == "proposed"


# --- the demo network, end to end -------------------------------------------------------------


def test_demo_network_runs_a_round_from_the_admin_page_and_both_sides_accept(settings):
    import asyncio

    from litestar.testing import TestClient

    from testbed.app import create_app
    from testbed.demo import DEMO_PASSWORD, load_demo
    from testbed.demo.generate import COORDINATOR_EMAIL, FOUNDER_EMAIL, NETWORK_ADMIN_EMAIL

    asyncio.run(load_demo(scale=1, seed=2026))
    with TestClient(create_app(settings)) as client:

        def sign_in_demo(email: str) -> None:
            response = post_form(client, "/login", {"email": email, "password": DEMO_PASSWORD})
            assert response.status_code in (302, 303)

        sign_in_demo(NETWORK_ADMIN_EMAIL)
        ran = post_form(client, "/admin/matching/rounds", {"confirm": "yes"})
        result = client.get(ran.headers["location"])
        assert result.status_code == 200 and "Cedar Hollow Unified" in result.text

        with other_browser(client):
            sign_in_demo(COORDINATOR_EMAIL)
            dashboard = client.get("/matching").text
            accept = re.search(r'action="/enrollments/(\d+)/accept"', dashboard)
            assert accept is not None, "Cedar Hollow has a proposal to accept"
            enrollment = int(accept.group(1))
            accepted = post_form(client, f"/enrollments/{enrollment}/accept")
            assert accepted.status_code in (302, 303)
            assert not accepted.headers["location"].startswith("/login")
            assert (
                "Accepted by the district, waiting for the vendor" in client.get("/matching").text
            )

        with other_browser(client):
            sign_in_demo(FOUNDER_EMAIL)
            assert "Notifications (" in client.get("/").text
            inbox = client.get("/notifications").text
            link = re.search(r'href="(/pilots/\d+/volunteers)"', inbox)
            assert link is not None
            page = client.get(link.group(1)).text
            assert f'action="/enrollments/{enrollment}/accept"' in page
            accepted = post_form(client, f"/enrollments/{enrollment}/accept")
            assert accepted.status_code in (302, 303)
            assert not accepted.headers["location"].startswith("/login")

        with other_browser(client):
            sign_in_demo(COORDINATOR_EMAIL)
            assert "<td>Site</td>" in client.get("/matching").text


def test_call_and_district_pages_link_to_matching(client, people):
    sign_in(client, "district")
    call_page = client.get(f"/pilots/{people.open_pilot}").text
    assert f'href="/pilots/{people.open_pilot}/volunteer"' in call_page
    district_page = client.get(f"/districts/{people.district}").text
    assert f'href="/matching?district_id={people.district}"' in district_page
    assert client.get(f"/matching?district_id={people.district}").status_code == 200
    with other_browser(client):
        sign_in(client, "vendor")
        call_page = client.get(f"/pilots/{people.open_pilot}").text
        assert f'href="/pilots/{people.open_pilot}/volunteers"' in call_page
        assert f'href="/pilots/{people.open_pilot}/volunteer"' not in call_page


def test_volunteering_withdrawing_and_inviting_are_confirmed_on_the_next_page(client, people, call):
    sign_in(client, "district")
    offered = post_form(
        client, f"/pilots/{people.open_pilot}/volunteer", {"capacity_students": "90"}
    )
    assert "Your offer to host is saved" in client.get(offered.headers["location"]).text
    withdrawn = post_form(client, f"/pilots/{people.open_pilot}/withdraw")
    assert "Your offer to host is withdrawn." in client.get(withdrawn.headers["location"]).text
    other, _ = call(add_district, "Maple Ridge Schools", frl_share=0.7)
    with other_browser(client):
        sign_in(client, "vendor")
        invited = post_form(
            client, f"/pilots/{people.open_pilot}/invitations", {"district_id": str(other)}
        )
        assert invited.headers["location"] == f"/pilots/{people.open_pilot}/volunteers"
        assert "Invitation sent" in client.get(invited.headers["location"]).text
