"""Accounts through HTTP: sign-up, sign-in, sessions, CSRF, rate limits, tokens, invitations,
verification, roles and the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from litestar.testing import TestClient

from tests import factories
from tests.web.conftest import EMAILS, PASSWORD, csrf_token, other_browser, post_form, sign_in


def _signup(client, **overrides):
    form = {
        "name": "Morgan Lee",
        "email": "morgan@riverbend.example",
        "password": "granite-harbor-quill-7",
        "organization_kind": "district",
        "organization_name": "Riverbend Schools",
        "state": "oh",
    }
    return post_form(client, "/signup", {**form, **overrides})


def test_signup_creates_an_unverified_organization_with_the_user_as_admin(client, call):
    response = _signup(client)
    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/login?signed_up=1"
    assert "testbed_session" not in client.cookies
    landing = " ".join(client.get(response.headers["location"]).text.split())
    assert "Sign-up received" in landing and "follow its link to verify your address" in landing

    signed_in = post_form(
        client,
        "/login",
        {"email": "morgan@riverbend.example", "password": "granite-harbor-quill-7"},
    )
    assert signed_in.status_code in (302, 303)
    page = client.get("/account")
    assert page.status_code == 200
    assert "Riverbend Schools" in page.text
    assert "not yet verified" in page.text
    me = client.get("/api/v1/me").json()
    assert me["memberships"][0]["kind"] == "district"
    assert me["memberships"][0]["role"] == "admin"
    assert me["memberships"][0]["verified"] is False


def test_signup_with_weak_password_shows_the_error_and_keeps_what_was_typed(client):
    response = _signup(client, password="password2026!")
    assert response.status_code == 422
    assert "commonly used password" in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="Morgan Lee"' in response.text
    assert "password2026!" not in response.text


def test_signup_refuses_a_bad_state(client):
    bad_state = _signup(client, state="Ohio")
    assert bad_state.status_code == 422
    assert "two-letter state code" in bad_state.text


def _answer(response) -> tuple:
    """What a visitor can see of an answer, but for the values of cookies."""
    headers = sorted(
        (name, value.split("=", 1)[0] if name == "set-cookie" else value)
        for name, value in response.headers.multi_items()
        if name not in {"date", "content-length"}
    )
    return response.status_code, headers, response.text


def test_signup_with_a_taken_address_answers_exactly_as_for_a_new_one(client, call, people):
    """Sign-up does not tell who has an account: a taken address gets the same answer as a
    new one (it used to be a 409 "already exists"), and nothing is created or changed."""
    from testbed.tables import AuditEvent, Organization, User

    before = call(lambda: Organization.count())
    with other_browser(client) as browser:
        new = _signup(browser, email="fresh@riverbend.example")
    with other_browser(client) as browser:
        taken = _signup(browser, email=EMAILS["vendor"].upper())
    assert _answer(taken) == _answer(new)
    assert call(lambda: Organization.count()) == before + 1
    assert call(lambda: User.count().where(User.email == EMAILS["vendor"])) == 1
    # The owner's password is untouched: it still signs in, the one typed at sign-up does not.
    assert (
        post_form(
            client, "/login", {"email": EMAILS["vendor"], "password": "granite-harbor-quill-7"}
        ).status_code
        == 400
    )
    sign_in(client, "vendor")
    attempted = call(
        lambda: (
            AuditEvent.select(AuditEvent.detail)
            .where(AuditEvent.action == "signup_for_existing_account")
            .output(load_json=True)
        )
    )
    assert attempted == [{"detail": {"email": EMAILS["vendor"]}}]


def test_an_unknown_address_is_checked_against_a_dummy_hash(client, people, monkeypatch):
    """An unknown address costs a password check too (against a dummy hash), so the time of
    the answer does not tell whether an account exists; the answer is the same words."""
    from testbed.accounts import services
    from testbed.accounts.passwords import dummy_password_hash

    checked: list[str] = []
    real_verify = services.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(services, "verify_password", counting_verify)
    unknown = post_form(
        client, "/login", {"email": "nobody@nowhere.example", "password": "wrong-wrong-wrong"}
    )
    known = post_form(
        client, "/login", {"email": EMAILS["vendor"], "password": "wrong-wrong-wrong"}
    )
    assert unknown.status_code == known.status_code == 400
    assert unknown.text.replace("nobody@nowhere.example", "") == known.text.replace(
        EMAILS["vendor"], ""
    )
    assert len(checked) == 2
    assert checked[0] == dummy_password_hash()
    assert checked[1] != dummy_password_hash()
    assert checked[0].split("$")[:4] == checked[1].split("$")[:4]  # same algorithm and cost


def test_session_cookie_is_httponly_and_samesite(client, people):
    response = post_form(client, "/login", {"email": EMAILS["vendor"], "password": PASSWORD})
    assert response.status_code in (302, 303)
    cookie = next(
        value
        for key, value in response.headers.multi_items()
        if key == "set-cookie" and value.startswith("testbed_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookies_when_served_over_https(settings):
    from dataclasses import replace

    from testbed.app import create_app

    with TestClient(create_app(replace(settings, secure_cookies=True))) as client:
        response = client.get("/login")
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_is_refused_with_a_clear_message(client, people):
    response = post_form(
        client, "/login", {"email": EMAILS["vendor"], "password": "nope-nope-nope"}
    )
    assert response.status_code == 400
    assert "email or password is not right" in response.text
    assert client.get("/account", follow_redirects=False).status_code in (302, 303)


def test_form_without_csrf_token_is_refused(client, people):
    client.get("/login")
    response = client.post(
        "/login", data={"email": EMAILS["vendor"], "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403


def test_login_redirects_back_but_never_off_site(client, people):
    response = post_form(
        client,
        "/login",
        {"email": EMAILS["vendor"], "password": PASSWORD, "next": "https://evil.example/x"},
    )
    assert response.headers["location"] == "/work"
    client.cookies.clear()
    response = post_form(
        client, "/login", {"email": EMAILS["vendor"], "password": PASSWORD, "next": "/admin"}
    )
    assert response.headers["location"] == "/admin"


def test_anonymous_member_page_redirects_to_login_and_api_answers_401(client):
    page = client.get("/account", follow_redirects=False)
    assert page.status_code in (302, 303)
    assert page.headers["location"] == "/login?next=/account"
    api = client.get("/api/v1/me")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"


def test_logout_revokes_the_session_on_the_server(client, people):
    sign_in(client, "vendor")
    stolen = client.cookies["testbed_session"]
    assert client.get("/account").status_code == 200

    assert post_form(client, "/logout").status_code in (302, 303)

    with other_browser(client) as replay:
        replay.cookies.set("testbed_session", stolen, domain="testserver.local")
        assert replay.get("/account", follow_redirects=False).status_code in (302, 303)


def test_an_expired_session_signs_out_and_is_deleted(client, people, call):
    from testbed.tables import SessionRecord

    sign_in(client, "vendor")
    key = client.cookies["testbed_session"]
    assert client.get("/api/v1/me").json()["email"] == EMAILS["vendor"]
    expiry = call(lambda: SessionRecord.select(SessionRecord.expires_at).first())["expires_at"]
    assert timedelta(days=13) < expiry - datetime.now(UTC) <= timedelta(days=14)

    call(
        lambda: SessionRecord.update(
            {SessionRecord.expires_at: datetime.now(UTC) - timedelta(seconds=1)}
        ).where(SessionRecord.key == key)
    )
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/account", follow_redirects=False).status_code in (302, 303)
    assert call(lambda: SessionRecord.count().where(SessionRecord.key == key)) == 0


def test_sign_in_issues_a_new_session_id(client, people):
    client.cookies.set("testbed_session", "planted-by-an-attacker", domain="testserver.local")
    sign_in(client, "vendor")
    assert client.cookies["testbed_session"] != "planted-by-an-attacker"
    assert client.get("/api/v1/me").json()["email"] == EMAILS["vendor"]


def test_session_survives_a_restart_of_the_app(settings):
    from testbed.app import create_app
    from tests.web.conftest import seed_people

    with TestClient(create_app(settings)) as before:
        before.blocking_portal.call(seed_people)
        sign_in(before, "vendor")
        session = before.cookies["testbed_session"]
    with TestClient(create_app(settings)) as restarted:
        restarted.cookies.set("testbed_session", session, domain="testserver.local")
        assert restarted.get("/api/v1/me").json()["email"] == EMAILS["vendor"]


def test_too_many_failed_logins_for_an_account_are_refused_even_with_the_right_password(
    client, people
):
    for _ in range(5):
        post_form(client, "/login", {"email": EMAILS["vendor"], "password": "wrong-wrong-wrong"})
    response = post_form(client, "/login", {"email": EMAILS["vendor"], "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins for this account" in response.text
    other = post_form(client, "/login", {"email": EMAILS["district"], "password": PASSWORD})
    assert other.status_code in (302, 303)


def test_too_many_failed_logins_from_one_address_are_refused(client, people):
    for number in range(20):
        post_form(
            client, "/login", {"email": f"guess{number}@x.example", "password": "wrong-wrong-wrong"}
        )
    response = post_form(client, "/login", {"email": EMAILS["district"], "password": PASSWORD})
    assert response.status_code == 429
    assert "from your network address" in response.text


def test_access_token_life_cycle(client, people):
    sign_in(client, "district")
    page = post_form(client, "/account/tokens", {"name": "nightly upload"})
    assert page.status_code == 200
    token = re.search(r"<code>(tb_[A-Za-z0-9_\-]+)</code>", page.text).group(1)
    assert "shown only once" in page.text
    assert token not in client.get("/account").text

    headers = {"Authorization": f"Bearer {token}"}
    with other_browser(client) as script:
        assert script.get("/api/v1/me", headers=headers).json()["email"] == EMAILS["district"]
        listed = script.get("/api/v1/tokens", headers=headers).json()
        assert [t["name"] for t in listed] == ["nightly upload"]
        assert "token" not in listed[0]

    revoke = post_form(client, f"/account/tokens/{listed[0]['id']}/revoke")
    assert revoke.status_code in (302, 303)
    with other_browser(client) as script:
        refused = script.get("/api/v1/me", headers=headers)
        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]


def test_tokens_through_the_api_and_writes_need_a_token_not_a_session(client, people):
    sign_in(client, "vendor")
    with_session = client.post("/api/v1/tokens", json={"name": "ci"})
    assert with_session.status_code == 401

    token_id, token = client.blocking_portal.call(_make_token, people.vendor_user)
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/tokens", json={"name": "second"}, headers=headers)
    assert created.status_code == 201
    second = created.json()
    assert second["token"].startswith("tb_")
    assert client.delete(f"/api/v1/tokens/{second['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/tokens/{second['id']}", headers=headers).status_code == 404
    assert client.post("/api/v1/tokens", json={"name": ""}, headers=headers).status_code == 422
    assert client.post("/api/v1/tokens", json={"nom": 1}, headers=headers).status_code == 400
    bogus = {"Authorization": "Bearer tb_not-a-real-token"}
    assert client.get("/api/v1/me", headers=bogus).status_code == 401


async def _make_token(user_id: int):
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal

    return await create_access_token(await load_principal(user_id), "test")


def _invitation_path(client, people, email: str = "colleague@brightpath.example") -> str:
    page = post_form(
        client, f"/organizations/{people.vendor}/invitations", {"email": email, "role": "member"}
    )
    assert page.status_code == 200
    assert "7 days" in page.text
    link = re.search(r"<code>(http[^<]+/invitations/[^<]+)</code>", page.text).group(1)
    return urlsplit(link).path


def _join(browser, path: str, email: str = "colleague@brightpath.example"):
    return post_form(
        browser,
        "/signup",
        {
            "invitation": path.rsplit("/", 1)[-1],
            "name": "Cole League",
            "email": email,
            "password": "meadow-copper-violin-3",
        },
    )


def test_invitation_lets_a_colleague_join_the_organization(client, people):
    sign_in(client, "vendor")
    path = _invitation_path(client, people)

    with other_browser(client) as colleague:
        page = colleague.get(path).text
        assert "Join Brightpath Learning" in page
        assert "colleague@brightpath.example" in page and "7 days" in page
        joined = _join(colleague, path)
        assert joined.status_code in (302, 303)
        login = joined.headers["location"]
        assert login == f"/login?signed_up=1&next={path}"
        signed_in = post_form(
            colleague,
            "/login",
            {
                "email": "colleague@brightpath.example",
                "password": "meadow-copper-violin-3",
                "next": path,
            },
        )
        assert signed_in.headers["location"] == path
        me = colleague.get("/api/v1/me").json()
        assert [(m["name"], m["role"]) for m in me["memberships"]] == [
            ("Brightpath Learning", "member")
        ]
        # The used link takes a member to the organization; to anyone else it is gone.
        assert colleague.get(path, follow_redirects=False).headers["location"] == (
            f"/organizations/{people.vendor}/members"
        )
        colleague.cookies.clear()
        assert colleague.get(path).status_code == 404

    members = client.get(f"/organizations/{people.vendor}/members").text
    assert "colleague@brightpath.example" in members


def test_an_invitation_is_accepted_only_by_the_invited_address(client, people, call):
    from testbed.tables import Membership, User

    sign_in(client, "vendor")
    path = _invitation_path(client, people)
    with other_browser(client) as stranger:
        refused = _join(stranger, path, email="someone-else@elsewhere.example")
        assert refused.status_code == 422
        assert "This invitation was sent to colleague@brightpath.example" in refused.text
        assert call(lambda: User.count().where(User.email == "someone-else@elsewhere.example")) == 0

        # Signed in as another account: the page says so, and accepting is refused.
        sign_in(stranger, "district")
        page = stranger.get(path).text
        assert "but this invitation is for colleague@brightpath.example" in page
        accepted = post_form(stranger, f"{path}/accept")
        assert accepted.status_code == 403
        assert "only that address can accept it" in accepted.text
    assert (
        call(
            lambda: Membership.count().where(
                (Membership.user == people.district_user)
                & (Membership.organization == people.vendor)
            )
        )
        == 0
    )


def test_an_invitation_expires_after_seven_days(client, people, call):
    from testbed.tables import Invitation

    sign_in(client, "vendor")
    path = _invitation_path(client, people)
    call(
        lambda: Invitation.update(
            {Invitation.created_at: datetime.now(UTC) - timedelta(days=7, seconds=1)}
        ).where(Invitation.id > 0)
    )
    with other_browser(client) as colleague:
        page = colleague.get(path)
        assert page.status_code == 410
        assert "This invitation expired on" in page.text
        assert "invitations last 7 days" in page.text
        assert "Ask an administrator of Brightpath Learning for a new one" in page.text
        joined = _join(colleague, path)
        assert joined.status_code == 410
        assert "expired" in joined.text
    assert call(lambda: Invitation.select(Invitation.accepted_at).first())["accepted_at"] is None

    # Just inside the seven days it still works.
    call(
        lambda: Invitation.update(
            {Invitation.created_at: datetime.now(UTC) - timedelta(days=6, hours=23)}
        ).where(Invitation.id > 0)
    )
    with other_browser(client) as colleague:
        assert colleague.get(path).status_code == 200
        assert _join(colleague, path).status_code in (302, 303)


def test_only_organization_admins_invite(client, people, call):
    from testbed.tables import Membership

    call(
        lambda: Membership.update({Membership.role: "member"}).where(
            Membership.user == people.vendor_user
        )
    )
    sign_in(client, "vendor")
    response = post_form(
        client, f"/organizations/{people.vendor}/invitations", {"email": "x@y.example"}
    )
    assert response.status_code == 403
    assert "administrators" in response.text


def test_members_of_other_organizations_cannot_see_the_member_list(client, people):
    sign_in(client, "other_vendor")
    assert client.get(f"/organizations/{people.vendor}/members").status_code == 403
    assert client.get("/organizations/999999/members").status_code == 403


def test_the_last_admin_cannot_be_demoted(client, people, call):
    from testbed.tables import Membership

    membership = call(
        lambda: (
            Membership.select(Membership.id).where(Membership.user == people.vendor_user).first()
        )
    )
    sign_in(client, "vendor")
    response = post_form(
        client,
        f"/organizations/{people.vendor}/members/{membership['id']}/role",
        {"role": "member"},
    )
    assert response.status_code == 409
    assert "at least one administrator" in response.text


def test_network_admin_verifies_an_organization_and_sees_the_audit_log(client, people):
    sign_in(client, "unverified")
    assert client.get("/api/v1/me").json()["memberships"][0]["verified"] is False
    client.cookies.clear()

    sign_in(client, "admin")
    admin_page = client.get("/admin")
    assert "Fresh Vendor" in admin_page.text
    assert post_form(
        client, f"/admin/organizations/{people.unverified_vendor}/verify"
    ).status_code in (302, 303)
    audit = client.get("/admin?action=organization_verified").text
    assert "organization_verified" in audit
    assert "admin@network.example" in audit
    log = client.get("/admin").text
    assert "login" in log

    with other_browser(client) as member:
        sign_in(member, "unverified")
        assert member.get("/api/v1/me").json()["memberships"][0]["verified"] is True


def test_failed_logins_and_token_events_are_audited(client, people, call):
    from testbed.tables import AuditEvent

    post_form(client, "/login", {"email": EMAILS["vendor"], "password": "not-the-password"})
    sign_in(client, "vendor")
    post_form(client, "/account/tokens", {"name": "audit me"})
    actions = [row["action"] for row in call(lambda: AuditEvent.select(AuditEvent.action))]
    assert {"login_failed", "login", "token_created"} <= set(actions)


def test_non_admins_get_a_friendly_403_page_on_admin_pages(client, people):
    sign_in(client, "district")
    response = client.get("/admin")
    assert response.status_code == 403
    assert "You do not have access to this" in response.text
    assert "network administrators" in response.text


def test_vendor_gives_a_researcher_a_role_on_its_pilot(client, people):
    sign_in(client, "vendor")
    team = f"/pilots/{people.open_pilot}/team"
    added = post_form(client, team, {"email": EMAILS["researcher"], "role": "researcher"})
    assert added.status_code in (302, 303)
    assert "Rae Researcher" in client.get(team).text
    again = post_form(client, team, {"email": EMAILS["researcher"], "role": "researcher"})
    assert again.status_code == 409
    unknown = post_form(client, team, {"email": "nobody@x.example", "role": "researcher"})
    assert unknown.status_code == 422
    # The same words as for an account outside research: the form does not say who has one.
    outsider = post_form(client, team, {"email": EMAILS["other_vendor"], "role": "researcher"})
    assert outsider.status_code == 422
    for answer in (unknown, outsider):
        assert "Roles on a pilot are for researchers" in answer.text


def test_a_grant_that_loses_the_race_to_the_same_role_is_a_conflict(
    client, people, call, monkeypatch
):
    """Two grants for one person checked at the same moment: the database's unique index
    refuses the second write, which is answered 409 like any repeated grant (not a 500)."""
    from testbed.accounts import services
    from testbed.tables import PilotRole

    sign_in(client, "vendor")
    team = f"/pilots/{people.open_pilot}/team"
    form = {"email": EMAILS["researcher"], "role": "researcher"}
    assert post_form(client, team, form).status_code in (302, 303)

    async def not_yet(pilot_id: int, user_id: int) -> bool:
        return False  # the check ran before the other grant's write

    monkeypatch.setattr(services, "has_pilot_role", not_yet)
    lost = post_form(client, team, {**form, "role": "observer"})
    assert lost.status_code == 409
    assert "already has a role on this pilot" in lost.text
    api = client.post(
        f"/api/v1/pilots/{people.open_pilot}/roles",
        json=form,
        headers={"Authorization": f"Bearer {call(_make_token, people.vendor_user)[1]}"},
    )
    assert api.status_code == 409
    assert api.headers["content-type"] == "application/problem+json"
    roles = call(
        lambda: PilotRole.select(PilotRole.role).where(
            (PilotRole.pilot == people.open_pilot) & (PilotRole.user == people.researcher)
        )
    )
    assert roles == [{"role": "researcher"}]


def test_another_vendor_cannot_find_a_pilot_by_guessing_its_id(client, people):
    sign_in(client, "other_vendor")
    for pilot in (people.active_pilot, people.open_pilot):
        assert client.get(f"/pilots/{pilot}/team").status_code == 404
    token_headers = {"X-CSRFToken": csrf_token(client)}
    assert (
        client.get(f"/api/v1/pilots/{people.active_pilot}/roles", headers=token_headers).status_code
        == 404
    )


def test_browsing_writes_no_session_rows(client, people, call):
    from testbed.tables import SessionRecord

    for path in ("/", "/login", "/products", "/pilots"):
        client.get(path)
    assert call(SessionRecord.count) == 0
    sign_in(client, "vendor")
    stored = call(lambda: SessionRecord.select(SessionRecord.value).first())
    for path in ("/account", "/", "/api/v1/me"):
        assert client.get(path).status_code == 200
    assert call(SessionRecord.count) == 1
    assert call(lambda: SessionRecord.select(SessionRecord.value).first()) == stored


def test_the_principal_is_read_whole_in_one_statement(people, call):
    """Who is asking, as every request reads it: flags as booleans on both databases, each
    membership with its organization, the unread count, and nobody for an inactive account."""
    from testbed.auth import load_principal
    from testbed.tables import Membership, Notification, User

    call(lambda: factories.membership(people.district_user, people.vendor, role="member"))
    for i in range(3):
        call(lambda i=i: factories.notification(people.district_user, message=f"n{i}"))
    call(
        lambda: Notification.update({Notification.read_at: Notification.created_at}).where(
            Notification.message == "n0"
        )
    )
    dana = call(lambda: load_principal(people.district_user))
    assert (dana.name, dana.email) == ("Dana District", EMAILS["district"])
    assert dana.is_network_admin is False
    assert dana.unread_notifications == 2
    assert [(m.organization_id, m.kind, m.name, m.role) for m in dana.memberships] == [
        (people.district, "district", "Cedar Hollow Unified", "admin"),
        (people.vendor, "vendor", "Brightpath Learning", "member"),
    ]
    assert all(m.verified is True for m in dana.memberships)
    assert call(lambda: load_principal(people.unverified_user)).memberships[0].verified is False
    admin = call(lambda: load_principal(people.admin))
    assert admin.is_network_admin is True and admin.unread_notifications == 0

    call(lambda: Membership.delete().where(Membership.user == people.researcher))
    assert call(lambda: load_principal(people.researcher)).memberships == ()
    call(lambda: User.update({User.active: False}).where(User.id == people.researcher))
    assert call(lambda: load_principal(people.researcher)) is None


def test_an_organization_without_members_says_so_instead_of_an_empty_table(client, call, people):
    """Once its last member deleted their account an organization has no one; the page said
    so with an empty table (axe: a header with no data cells)."""
    from tests import factories

    empty = call(factories.organization, "district", name="Quiet Hollow Schools")
    sign_in(client, "admin")
    page = client.get(f"/organizations/{empty}/members")
    assert page.status_code == 200
    assert "No one is a member of this organization now." in page.text
    assert "<caption>Members</caption>" not in page.text


def test_the_invitation_link_starts_with_the_configured_address_not_the_host_header(client, people):
    """Found by an outside check: the link shown to the inviting admin was built from the
    request's Host header, which whoever sends the request chooses."""
    sign_in(client, "vendor")
    page = post_form(
        client,
        f"/organizations/{people.vendor}/invitations",
        {"email": "colleague@brightpath.example", "role": "member"},
        headers={"Host": "evil.example"},
    )
    assert page.status_code == 200
    base = client.app.state["settings"].base_url
    assert f"<code>{base}/invitations/" in page.text and "evil.example" not in page.text
