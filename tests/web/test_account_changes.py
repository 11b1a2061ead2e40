"""Changing one's address and profile on the account page, through the pages and a real SMTP
server: the change of address applies only when the link mailed to the new address is
followed, the old address is told, and a taken address is not revealed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from testbed.tables import AuditEvent, EmailToken, User
from tests.web import test_account_verification as verification
from tests.web.conftest import EMAILS, PASSWORD, other_browser, post_form, sign_in
from tests.web.test_account_verification import deliver, link_in, received, sign_in_as

# A real SMTP server, and the app sending to it.
smtp = verification.smtp
app = verification.app

NEW_ADDRESS = "dana.d@cedar-mail.example"
CONFIRM_LINK = re.compile(r"(https?://\S+)(/email/confirm/[A-Za-z0-9_-]+)")
CONFIRM_SUBJECT = "Confirm your new address for Testbed"
REQUESTED_SUBJECT = "A change of your Testbed address was asked for"


def ask_to_change(client, new_email=NEW_ADDRESS, password=PASSWORD):
    return post_form(client, "/account/email", {"new_email": new_email, "email_password": password})


def confirm_link(client, call, smtp, to=NEW_ADDRESS) -> str:
    deliver(client, call)
    [message] = received(smtp, CONFIRM_SUBJECT, to)
    return link_in(message, CONFIRM_LINK)


def test_change_of_address_end_to_end(client, call, smtp, people):
    sign_in(client, "district")
    asked = ask_to_change(client)
    assert asked.status_code in (302, 303) and asked.headers["location"] == "/account#email"
    page = client.get("/account")
    assert f"We sent a link to {NEW_ADDRESS}" in page.text
    # Nothing changes until the link is followed.
    assert client.get("/api/v1/me").json()["email"] == EMAILS["district"]
    path = confirm_link(client, call, smtp)
    [notice] = received(smtp, REQUESTED_SUBJECT, EMAILS["district"])
    assert NEW_ADDRESS in notice.get_body(("plain",)).get_content()
    # The link opens a page asking to confirm (a mail scanner opening it changes nothing)...
    with other_browser(client):
        confirm_page = client.get(path)
        assert confirm_page.status_code == 200 and NEW_ADDRESS in confirm_page.text
        assert client.get(path).status_code == 200
        # ... and the button changes the address (from any browser: the link is the proof).
        done = post_form(client, path)
        assert done.status_code in (302, 303) and done.headers["location"] == "/account#email"
        assert f"Your address is now {NEW_ADDRESS}" in client.get("/account").text
        assert post_form(client, path).status_code == 410  # once
    me = client.get("/api/v1/me").json()
    assert me["email"] == NEW_ADDRESS and me["email_verified"] is True
    # The old address is told; the new one signs in, the old one no longer does.
    deliver(client, call)
    [changed] = received(smtp, "Your Testbed address was changed", EMAILS["district"])
    assert NEW_ADDRESS in changed.get_body(("plain",)).get_content()
    with other_browser(client):
        old = post_form(client, "/login", {"email": EMAILS["district"], "password": PASSWORD})
        assert old.status_code == 400
        sign_in_as(client, NEW_ADDRESS, PASSWORD)
    actions = call(lambda: AuditEvent.select(AuditEvent.action).output(as_list=True))
    assert "email_change_requested" in actions and "email_changed" in actions


def test_a_taken_address_is_not_revealed(client, call, smtp, people):
    sign_in(client, "district")
    free = ask_to_change(client, "free@cedar-mail.example")
    taken = ask_to_change(client, EMAILS["vendor"])
    assert free.status_code == taken.status_code
    assert free.headers["location"] == taken.headers["location"]
    page = client.get("/account")
    # Both answers said the same (two flash messages in a row are both kept).
    assert "We sent a link to free@cedar-mail.example" in page.text
    assert f"We sent a link to {EMAILS['vendor']}" in page.text
    deliver(client, call)
    # The owner of the taken address hears that it already has an account; no link.
    [told] = received(
        smtp, "Someone tried to move a Testbed account to your address", EMAILS["vendor"]
    )
    assert "/email/confirm/" not in told.get_body(("plain",)).get_content()
    assert received(smtp, CONFIRM_SUBJECT, EMAILS["vendor"]) == []
    assert len(received(smtp, CONFIRM_SUBJECT, "free@cedar-mail.example")) == 1
    # The current address hears of both requests.
    assert len(received(smtp, REQUESTED_SUBJECT, EMAILS["district"])) == 2
    assert call(lambda: User.count().where(User.email == EMAILS["vendor"])) == 1


def test_an_address_taken_after_the_link_was_sent_is_refused(client, call, smtp, people):
    sign_in(client, "district")
    ask_to_change(client)
    path = confirm_link(client, call, smtp)
    call(lambda: User.update({User.email: NEW_ADDRESS}).where(User.id == people.vendor_user))
    refused = post_form(client, path)
    assert refused.status_code == 409 and "was not changed" in refused.text
    assert client.get("/api/v1/me").json()["email"] == EMAILS["district"]


def test_change_of_address_needs_the_password_and_a_valid_new_address(client, call, smtp, people):
    sign_in(client, "district")
    wrong = ask_to_change(client, password="not-my-password-at-all")
    assert wrong.status_code == 422
    assert "This is not your password." in wrong.text
    assert f'value="{NEW_ADDRESS}"' in wrong.text  # what was typed stays, the password not
    bad = ask_to_change(client, "not-an-address")
    assert bad.status_code == 422 and "Enter a valid email address." in bad.text
    same = ask_to_change(client, EMAILS["district"].upper())
    assert same.status_code == 422 and "already your address" in same.text
    deliver(client, call)
    assert smtp.inbox.messages == []
    actions = call(lambda: AuditEvent.select(AuditEvent.action).output(as_list=True))
    assert "email_change_failed" in actions
    # Signed out: sign in first.
    with other_browser(client):
        signed_out = ask_to_change(client)
        assert signed_out.status_code in (302, 303)
        assert signed_out.headers["location"].startswith("/login")


def test_change_links_expire_and_a_new_one_ends_the_old(client, call, smtp, people):
    sign_in(client, "district")
    ask_to_change(client)
    first = confirm_link(client, call, smtp)
    smtp.inbox.messages.clear()
    ask_to_change(client, "second@cedar-mail.example")
    second = confirm_link(client, call, smtp, to="second@cedar-mail.example")
    assert client.get(first).status_code == 410
    call(
        lambda: EmailToken.update(
            {EmailToken.expires_at: datetime.now(UTC) - timedelta(minutes=1)}, force=True
        )
    )
    expired = post_form(client, second)
    assert expired.status_code == 410 and "expired" in expired.text
    assert client.get("/verify/x").status_code == 404
    assert client.get("/email/confirm/unknown-token").status_code == 404


def test_edit_profile(client, call, people):
    sign_in(client, "district")
    page = client.get("/account")
    assert 'value="Dana District"' in page.text
    saved = post_form(client, "/account/profile", {"display_name": "  Dana   Dale "})
    assert saved.status_code in (302, 303) and saved.headers["location"] == "/account#profile"
    page = client.get("/account")
    assert "Your profile is saved." in page.text
    assert client.get("/api/v1/me").json()["name"] == "Dana Dale"
    # The flash shows once.
    assert "Your profile is saved." not in client.get("/account").text
    empty = post_form(client, "/account/profile", {"display_name": "   "})
    assert empty.status_code == 422
    assert 'id="e-display_name"' in empty.text and "Enter your name" in empty.text
    long = post_form(client, "/account/profile", {"display_name": "x" * 121})
    assert long.status_code == 422 and "at most 120 characters" in long.text
    assert client.get("/api/v1/me").json()["name"] == "Dana Dale"
    assert "profile_updated" in call(
        lambda: AuditEvent.select(AuditEvent.action).output(as_list=True)
    )
    with other_browser(client):
        anonymous = post_form(client, "/account/profile", {"display_name": "Mallory"})
        assert anonymous.status_code in (302, 303)
        assert anonymous.headers["location"].startswith("/login")
    assert client.get("/api/v1/me").json()["name"] == "Dana Dale"


def test_account_forms_say_saved_on_the_next_page(client, call, smtp, people):
    sign_in(client, "district")
    created = post_form(client, "/account/tokens", {"name": "nightly"})
    # A new token is shown on the answer itself, once: it is never put in the session.
    assert created.status_code == 200 and "Your new token:" in created.text
    token_id = call(lambda: User.raw("SELECT id FROM access_token"))[0]["id"]
    revoked = post_form(client, f"/account/tokens/{token_id}/revoke")
    assert revoked.status_code in (302, 303)
    assert "Token revoked" in client.get("/account").text


def test_address_change_requests_are_limited(client, call, smtp, people):
    """Found by an outside check: 24 requests in a few seconds mailed 24 strangers and 24
    notices; each request mails an address the requester chooses, so it is limited like
    password resets (5 an account in 15 minutes)."""
    sign_in(client, "district")
    answers = [
        ask_to_change(client, f"stranger{number}@victim.example").status_code for number in range(6)
    ]
    assert answers[:5] == [303] * 5 or all(code in (302, 303) for code in answers[:5])
    assert answers[5] == 429
    deliver(client, call)
    assert len(received(smtp, CONFIRM_SUBJECT, "stranger5@victim.example")) == 0
