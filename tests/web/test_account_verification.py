"""Address verification at sign-up, through the pages, the API and a real SMTP server
(aiosmtpd): the link is read from the mail the server received. Until the address is verified
the person browses but every state-changing request is refused, in one place (the app's guard).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from testbed.mail import outbox
from testbed.tables import AuditEvent, EmailToken, User
from tests.web import mail_server
from tests.web.conftest import EMAILS, PASSWORD, other_browser, post_form, sign_in
from tests.web.test_concurrency import _fire
from tests.web.test_designs import bearer, token_for

# A real SMTP server, and the app sending to it.
smtp = mail_server.smtp
app = mail_server.app

NEW_EMAIL = "morgan@riverbend.example"
NEW_PASSWORD = "granite-harbor-quill-7"
VERIFY_LINK = re.compile(r"(https?://\S+)(/verify/[A-Za-z0-9_-]+)")
VERIFY_SUBJECT = "Confirm your address for Testbed"


def deliver(client, call) -> None:
    call(outbox.deliver_due, client.app.state["settings"])


def received(smtp, subject: str, to: str) -> list:
    return [m for m in smtp.inbox.messages if m["Subject"] == subject and m["To"] == to]


def link_in(message, pattern=VERIFY_LINK) -> str:
    """The path of the one-time link in a received mail (both parts carry the same link)."""
    match = pattern.search(message.get_body(("plain",)).get_content())
    assert match is not None
    assert f'href="{match.group(0)}"' in message.get_body(("html",)).get_content()
    return match.group(2)


def sign_up(client, email=NEW_EMAIL, **overrides):
    form = {
        "name": "Morgan Lee",
        "email": email,
        "password": NEW_PASSWORD,
        "organization_kind": "district",
        "organization_name": "Riverbend Schools",
        "state": "OH",
        **overrides,
    }
    return post_form(client, "/signup", form)


def sign_in_as(client, email=NEW_EMAIL, password=NEW_PASSWORD) -> None:
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code in (302, 303), response.text


def signed_up_and_in(client, call, smtp) -> str:
    """A new person signed up and signed in; the path of the link mailed to them."""
    assert sign_up(client).headers["location"] == "/login?signed_up=1"
    sign_in_as(client)
    deliver(client, call)
    [message] = received(smtp, VERIFY_SUBJECT, NEW_EMAIL)
    return link_in(message)


def create_need(client):
    """A state-changing form of the person's own district (a need)."""
    district_id = client.get("/api/v1/me").json()["memberships"][0]["organization_id"]
    return post_form(
        client,
        f"/districts/{district_id}/needs",
        {
            "title": "Reading in grade 2",
            "statement": "Too few second graders read fluently.",
            "pillars": "2",
            "grade_band": "k2",
            "subject": "ela",
        },
    )


def test_verification_from_sign_up_to_acting(client, call, smtp):
    path = signed_up_and_in(client, call, smtp)
    # Browsing works, with a notice saying what to do.
    account = client.get("/account")
    assert account.status_code == 200
    assert "Confirm your address" in account.text
    assert 'href="/account/verification"' in account.text
    assert client.get("/api/v1/me").json()["email_verified"] is False
    # Acting does not: the page says why and links to a new link.
    refused = create_need(client)
    assert refused.status_code == 403
    assert "Verify your address first" in refused.text
    assert NEW_EMAIL in refused.text
    assert '<a href="/account/verification">Send me a new verification link</a>' in refused.text
    tokens = post_form(client, "/account/tokens", {"name": "nightly"})
    assert tokens.status_code == 403 and "Verify your address first" in tokens.text
    # Following the mailed link verifies the address, once; then the same form works.
    page = client.get(path)
    assert page.status_code == 200 and "Address verified" in page.text and NEW_EMAIL in page.text
    assert client.get("/api/v1/me").json()["email_verified"] is True
    assert "Confirm your address" not in client.get("/account").text
    created = create_need(client)
    assert created.status_code in (302, 303), created.text
    assert post_form(client, "/account/tokens", {"name": "nightly"}).status_code == 200
    actions = call(lambda: AuditEvent.select(AuditEvent.action).output(as_list=True))
    assert actions.count("email_verified") == 1


