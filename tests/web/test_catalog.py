"""The catalog through HTTP: district profiles and needs, products, pilot calls and their
lifecycle, the lists' filters, search and pages, and who may see and change what."""

from __future__ import annotations

import re

import pytest

from tests import factories
from tests.web.conftest import PASSWORD, People, other_browser, post_form, sign_in

PROFILE_FORM = {
    "nces_lea_id": "4100123",
    "state": "OR",
    "locale": "town",
    "enrollment": "5400",
    "frl_share": "45 %",
    "el_share": "12",
    "swd_share": "13.5",
    "grades_served": ["K", "G01", "G02"],
    "device_ratio": "0.8",
    "platforms": ["chromebook", "canvas"],
    "signed_ndpa": "on",
    "max_concurrent_pilots": "3",
}
PRODUCT_FORM = {
    "name": "Fraction Forge",
    "description": "Visual fraction practice with immediate feedback.",
    "grade_bands": ["g35", "g68"],
    "subjects": ["math"],
    "pillars": ["2", "3"],
    "platforms": ["chromebook", "ipad"],
    "student_data_collected": "Answers and time on task; no names.",
    "privacy_policy_url": "https://fractionforge.example/privacy",
    "essa_tier_claimed": "3",
    "evidence_url": "https://fractionforge.example/study",
}
CALL_FORM = {
    "title": "Fraction Forge in grade 4",
    "research_question": "Does 20 minutes a week of Fraction Forge raise fraction scores?",
    "grades": ["G04"],
    "subjects": ["math"],
    "pillars": ["2"],
    "sites_wanted": "3",
    "students_per_site": "120",
    "weeks": "12",
    "start_window": "January 2027",
    "devices_required": "One Chromebook per student",
    "training_hours": "4",
    "sites_receive": "Free licences for a year",
}


def _token(call, user_id: int) -> str:
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal

    async def make() -> str:
        return (await create_access_token(await load_principal(user_id), "tests"))[1]

    return call(make)


def _bearer(call, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(call, user_id)}"}


def _ids(html: str, kind: str) -> list[int]:
    return [int(found) for found in re.findall(rf'<td><a href="/{kind}/(\d+)">', html)]


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="e-{name}">([^<]*)</p>', html)
    return found.group(1) if found else ""


async def _second_district_with_user() -> int:
    from testbed.accounts.services import add_membership, create_organization, create_user

    district = await create_organization(
        kind="district", name="Willow Basin Schools", state="WA", verified=True
    )
    user = await create_user(email="coord@willow.example", name="Wil Low", password=PASSWORD)
    await add_membership(user, district, role="admin")
    return district


