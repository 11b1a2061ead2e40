"""Forgotten and changed passwords, through the pages and a real SMTP server (aiosmtpd): the
reset link is read from the mail the server received."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from testbed.mail import outbox
from testbed.tables import AuditEvent, OutboxMessage, PasswordReset
from tests.web import mail_server
from tests.web.conftest import EMAILS, PASSWORD, other_browser, post_form, sign_in

# A real SMTP server, and the app sending to it.
smtp = mail_server.smtp
app = mail_server.app

NEW_PASSWORD = "quartz-meadow-harbor-77"
LINK = re.compile(r"(https?://\S+)/password/reset/([A-Za-z0-9_-]+)")


def _deliver(client, call):
    return call(outbox.deliver_due, client.app.state["settings"])


def _ask_for_link(client, email):
    return post_form(client, "/password/forgot", {"email": email})


def _reset_link(client, call, smtp, email=EMAILS["district"]) -> str:
    """Ask for a reset, let the sender deliver it, and read the link from the received mail."""
    assert _ask_for_link(client, email).status_code == 200
    _deliver(client, call)
    [message] = [m for m in smtp.inbox.messages if m["Subject"] == "Reset your Testbed password"]
    assert message["To"] == email
    match = LINK.search(message.get_body(("plain",)).get_content())
    assert match is not None
    assert match.group(1) == client.app.state["settings"].base_url
    html = message.get_body(("html",)).get_content()
    assert f'href="{match.group(0)}"' in html
    return "/password/reset/" + match.group(2)


def _set_password(client, path, password=NEW_PASSWORD, again=None):
    return post_form(
        client, path, {"new_password": password, "new_password_again": again or password}
    )


def test_sign_in_page_offers_the_reset(client):
    page = client.get("/login")
    assert '<a href="/password/forgot">Forgot your password?</a>' in page.text
    form = client.get("/password/forgot")
    assert form.status_code == 200 and 'action="/password/forgot"' in form.text


def test_reset_from_request_to_signing_in_with_the_new_password(client, call, smtp, people):
    sign_in(client, "district")  # a session elsewhere (say, a forgotten laptop)
    assert client.get("/account").status_code == 200
    with other_browser(client):
        path = _reset_link(client, call, smtp)
        form = client.get(path)
        assert form.status_code == 200 and "Choose a new password" in form.text
        done = _set_password(client, path)
        assert done.status_code in (302, 303)
        assert done.headers["location"] == "/login?password_reset=true"
        assert "Sign in with the new password" in client.get(done.headers["location"]).text
        # The old password no longer works; the new one does.
        old = post_form(client, "/login", {"email": EMAILS["district"], "password": PASSWORD})
        assert old.status_code == 400
        new = post_form(client, "/login", {"email": EMAILS["district"], "password": NEW_PASSWORD})
        assert new.status_code in (302, 303)
        assert client.get("/account").status_code == 200
    # The other session was signed out.
    assert client.get("/account", follow_redirects=False).status_code != 200
    actions = call(lambda: AuditEvent.select(AuditEvent.action).output(as_list=True))
    assert "password_reset_requested" in actions and "password_reset" in actions
    # And the owner is told by mail that the password changed.
    _deliver(client, call)
    subjects = [message["Subject"] for message in smtp.inbox.messages]
    assert subjects == ["Reset your Testbed password", "Your Testbed password was changed"]


def test_same_answer_for_known_and_unknown_addresses(client, call, smtp, people):
    known = _ask_for_link(client, EMAILS["district"])
    unknown = _ask_for_link(client, "nobody-here@cedar.example")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(EMAILS["district"], "ADDRESS") == unknown.text.replace(
        "nobody-here@cedar.example", "ADDRESS"
    )
    assert "If an account uses" in known.text
    # Only the known address gets mail.
    _deliver(client, call)
    assert [message["To"] for message in smtp.inbox.messages] == [EMAILS["district"]]


def test_a_link_works_once(client, call, smtp, people):
    path = _reset_link(client, call, smtp)
    assert _set_password(client, path).status_code in (302, 303)
    again = client.get(path)
    assert again.status_code == 410 and "already been used" in again.text
    reuse = _set_password(client, path, "another-fine-passphrase-9")
    assert reuse.status_code == 410 and "already been used" in reuse.text
    # The password set with the link stands.
    new = post_form(client, "/login", {"email": EMAILS["district"], "password": NEW_PASSWORD})
    assert new.status_code in (302, 303)


def test_a_reset_ends_every_other_outstanding_link(client, call, smtp, people):
    first = _reset_link(client, call, smtp)
    smtp.inbox.messages.clear()
    second = _reset_link(client, call, smtp)
    assert _set_password(client, second).status_code in (302, 303)
    assert client.get(first).status_code == 410


def test_an_expired_link_is_refused(client, call, smtp, people):
    path = _reset_link(client, call, smtp)
    call(
        lambda: PasswordReset.update(
            {PasswordReset.expires_at: datetime.now(UTC) - timedelta(minutes=1)}, force=True
        )
    )
    page = client.get(path)
    assert page.status_code == 410 and "expired" in page.text and "Ask for a new one" in page.text
    refused = _set_password(client, path)
    assert refused.status_code == 410
    old = post_form(client, "/login", {"email": EMAILS["district"], "password": PASSWORD})
    assert old.status_code in (302, 303)  # nothing changed


def test_an_unknown_link_is_refused(client, people):
    page = client.get("/password/reset/not-a-real-token")
    assert page.status_code == 404 and "not valid" in page.text


def test_the_new_password_follows_the_sign_up_rules(client, call, smtp, people):
    path = _reset_link(client, call, smtp)
    differ = _set_password(client, path, NEW_PASSWORD, "quartz-meadow-harbor-78")
    assert differ.status_code == 422 and "Type the same password twice." in differ.text
    weak = _set_password(client, path, "password")
    assert weak.status_code == 422 and "at least 12 characters" in weak.text
    # Refusals do not use up the link.
    assert _set_password(client, path).status_code in (302, 303)


def test_reset_requests_are_rate_limited_like_sign_in(client, call, smtp, people):
    for _ in range(5):
        assert _ask_for_link(client, EMAILS["district"]).status_code == 200
    refused = _ask_for_link(client, EMAILS["district"])
    assert refused.status_code == 429 and "Too many password reset requests" in refused.text
    # The unknown address is limited the same way (no difference to learn from).
    for _ in range(5):
        _ask_for_link(client, "nobody-here@cedar.example")
    assert _ask_for_link(client, "nobody-here@cedar.example").status_code == 429
    # Sign-in keeps its own count.
    sign_in(client, "district")
    queued = call(lambda: OutboxMessage.count())
    assert queued == 5


def test_a_bad_address_is_a_clear_error(client, people):
    response = _ask_for_link(client, "not an address")
    assert response.status_code == 422 and "Enter a valid email address." in response.text


def test_change_password_needs_the_current_one_and_signs_out_other_sessions(
    client, call, smtp, people
):
    sign_in(client, "district")  # the other session
    with other_browser(client):
        sign_in(client, "district")
        wrong = post_form(
            client,
            "/account/password",
            {
                "current_password": "not-my-password-at-all",
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
        assert wrong.status_code == 422 and "This is not your password." in wrong.text
        weak = post_form(
            client,
            "/account/password",
            {
                "current_password": PASSWORD,
                "new_password": "short",
                "new_password_again": "short",
            },
        )
        assert weak.status_code == 422 and "at least 12 characters" in weak.text
        changed = post_form(
            client,
            "/account/password",
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
        assert changed.status_code in (302, 303)
        page = client.get("/account")
        assert page.status_code == 200  # this session stays
        assert "Password changed." in page.text
    assert client.get("/account", follow_redirects=False).status_code != 200
    actions = call(lambda: AuditEvent.select(AuditEvent.action).output(as_list=True))
    assert "password_change_failed" in actions and "password_changed" in actions
    _deliver(client, call)
    assert [message["Subject"] for message in smtp.inbox.messages] == [
        "Your Testbed password was changed"
    ]