def test_the_api_refuses_writes_of_an_unverified_person_with_a_problem(client, call, smtp):
    path = signed_up_and_in(client, call, smtp)
    user_id = call(lambda: User.select(User.id).where(User.email == NEW_EMAIL).first())["id"]
    token = token_for(call, user_id)  # made by the service: the form is closed to them
    with other_browser(client):
        refused = client.post("/api/v1/tokens", json={"name": "script"}, headers=bearer(token))
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["detail"].startswith("Verify your address first")
        assert "/account/verification" in problem["detail"]
        # Reading is allowed.
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.get(path).status_code == 200
    with other_browser(client):
        allowed = client.post("/api/v1/tokens", json={"name": "script"}, headers=bearer(token))
        assert allowed.status_code == 201, allowed.text


def test_what_an_unverified_person_may_still_do(client, call, smtp):
    signed_up_and_in(client, call, smtp)
    # Change the password (it may have leaked with the address typo)...
    changed = post_form(
        client,
        "/account/password",
        {
            "current_password": NEW_PASSWORD,
            "new_password": "quartz-meadow-harbor-77",
            "new_password_again": "quartz-meadow-harbor-77",
        },
    )
    assert changed.status_code in (302, 303), changed.text
    # ... ask for a new link, and sign out.
    assert post_form(client, "/account/verification").status_code in (302, 303)
    assert post_form(client, "/logout").status_code in (302, 303)
    assert client.get("/account", follow_redirects=False).status_code in (302, 303)


def test_a_new_link_ends_the_earlier_one_and_requests_are_limited(client, call, smtp):
    first = signed_up_and_in(client, call, smtp)
    page = client.get("/account/verification")
    assert page.status_code == 200 and "Send me a new link" in page.text
    resent = post_form(client, "/account/verification")
    assert resent.headers["location"] == "/account/verification"
    assert "A new link is on its way" in client.get("/account/verification").text
    deliver(client, call)
    second = link_in(received(smtp, VERIFY_SUBJECT, NEW_EMAIL)[1])
    assert second != first
    old = client.get(first)
    assert old.status_code == 410 and "already been used" in old.text
    # Five requests in 15 minutes (the first resend counted), then a refusal in words.
    for _ in range(4):
        assert post_form(client, "/account/verification").status_code in (302, 303)
    limited = post_form(client, "/account/verification")
    assert limited.status_code == 429 and "Too many requests for a verification link" in (
        limited.text
    )
    # Of all the links sent, the latest one works (mail may arrive in any order).
    deliver(client, call)
    links = [link_in(message) for message in received(smtp, VERIFY_SUBJECT, NEW_EMAIL)]
    assert len(links) == 6
    # Followed signed out (signed in and verified, an ended link shows the address verified).
    with other_browser(client):
        assert sorted(client.get(link).status_code for link in links) == [200] + [410] * 5


def test_a_link_works_once_and_not_after_it_expired(client, call, smtp):
    path = signed_up_and_in(client, call, smtp)
    assert client.get(path).status_code == 200
    # Followed again by its verified owner (a double click, or a mail scanner went first):
    # not an error (an outside check found "Error 410" shown to people already verified).
    again = client.get(path)
    assert again.status_code == 200 and NEW_EMAIL in again.text
    with other_browser(client):
        elsewhere = client.get(path)
        assert elsewhere.status_code == 410 and "already been used" in elsewhere.text
        assert "If you followed it before, your address is verified" in elsewhere.text
    unknown = client.get("/verify/not-a-real-token")
    assert unknown.status_code == 404 and "mistyped or cut short" in unknown.text
    # An expired link is refused in words, and the address stays unverified.
    with other_browser(client):
        sign_up(client, email="late@riverbend.example")
    deliver(client, call)
    [late] = received(smtp, VERIFY_SUBJECT, "late@riverbend.example")
    call(
        lambda: EmailToken.update(
            {EmailToken.expires_at: datetime.now(UTC) - timedelta(minutes=1)}
        ).where(EmailToken.email == "late@riverbend.example")
    )
    expired = client.get(link_in(late))
    assert expired.status_code == 410 and "expired" in expired.text
    row = call(
        lambda: (
            User.select(User.email_verified_at)
            .where(User.email == "late@riverbend.example")
            .first()
        )
    )
    assert row["email_verified_at"] is None