def _sign_in_as(client, email: str) -> None:
    response = post_form(client, "/login", {"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303)


# --- district profile -----------------------------------------------------------------------


def test_member_edits_the_profile_and_it_persists(client, people: People):
    sign_in(client, "district")
    form = client.get(f"/districts/{people.district}/profile")
    assert form.status_code == 200
    assert 'value="4199901"' in form.text and 'value="52"' in form.text  # shares as percentages

    saved = post_form(client, f"/districts/{people.district}/profile", PROFILE_FORM)
    assert saved.status_code in (302, 303)
    assert saved.headers["location"] == f"/districts/{people.district}"

    page = client.get(f"/districts/{people.district}")
    assert "4100123" in page.text and "45 %" in page.text and "Town" in page.text
    profile = client.get(f"/api/v1/districts/{people.district}").json()["profile"]
    assert profile["frl_share"] == 0.45 and profile["el_share"] == 0.12
    assert profile["swd_share"] == 0.135 and profile["device_ratio"] == 0.8
    assert profile["grades_served"] == ["K", "G01", "G02"]
    assert profile["platforms"] == ["chromebook", "canvas"]
    assert profile["signed_ndpa"] is True and profile["max_concurrent_pilots"] == 3


def test_another_districts_member_or_a_vendor_cannot_edit_the_profile(client, people, call):
    call(_second_district_with_user)
    _sign_in_as(client, "coord@willow.example")
    assert client.get(f"/districts/{people.district}/profile").status_code == 403
    refused = post_form(client, f"/districts/{people.district}/profile", PROFILE_FORM)
    assert refused.status_code == 403
    with other_browser(client):
        sign_in(client, "vendor")
        refused = post_form(client, f"/districts/{people.district}/profile", PROFILE_FORM)
        assert refused.status_code == 403
    profile = client.get(f"/api/v1/districts/{people.district}").json()["profile"]
    assert profile["nces_lea_id"] == "4199901"


def test_profile_errors_are_shown_next_to_each_field_and_what_was_typed_is_kept(client, people):
    sign_in(client, "district")
    typed = {**PROFILE_FORM, "nces_lea_id": "41-001", "frl_share": "145", "enrollment": ""}
    response = post_form(client, f"/districts/{people.district}/profile", typed)
    assert response.status_code == 422
    assert "exactly 7 digits" in _field_error(response.text, "nces_lea_id")
    assert "percentage from 0 to 100" in _field_error(response.text, "frl_share")
    assert "Enter the enrollment" in _field_error(response.text, "enrollment")
    assert _field_error(response.text, "el_share") == ""
    assert response.text.count('aria-invalid="true"') == 3
    assert 'value="41-001"' in response.text and 'value="145"' in response.text
    assert re.search(r'value="canvas"\s+checked', response.text)  # checkboxes stay ticked
    assert re.search(r'value="G02"\s+checked', response.text)


def test_a_taken_lea_id_is_a_conflict_on_its_field(client, people, call):
    other = call(_second_district_with_user)
    sign_in(client, "district")
    assert post_form(client, f"/districts/{people.district}/profile", PROFILE_FORM).status_code in (
        302,
        303,
    )
    with other_browser(client):
        _sign_in_as(client, "coord@willow.example")
        response = post_form(client, f"/districts/{other}/profile", PROFILE_FORM)
        assert response.status_code == 409
        assert "already has this id" in _field_error(response.text, "nces_lea_id")
        # With other mistakes, the taken id is listed among them.
        response = post_form(
            client, f"/districts/{other}/profile", {**PROFILE_FORM, "el_share": "x"}
        )
        assert response.status_code == 422
        assert "already has this id" in _field_error(response.text, "nces_lea_id")
        assert _field_error(response.text, "el_share")


def test_profile_api_takes_fractions_and_lists_every_problem(client, people, call):
    headers = _bearer(call, people.district_user)
    body = {
        "nces_lea_id": "4100555",
        "state": "OR",
        "locale": "suburb",
        "enrollment": 9000,
        "frl_share": 0.3,
        "el_share": 0.05,
        "swd_share": 0.11,
        "grades_served": ["G09", "G10"],
        "device_ratio": 1.0,
    }
    saved = client.put(f"/api/v1/districts/{people.district}/profile", json=body, headers=headers)
    assert saved.status_code == 200
    assert saved.json()["profile"]["locale"] == "suburb"
    bad = {**body, "frl_share": 45, "locale": "village", "grades_served": ["G13"]}
    refused = client.put(f"/api/v1/districts/{people.district}/profile", json=bad, headers=headers)
    assert refused.status_code == 422
    fields = {error["field"] for error in refused.json()["errors"]}
    assert fields == {"frl_share", "locale", "grades_served"}
    no_token = client.put(f"/api/v1/districts/{people.district}/profile", json=body)
    assert no_token.status_code == 401


API_PROFILE = {
    "nces_lea_id": "4100777",
    "state": "WA",
    "locale": "rural",
    "enrollment": 1200,
    "frl_share": 0.5,
    "el_share": 0.1,
    "swd_share": 0.12,
    "grades_served": ["G04", "G05"],
    "device_ratio": 1.0,
}


def _user_id(call, email: str) -> int:
    from testbed.tables import User

    async def find() -> int:
        return (await User.select(User.id).where(User.email == email).first())["id"]

    return call(find)


def _race_at_the_check(monkeypatch, meanwhile) -> None:
    """Run `meanwhile` (another request's write, committed) just after the service has checked
    the LEA id and before it writes: the window two simultaneous submissions share."""
    from testbed.catalog import services

    checked = services.districts._lea_id_taken
    raced = []

    async def check_then_lose_the_race(lea_id, district_id):
        taken = await checked(lea_id, district_id)
        if not raced:
            raced.append(True)
            await meanwhile()
        return taken

    monkeypatch.setattr(services.districts, "_lea_id_taken", check_then_lose_the_race)


def test_simultaneous_profiles_with_one_new_lea_id_conflict_like_sequential_ones(
    client, people, call, monkeypatch
):
    from testbed.tables import DistrictProfile

    other = call(_second_district_with_user)
    headers = _bearer(call, _user_id(call, "coord@willow.example"))

    async def cedar_takes_the_id():
        await DistrictProfile.update({DistrictProfile.nces_lea_id: "4100777"}).where(
            DistrictProfile.organization == people.district
        )

    _race_at_the_check(monkeypatch, cedar_takes_the_id)
    response = client.put(f"/api/v1/districts/{other}/profile", json=API_PROFILE, headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["errors"] == [
        {"field": "nces_lea_id", "message": "Another district in the network already has this id."}
    ]
    assert client.get(f"/api/v1/districts/{other}").json()["profile"] is None
    # The sequential case answers the same.
    monkeypatch.undo()
    again = client.put(f"/api/v1/districts/{other}/profile", json=API_PROFILE, headers=headers)
    assert again.status_code == 409 and again.json()["errors"] == response.json()["errors"]


def test_simultaneous_first_profiles_of_one_district_both_save(client, people, call, monkeypatch):
    from testbed.tables import DistrictProfile

    other = call(_second_district_with_user)
    headers = _bearer(call, _user_id(call, "coord@willow.example"))

    async def a_colleague_saves_first():
        await factories.insert(
            DistrictProfile(
                organization=other,
                nces_lea_id="4100778",
                locale="town",
                enrollment=900,
                frl_share=0.4,
                el_share=0.1,
                swd_share=0.1,
                grades_served=["G01"],
                device_ratio=0.5,
            )
        )

    _race_at_the_check(monkeypatch, a_colleague_saves_first)
    response = client.put(f"/api/v1/districts/{other}/profile", json=API_PROFILE, headers=headers)
    assert response.status_code == 200, response.text
    profile = client.get(f"/api/v1/districts/{other}").json()["profile"]
    assert profile["nces_lea_id"] == "4100777" and profile["locale"] == "rural"


# --- needs ----------------------------------------------------------------------------------


def test_member_adds_edits_and_closes_needs(client, people):
    sign_in(client, "district")
    need = {
        "title": "Chronic absence in middle school",
        "statement": "One in five students in grades 6-8 misses more than 10% of school days.",
        "pillars": ["1", "4"],
        "grade_band": "g68",
        "subject": "attendance",
    }
    created = post_form(client, f"/districts/{people.district}/needs", need)
    assert created.status_code in (302, 303)
    page = client.get(f"/districts/{people.district}")
    assert "Chronic absence in middle school" in page.text
    listed = client.get("/api/v1/needs", params={"district": people.district}).json()["items"]
    new = next(item for item in listed if item["title"].startswith("Chronic"))
    assert new["pillars"] == [1, 4] and new["is_open"] is True

    edited = post_form(
        client,
        f"/districts/{people.district}/needs/{new['id']}/edit",
        {**need, "title": "Chronic absence, grades 6-8"},
    )
    assert edited.status_code in (302, 303)
    closed = post_form(
        client, f"/districts/{people.district}/needs/{new['id']}/status", {"status": "closed"}
    )
    assert closed.status_code in (302, 303)
    assert "Chronic absence" not in client.get(f"/districts/{people.district}").text
    manage = client.get(f"/districts/{people.district}/needs")
    assert "Chronic absence, grades 6-8" in manage.text and "closed" in manage.text
    # Closed needs stay with the district.
    own = client.get("/api/v1/needs", params={"status": "closed"}).json()
    assert [item["id"] for item in own["items"]] == [new["id"]]
    with other_browser(client):
        assert client.get("/api/v1/needs", params={"status": "closed"}).json()["total"] == 0


def test_need_errors_and_outsiders(client, people, call):
    sign_in(client, "district")
    response = post_form(
        client,
        f"/districts/{people.district}/needs",
        {"title": "Reading", "statement": "", "grade_band": "g13", "subject": "math"},
    )
    assert response.status_code == 422
    assert _field_error(response.text, "statement") and _field_error(response.text, "pillars")
    assert _field_error(response.text, "grade_band")
    assert 'value="Reading"' in response.text
    with other_browser(client):
        sign_in(client, "vendor")
        refused = post_form(
            client, f"/districts/{people.district}/needs/{people.need}/status", {"status": "closed"}
        )
        assert refused.status_code == 403
    headers = _bearer(call, people.district_user)
    api = client.put(
        f"/api/v1/districts/{people.district}/needs/{people.need}",
        json={
            "title": "Grade 4 fractions",
            "statement": "Still a problem.",
            "pillars": [2],
            "grade_band": "g35",
            "subject": "math",
            "is_open": False,
        },
        headers=headers,
    )
    assert api.status_code == 200 and api.json()["is_open"] is False


# --- products -------------------------------------------------------------------------------


def test_verified_vendor_lists_a_product_and_edits_it(client, people):
    sign_in(client, "vendor")
    assert client.get("/products/new").status_code == 200
    created = post_form(client, "/products", PRODUCT_FORM)
    assert created.status_code in (302, 303)
    product_id = int(created.headers["location"].rsplit("/", 1)[1])
    product = client.get(f"/api/v1/products/{product_id}").json()
    assert product["vendor_id"] == people.vendor
    assert product["grade_bands"] == ["g35", "g68"] and product["pillars"] == [2, 3]
    assert product["essa_tier_claimed"] == 3
    page = client.get(f"/products/{product_id}")
    assert "ESSA tier 3" in page.text and "Edit the listing" in page.text

    edit_form = client.get(f"/products/{product_id}/edit")
    assert re.search(r'value="g68"\s+checked', edit_form.text)
    assert re.search(r'<option value="3"\s+selected', edit_form.text)
    edited = post_form(
        client, f"/products/{product_id}/edit", {**PRODUCT_FORM, "name": "Fraction Forge 2"}
    )
    assert edited.status_code in (302, 303)
    assert client.get(f"/api/v1/products/{product_id}").json()["name"] == "Fraction Forge 2"


def test_unverified_vendor_and_district_cannot_list_products(client, people, call):
    sign_in(client, "unverified")
    assert client.get("/products").status_code == 200  # browsing is fine
    refused = post_form(client, "/products", PRODUCT_FORM)
    assert refused.status_code == 403
    assert "has not been verified by the network yet" in refused.text
    with other_browser(client):
        sign_in(client, "district")
        assert post_form(client, "/products", PRODUCT_FORM).status_code == 403
    api = client.post(
        "/api/v1/products",
        json={**PRODUCT_FORM, "pillars": [2], "essa_tier_claimed": None},
        headers=_bearer(call, people.unverified_user),
    )
    assert api.status_code == 403


def test_another_vendor_cannot_edit_a_product(client, people, call):
    sign_in(client, "other_vendor")
    assert client.get(f"/products/{people.product}/edit").status_code == 403
    refused = post_form(client, f"/products/{people.product}/edit", PRODUCT_FORM)
    assert refused.status_code == 403
    api = client.put(
        f"/api/v1/products/{people.product}",
        json={**PRODUCT_FORM, "pillars": [2], "essa_tier_claimed": None},
        headers=_bearer(call, people.other_vendor_user),
    )
    assert api.status_code == 403
    assert client.get(f"/api/v1/products/{people.product}").json()["name"] == "MathQuest"
    assert client.get("/products/999999/edit").status_code == 404


def test_product_links_must_be_web_addresses_and_a_claimed_tier_needs_its_study(client, people):
    sign_in(client, "vendor")
    typed = {
        **PRODUCT_FORM,
        "privacy_policy_url": "javascript:alert(1)",
        "evidence_url": "",
        "subjects": [],
    }
    response = post_form(client, "/products", typed)
    assert response.status_code == 422
    assert "https://" in _field_error(response.text, "privacy_policy_url")
    assert "Link the study" in _field_error(response.text, "evidence_url")
    assert "at least one" in _field_error(response.text, "subjects")
    assert 'value="Fraction Forge"' in response.text


def test_a_product_name_with_markup_is_shown_as_text(client, people):
    sign_in(client, "vendor")
    created = post_form(client, "/products", {**PRODUCT_FORM, "name": "<script>alert(1)</script>"})
    product_id = int(created.headers["location"].rsplit("/", 1)[1])
    for path in ("/products", f"/products/{product_id}", f"/products/{product_id}/edit"):
        text = client.get(path).text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# --- pilot calls and their lifecycle --------------------------------------------------------


def _open_call(client, product_id: int, **changes) -> int:
    created = post_form(client, "/pilots", {**CALL_FORM, "product": str(product_id), **changes})
    assert created.status_code in (302, 303), created.text
    return int(created.headers["location"].rsplit("/", 1)[1])


def _move(client, pilot_id: int, status: str):
    return post_form(client, f"/pilots/{pilot_id}/status", {"status": status})


def test_entrepreneur_opens_a_call_and_a_coordinator_finds_it_by_filtering(client, people):
    sign_in(client, "vendor")
    form = client.get(f"/pilots/new?product={people.product}")
    assert re.search(rf'<option value="{people.product}"\s+selected', form.text)
    pilot_id = _open_call(client, people.product)
    assert "status-draft" in client.get(f"/pilots/{pilot_id}").text

    with other_browser(client):
        sign_in(client, "district")
        assert client.get(f"/pilots/{pilot_id}").status_code == 404  # a draft is private
        assert pilot_id not in _ids(client.get("/pilots?status=draft").text, "pilots")

    assert _move(client, pilot_id, "open").status_code in (302, 303)
    with other_browser(client):
        sign_in(client, "district")
        found = client.get(
            "/pilots",
            params={
                "status": "open",
                "grade_band": "g35",
                "subject": "math",
                "pillar": "2",
                "q": "fraction grade",
            },
        )
        assert _ids(found.text, "pilots") == [pilot_id]
        page = client.get(f"/pilots/{pilot_id}")
        assert page.status_code == 200 and "Free licences for a year" in page.text
        assert "Withdraw" not in page.text  # only the vendor manages the call


def test_call_errors_keep_what_was_typed(client, people):
    sign_in(client, "vendor")
    typed = {**CALL_FORM, "product": str(people.product), "weeks": "many", "grades": []}
    response = post_form(client, "/pilots", typed)
    assert response.status_code == 422
    assert "whole number" in _field_error(response.text, "weeks")
    assert _field_error(response.text, "grades")
    assert 'value="many"' in response.text and 'value="Fraction Forge in grade 4"' in response.text


def test_another_vendor_cannot_open_a_call_for_my_product(client, people):
    sign_in(client, "other_vendor")
    refused = post_form(client, "/pilots", {**CALL_FORM, "product": str(people.product)})
    assert refused.status_code == 403


def test_call_is_editable_while_draft_or_open_only(client, people):
    sign_in(client, "vendor")
    pilot_id = _open_call(client, people.product)
    edited = post_form(client, f"/pilots/{pilot_id}/edit", {**CALL_FORM, "weeks": "14"})
    assert edited.status_code in (302, 303)
    _move(client, pilot_id, "open")
    _move(client, pilot_id, "matching")
    refused = post_form(client, f"/pilots/{pilot_id}/edit", {**CALL_FORM, "weeks": "16"})
    assert refused.status_code == 409
    assert "only while it is a draft or open" in refused.text
    with other_browser(client):
        sign_in(client, "other_vendor")
        assert post_form(client, f"/pilots/{pilot_id}/edit", CALL_FORM).status_code == 404


def test_lifecycle_moves_and_an_illegal_one_is_a_409_naming_the_allowed_ones(client, people, call):
    sign_in(client, "vendor")
    pilot_id = _open_call(client, people.product)
    illegal = _move(client, pilot_id, "published")
    assert illegal.status_code == 409
    assert "A pilot that is draft cannot become published" in illegal.text
    assert "From draft it can become: open, withdrawn." in illegal.text

    headers = _bearer(call, people.vendor_user)
    api = client.post(
        f"/api/v1/pilots/{pilot_id}/status", json={"status": "active"}, headers=headers
    )
    assert api.status_code == 409
    assert api.json()["detail"].startswith("A pilot that is draft cannot become active")
    for status in ("open", "matching", "open", "matching"):
        moved = client.post(
            f"/api/v1/pilots/{pilot_id}/status", json={"status": status}, headers=headers
        )
        assert moved.status_code == 200 and moved.json()["status"] == status
    assert moved.json()["next_statuses"] == ["active", "open", "withdrawn"]

    no_site = client.post(
        f"/api/v1/pilots/{pilot_id}/status", json={"status": "active"}, headers=headers
    )
    assert no_site.status_code == 409 and "at least one accepted site" in no_site.json()["detail"]
    unknown = client.post(
        f"/api/v1/pilots/{pilot_id}/status", json={"status": "paused"}, headers=headers
    )
    assert unknown.status_code == 422

    admin = _bearer(call, people.admin)
    events = client.get("/api/v1/admin/audit?action=pilot_status_changed", headers=admin).json()
    moves = [
        (e["detail"]["from"], e["detail"]["to"]) for e in events if e["object_id"] == str(pilot_id)
    ]
    assert moves[::-1] == [
        ("draft", "open"),
        ("open", "matching"),
        ("matching", "open"),
        ("open", "matching"),
    ]


def test_later_moves_are_the_networks_and_withdrawal_is_final(client, people, call):
    vendor = _bearer(call, people.vendor_user)
    admin = _bearer(call, people.admin)
    path = f"/api/v1/pilots/{people.active_pilot}/status"
    refused = client.post(path, json={"status": "analysis"}, headers=vendor)
    assert refused.status_code == 403
    assert client.post(path, json={"status": "analysis"}, headers=admin).status_code == 200
    assert client.post(path, json={"status": "published"}, headers=admin).status_code == 200
    open_path = f"/api/v1/pilots/{people.open_pilot}/status"
    assert client.post(open_path, json={"status": "withdrawn"}, headers=vendor).status_code == 200
    final = client.post(open_path, json={"status": "open"}, headers=vendor)
    assert final.status_code == 409 and "final status" in final.json()["detail"]
    other = _bearer(call, people.other_vendor_user)
    assert client.post(path, json={"status": "closed"}, headers=other).status_code == 403


def test_call_api_creates_and_edits_with_a_token(client, people, call):
    headers = _bearer(call, people.vendor_user)
    body = {
        **CALL_FORM,
        "product": people.product,
        "grades": ["G04", "G05"],
        "pillars": [2],
        "sites_wanted": 3,
        "students_per_site": 120,
        "weeks": 12,
        "training_hours": 4,
    }
    created = client.post("/api/v1/pilots", json=body, headers=headers)
    assert created.status_code == 201
    pilot = created.json()
    assert pilot["status"] == "draft" and pilot["grades"] == ["G04", "G05"]
    body.pop("product")
    edited = client.put(
        f"/api/v1/pilots/{pilot['id']}", json={**body, "weeks": 10}, headers=headers
    )
    assert edited.status_code == 200 and edited.json()["weeks"] == 10
    cookie_only = client.post("/api/v1/pilots", json={**body, "product": people.product})
    assert cookie_only.status_code == 401


# --- lists: filters, search, pages, parity, visibility --------------------------------------


async def _seed_catalog(people: People) -> dict[str, int]:
    """Districts in two states and locales with needs, tagged products and calls."""
    from testbed.tables import DistrictProfile, Need

    ids: dict[str, int] = {}
    districts = [
        ("Aspen Ridge Schools", "CO", "city", ["G06", "G07", "G08"], 2, "science"),
        ("Birch Vale District", "CO", "rural", ["K", "G01", "G02"], 1, "ela"),
        ("Heron Point Unified", "TX", "suburb", ["G09", "G10"], 3, "cs"),
    ]
    for index, (name, state, locale, grades, pillar, subject) in enumerate(districts):
        ids[name] = await factories.organization("district", name, f"d{index}", state=state)
        await factories.insert(
            DistrictProfile(
                organization=ids[name],
                nces_lea_id=f"480000{index}",
                locale=locale,
                enrollment=3000 * (index + 1),
                frl_share=0.4,
                el_share=0.1,
                swd_share=0.12,
                grades_served=grades,
                device_ratio=1.0,
                platforms=[],
            )
        )
        await factories.insert(
            Need(
                district=ids[name],
                title=f"Need of {name}",
                statement="Help wanted.",
                pillars=[pillar],
                grade_band="g68",
                subject=subject,
            )
        )
    products = [
        ("Lab Notebook", "Virtual science labs", ["g68"], ["science"], [5], people.vendor),
        ("Story Sprout", "Early reading stories", ["k2"], ["ela"], [1], people.vendor),
        ("Code Canyon", "Block coding for high school", ["g912"], ["cs"], [3], people.other_vendor),
    ]
    for name, description, bands, subjects, pillars, vendor in products:
        ids[name] = await factories.product(
            vendor,
            name,
            description=description,
            grade_bands=bands,
            subjects=subjects,
            pillars=pillars,
            platforms=[],
        )
    calls = [
        ("Lab Notebook call", "Lab Notebook", "open", ["G07"], ["science"], [5]),
        ("Story Sprout call", "Story Sprout", "matching", ["G01"], ["ela"], [1]),
        ("Code Canyon open call", "Code Canyon", "open", ["G10"], ["cs"], [3]),
        ("Code Canyon draft", "Code Canyon", "draft", ["G10"], ["cs"], [3]),
        ("Code Canyon active", "Code Canyon", "active", ["G11"], ["cs"], [3]),
    ]
    for title, product, status, grades, subjects, pillars in calls:
        ids[title] = await factories.pilot(
            ids[product],
            status,
            title=title,
            research_question=f"Does {product} help?",
            grades=grades,
            subjects=subjects,
            pillars=pillars,
            students_per_site=50,
            weeks=8,
        )
    return ids


@pytest.fixture
def catalog(call, people) -> dict[str, int]:
    return call(_seed_catalog, people)


DISTRICT_CASES = [
    ({"state": "CO"}, ["Aspen Ridge Schools", "Birch Vale District"]),
    ({"state": "co", "locale": "rural"}, ["Birch Vale District"]),
    ({"locale": "suburb"}, ["Heron Point Unified"]),
    ({"grade_band": "g68"}, ["Aspen Ridge Schools"]),
    ({"pillar": "3"}, ["Heron Point Unified"]),
    ({"subject": "science"}, ["Aspen Ridge Schools"]),
    ({"q": "VALE birch"}, ["Birch Vale District"]),
]


@pytest.mark.parametrize(("filters", "expected"), DISTRICT_CASES)
def test_district_filters_narrow_the_list_alike_in_html_and_json(
    client, catalog, filters, expected
):
    api = client.get("/api/v1/districts", params=filters).json()
    assert [item["name"] for item in api["items"]] == expected
    html = client.get("/districts", params=filters).text
    assert _ids(html, "districts") == [item["id"] for item in api["items"]]


PRODUCT_CASES = [
    ({"pillar": "5"}, ["Lab Notebook"]),
    ({"grade_band": "g35"}, ["MathQuest"]),
    ({"subject": "ela"}, ["Story Sprout"]),
    ({"q": "coding"}, ["Code Canyon"]),
    ({"q": "other co"}, ["Code Canyon"]),  # the vendor's name counts too
    ({"q": "stories early"}, ["Story Sprout"]),
    ({"q": "stories late"}, []),
]


@pytest.mark.parametrize(("filters", "expected"), PRODUCT_CASES)
def test_product_filters_and_search(client, catalog, filters, expected):
    api = client.get("/api/v1/products", params=filters).json()
    assert [item["name"] for item in api["items"]] == expected
    html = client.get("/products", params=filters).text
    assert _ids(html, "products") == [item["id"] for item in api["items"]]


PILOT_CASES = [
    ({"status": "open"}, ["Code Canyon open call", "Lab Notebook call", "MathQuest open pilot"]),
    ({"status": "matching"}, ["Story Sprout call"]),
    ({"pillar": "5"}, ["Lab Notebook call"]),
    ({"grade_band": "k2"}, ["Story Sprout call"]),
    (
        {"grade_band": "g35", "subject": "math"},
        ["MathQuest active pilot", "MathQuest open pilot", "MathQuest published pilot"],
    ),
    ({"q": "canyon"}, ["Code Canyon open call"]),
]


@pytest.mark.parametrize(("filters", "expected"), PILOT_CASES)
def test_pilot_filters_as_a_district_coordinator(client, catalog, filters, expected):
    sign_in(client, "district")
    api = client.get("/api/v1/pilots", params=filters).json()
    assert [item["title"] for item in api["items"]] == expected
    html = client.get("/pilots", params=filters).text
    assert _ids(html, "pilots") == [item["id"] for item in api["items"]]


def test_unknown_filter_values_are_refused(client, people):
    response = client.get("/api/v1/pilots", params={"status": "paused", "pillar": "9"})
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"status", "pillar"}
    assert client.get("/districts", params={"locale": "moon"}).status_code == 422


def test_pages_count_and_link_with_the_filters_kept(client, people, call):
    from testbed.tables import Product

    async def many_products() -> None:
        await Product.insert(
            *[
                Product(
                    vendor=people.vendor,
                    name=f"Widget {n:02d}",
                    description="Practice",
                    grade_bands=["g35"],
                    subjects=["math"],
                    pillars=[2],
                    platforms=[],
                )
                for n in range(30)
            ]
        )

    call(many_products)
    second = client.get("/products", params={"subject": "math", "per_page": 10, "page": 2})
    assert "Showing 11–20 of 31 products" in second.text
    assert 'href="?subject=math&amp;per_page=10&amp;page=1"' in second.text
    assert 'href="?subject=math&amp;per_page=10&amp;page=3"' in second.text
    last = client.get("/api/v1/products", params={"subject": "math", "per_page": 10, "page": 4})
    assert last.json()["total"] == 31 and len(last.json()["items"]) == 1
    page_html = client.get("/products", params={"subject": "math", "per_page": 10, "page": 4})
    assert "Showing 31–31 of 31" in page_html.text and "Next page" not in page_html.text
    # The OpenAPI document bounds per_page and page (1..100, 1..MAX_ID): beyond them is a 400.
    for beyond in ({"per_page": 500}, {"per_page": 0}, {"page": 0}, {"page": 2**31}):
        refused = client.get("/api/v1/products", params=beyond)
        assert refused.status_code == 400, beyond
        assert {error["key"] for error in refused.json()["errors"]} == set(beyond)
    assert client.get("/api/v1/products", params={"per_page": 100}).json()["per_page"] == 100
    names = [item["name"] for item in client.get("/api/v1/products?per_page=100").json()["items"]]
    assert names == sorted(names)


@pytest.mark.parametrize("role", ["anonymous", "district", "researcher", "other_vendor", "vendor"])
def test_the_list_shows_exactly_the_pilots_whose_page_opens(client, catalog, people, role):
    if role != "anonymous":
        sign_in(client, role)
    listed = {item["id"] for item in client.get("/api/v1/pilots?per_page=100").json()["items"]}
    every_pilot = [
        people.active_pilot,
        people.open_pilot,
        people.published_pilot,
        *(
            catalog[title]
            for title in (
                "Lab Notebook call",
                "Story Sprout call",
                "Code Canyon open call",
                "Code Canyon draft",
                "Code Canyon active",
            )
        ),
    ]
    reachable = {
        pilot_id
        for pilot_id in every_pilot
        if client.get(f"/api/v1/pilots/{pilot_id}").status_code == 200
    }
    assert listed == reachable
    if role == "vendor":
        # A competitor's open call, draft and active pilot are neither listed nor reachable.
        hidden = {
            catalog["Code Canyon open call"],
            catalog["Code Canyon draft"],
            catalog["Code Canyon active"],
        }
        assert not hidden & listed
        assert client.get(f"/pilots/{catalog['Code Canyon draft']}").status_code == 404
