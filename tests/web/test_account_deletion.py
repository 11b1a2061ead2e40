"""Deleting one's own account through the pages: what the person wrote stays, attributed to
"a former member"; sessions and tokens end; the address is freed and kept nowhere; the last
administrator of an organization with other members is refused, told whom to promote."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from testbed.tables import (
    AuditEvent,
    Invitation,
    LoginAttempt,
    Membership,
    PilotRole,
    User,
)
from tests import factories
from tests.web.conftest import (
    EMAILS,
    PASSWORD,
    other_browser,
    post_form,
    sign_in,
)
from tests.web.findings_data import design_document
from tests.web.test_designs import bearer, token_for


def delete(client, password=PASSWORD, confirm=True):
    data = {"delete_password": password}
    if confirm:
        data["confirm"] = "yes"
    return post_form(client, "/account/delete", data)


async def _authored_design(pilot_id: int, author: int) -> None:
    await factories.design(
        pilot_id,
        design_document(),
        registered=False,
        author=author,
        created_at=datetime.now(UTC),
    )


def test_delete_account_end_to_end(client, call, people):
    call(_authored_design, people.active_pilot, people.researcher)
    token = token_for(call, people.researcher)
    # A failed sign-in left the address in the audit log's details.
    post_form(client, "/login", {"email": EMAILS["researcher"], "password": "not-it-at-all"})
    with other_browser(client):
        sign_in(client, "researcher")  # a session elsewhere
        elsewhere = dict(client.cookies)
    sign_in(client, "researcher")
    page = client.get("/account")
    assert 'action="/account/delete"' in page.text and 'name="confirm"' in page.text
    done = delete(client)
    assert done.status_code == 200 and "Your account is deleted" in done.text
    assert "Rae Researcher" not in done.text and "Sign out" not in done.text
    # Signed out here and elsewhere; the token is dead.
    assert client.get("/account", follow_redirects=False).status_code in (302, 303)
    with other_browser(client):
        client.cookies.update(elsewhere)
        assert client.get("/account", follow_redirects=False).status_code in (302, 303)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    # What they wrote stays, by "a former member", on the page and in the API.
    sign_in(client, "vendor")
    design = client.get(f"/pilots/{people.active_pilot}/design")
    assert design.status_code == 200
    assert "a former member" in design.text and "Rae Researcher" not in design.text
    # Nothing identifying is kept: not the address, not the name.
    row = call(lambda: User.select().where(User.id == people.researcher).first())
    assert row["email"] == f"deleted-account-{people.researcher}" and "@" not in row["email"]
    assert row["name"] == "a former member" and row["active"] is False
    assert row["deleted_at"] is not None
    assert call(lambda: Membership.count().where(Membership.user == people.researcher)) == 0
    assert call(lambda: PilotRole.count().where(PilotRole.user == people.researcher)) == 0
    assert call(lambda: LoginAttempt.count().where(LoginAttempt.email == EMAILS["researcher"])) == 0
    events = call(lambda: AuditEvent.select(AuditEvent.action, AuditEvent.detail))
    assert EMAILS["researcher"] not in json.dumps(events, default=str)
    assert "account_deleted" in [event["action"] for event in events]
    # The admin's audit log names no placeholder.
    with other_browser(client):
        sign_in(client, "admin")
        audit = client.get("/admin?action=account_deleted")
        assert "a former member" in audit.text
        assert f"deleted-account-{people.researcher}" not in audit.text
    # The address is free: a new account can be made with it.
    with other_browser(client):
        signed_up = post_form(
            client,
            "/signup",
            {
                "name": "Rae Again",
                "email": EMAILS["researcher"],
                "password": "granite-harbor-quill-7",
                "organization_kind": "research",
                "organization_name": "Rae Lab",
            },
        )
        assert signed_up.status_code in (302, 303)
    assert call(lambda: User.count().where(User.email == EMAILS["researcher"])) == 1
    # The old password does not sign in to the new account (nor to anything).
    again = post_form(client, "/login", {"email": EMAILS["researcher"], "password": PASSWORD})
    assert again.status_code == 400


async def _second_vendor_member() -> int:
    return await factories.user("sam@brightpath.example", "Sam Second")


def test_the_last_admin_of_an_organization_with_members_is_refused(client, call, people):
    sam = call(_second_vendor_member)
    call(lambda: factories.membership(sam, people.vendor, role="member"))
    sign_in(client, "vendor")
    refused = delete(client)
    assert refused.status_code == 409
    assert "only administrator of Brightpath Learning" in refused.text
    assert "Sam Second" in refused.text
    assert f"/organizations/{people.vendor}/members" in refused.text
    assert client.get("/account").status_code == 200  # still here
    # Once Sam is an administrator too, the account can go.
    membership = call(lambda: Membership.select(Membership.id).where(Membership.user == sam))
    promoted = post_form(
        client,
        f"/organizations/{people.vendor}/members/{membership[0]['id']}/role",
        {"role": "admin"},
    )
    assert promoted.status_code in (302, 303)
    assert delete(client).status_code == 200
    assert call(lambda: Membership.count().where(Membership.organization == people.vendor)) == 1


def test_deletion_needs_the_password_and_the_box_ticked(client, call, people):
    sign_in(client, "district")
    wrong = delete(client, password="not-my-password")
    assert wrong.status_code == 422 and "This is not your password." in wrong.text
    unticked = delete(client, confirm=False)
    assert unticked.status_code == 422 and "Tick the box to confirm" in unticked.text
    assert client.get("/account").status_code == 200
    assert call(lambda: User.count().where(User.email == EMAILS["district"])) == 1
    actions = call(lambda: AuditEvent.select(AuditEvent.action).output(as_list=True))
    assert "account_deletion_failed" in actions
    with other_browser(client):
        signed_out = delete(client)
        assert signed_out.status_code in (302, 303)
        assert signed_out.headers["location"].startswith("/login")


def test_an_unverified_person_may_delete_their_account(client, call, people):
    call(
        lambda: User.update({User.email_verified_at: None}).where(
            User.id == people.other_vendor_user
        )
    )
    call(
        lambda: factories.invitation(
            people.vendor, EMAILS["other_vendor"], people.vendor_user, token_hash="0" * 64
        )
    )
    sign_in(client, "other_vendor")
    assert delete(client).status_code == 200
    assert call(lambda: Invitation.count().where(Invitation.email == EMAILS["other_vendor"])) == 0