def test_the_same_link_followed_ten_times_at_once_verifies_once(client, call, smtp):
    path = signed_up_and_in(client, call, smtp)
    answers = _fire(client, [{"method": "GET", "url": path} for _ in range(10)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [410] * 9, [a.text[:200] for a in answers if a.status_code >= 500]
    verified = call(lambda: AuditEvent.count().where(AuditEvent.action == "email_verified"))
    assert verified == 1
    assert client.get("/api/v1/me").json()["email_verified"] is True


def test_who_may_ask_for_a_new_link(client, call, smtp, people):
    # Signed out: sign in first.
    signed_out = post_form(client, "/account/verification")
    assert signed_out.status_code in (302, 303) and "/login" in signed_out.headers["location"]
    # Already verified: nothing to send.
    sign_in(client, "district")
    page = client.get("/account/verification")
    assert "is verified" in page.text and "Send me a new link" not in page.text
    refused = post_form(client, "/account/verification")
    assert refused.status_code == 409 and "already verified" in refused.text
    deliver(client, call)
    assert smtp.inbox.messages == []


def test_people_who_had_accounts_and_invited_people_are_verified(client, call, smtp, people):
    # The fixtures' people (as accounts made before verification existed) act at once.
    sign_in(client, "vendor")
    assert client.get("/api/v1/me").json()["email_verified"] is True
    invited = post_form(
        client, f"/organizations/{people.vendor}/invitations", {"email": "pat@brightpath.example"}
    )
    assert invited.status_code == 200
    deliver(client, call)
    [invitation] = [m for m in smtp.inbox.messages if m["To"] == "pat@brightpath.example"]
    invitation_path = link_in(invitation, re.compile(r"(https?://\S+)(/invitations/[\w-]+)"))
    with other_browser(client):
        token = invitation_path.rsplit("/", 1)[1]
        joined = post_form(
            client,
            "/signup",
            {
                "name": "Pat Park",
                "email": "pat@brightpath.example",
                "password": NEW_PASSWORD,
                "invitation": token,
            },
        )
        assert joined.status_code in (302, 303), joined.text
        sign_in_as(client, "pat@brightpath.example")
        # Signing up through the mailed invitation proved the address: no verification mail.
        assert client.get("/api/v1/me").json()["email_verified"] is True
        assert post_form(client, "/account/tokens", {"name": "mine"}).status_code == 200
    deliver(client, call)
    assert received(smtp, VERIFY_SUBJECT, "pat@brightpath.example") == []


def test_signing_up_with_a_taken_address_mails_its_owner(client, call, smtp, people):
    with other_browser(client):
        new = sign_up(client, email="fresh@riverbend.example")
    with other_browser(client):
        taken = sign_up(client, email=EMAILS["vendor"])
    assert new.status_code == taken.status_code
    assert new.headers["location"] == taken.headers["location"] == "/login?signed_up=1"
    deliver(client, call)
    [told] = received(
        smtp, "Someone tried to sign up to Testbed with your address", EMAILS["vendor"]
    )
    text = told.get_body(("plain",)).get_content()
    assert "/password/forgot" in text and "/login" in text
    assert received(smtp, VERIFY_SUBJECT, EMAILS["vendor"]) == []
    assert len(received(smtp, VERIFY_SUBJECT, "fresh@riverbend.example")) == 1
    # Another attempt within the hour is answered the same, without a second mail.
    with other_browser(client):
        again = sign_up(client, email=EMAILS["vendor"])
    assert again.headers["location"] == "/login?signed_up=1"
    deliver(client, call)
    assert len([m for m in smtp.inbox.messages if m["To"] == EMAILS["vendor"]]) == 1
    # The owner's account is unchanged and still acts.
    sign_in(client, "vendor")
    assert post_form(client, "/account/tokens", {"name": "still mine"}).status_code == 200
    assert PASSWORD  # the owner's password was not touched (sign_in used it)


def test_sign_up_refuses_what_cannot_be_mailed_and_what_is_too_long(client, call, smtp):
    """Found by an outside check: addresses the mailer cannot send to (a pasted comma, a
    display name, non-ASCII before the @) were accepted and could never be verified; names of
    thousands of characters were stored; line breaks stayed in names."""
    for address in (
        "odd2@check.example,foo.bar",
        "odd5@check.example;x=y.z",
        '"x"<odd1@check.example>',
        "ünï@exämple.example",
        "a" * 250 + "@check.example",
    ):
        refused = sign_up(client, email=address)
        assert refused.status_code == 422, address
        assert "Enter a valid email address." in refused.text, address
    assert sign_up(client, name="N" * 121).status_code == 422
    assert sign_up(client, organization_name="O" * 201).status_code == 422
    assert call(lambda: User.count()) == 0
    assert sign_up(client, name="Eve\r\nBcc: x@y.example").status_code in (302, 303)
    assert call(lambda: User.select(User.name).first())["name"] == "Eve Bcc: x@y.example"
