"""Mail: the transactional outbox and its sender, against a real SMTP server (aiosmtpd) started
by the tests, and the .eml outbox used when no server is configured."""

from __future__ import annotations

import asyncio
import contextvars
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from testbed.app import create_app
from testbed.mail import messages, outbox
from testbed.tables import OutboxMessage
from tests.web import mail_server
from tests.web.conftest import post_form, sign_in
from tests.web.mail_server import SmtpServer, free_port

# A real SMTP server, and the app sending to it.
smtp = mail_server.smtp
app = mail_server.app


def app_settings(client):
    return client.app.state["settings"]


async def _queue(settings, to="someone@school.example", name="Ada"):
    async with OutboxMessage._meta.db.transaction():
        return await outbox.queue_mail(
            kind="password_changed",
            to_address=to,
            context={"name": name, "how": "changed", "when": "2026-12-07 10:00"},
            settings=settings,
        )


async def _queue_then_fail(settings):
    async with OutboxMessage._meta.db.transaction():
        await outbox.queue_mail(
            kind="password_changed",
            to_address="rolled-back@school.example",
            context={"name": "Ada", "how": "changed", "when": "now"},
            settings=settings,
        )
        raise RuntimeError("the cause failed")


def _rows(call):
    return call(lambda: OutboxMessage.select().order_by(OutboxMessage.id))


def test_a_message_exists_only_if_its_transaction_commits(client, call):
    settings = app_settings(client)
    with pytest.raises(RuntimeError):
        call(_queue_then_fail, settings)
    assert _rows(call) == []
    call(_queue, settings)
    assert [row["to_address"] for row in _rows(call)] == ["someone@school.example"]


def test_delivered_over_smtp_with_text_and_html_parts(client, call, smtp):
    settings = app_settings(client)
    call(_queue, settings)
    assert call(outbox.deliver_due, settings) == {"sent": 1, "retried": 0, "failed": 0}
    [received] = smtp.inbox.messages
    assert received["To"] == "someone@school.example"
    assert received["From"] == settings.mail_from
    assert received["Subject"] == "Your Testbed password was changed"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Hello Ada," in text
    assert f"{settings.base_url}/password/forgot" in text
    assert f'href="{settings.base_url}/password/forgot"' in html
    assert "<img" not in html  # no tracking pixels
    [row] = _rows(call)
    assert row["status"] == "sent" and row["delivered_via"] == "smtp" and row["attempts"] == 1
    # The text of sent mail is not kept: it may hold a one-time link.
    assert row["body_text"] == "" and row["body_html"] == ""
    # Nothing left to send: a second round sends nothing.
    assert call(outbox.deliver_due, settings) == {"sent": 0, "retried": 0, "failed": 0}
    assert len(smtp.inbox.messages) == 1


def test_html_part_escapes_what_people_typed(client, call, smtp):
    settings = app_settings(client)
    call(_queue, settings, "x@school.example", "<script>alert(1)</script>")
    call(outbox.deliver_due, settings)
    html = smtp.inbox.messages[0].get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_header_injection_is_impossible(client, call, smtp):
    # Names and subjects from users lose their line breaks before they reach a header...
    assert messages.single_line("Ada\r\nBcc: victim@example.org") == "Ada Bcc: victim@example.org"
    subject, _, _ = messages.render(
        "invitation",
        {
            "inviter": "Eve\r\nBcc: victim@example.org",
            "organization": "Cedar\nX-Evil: 1",
            "role": "member",
            "expires": "2026-12-14",
            "token": "t",
            "base_url": "http://x",
        },
    )
    assert "\n" not in subject and "\r" not in subject
    # ...and a value with a line break that got past that is refused by EmailMessage itself.
    with pytest.raises(ValueError):
        messages.build(
            mail_from="testbed@localhost",
            to_address="a@school.example",
            subject="Hello\r\nBcc: victim@example.org",
            body_text="x",
            body_html="<p>x</p>",
            message_id="<1@localhost>",
        )
    # A row that somehow holds one fails for good instead of sending a forged header.
    settings = app_settings(client)
    message_id = call(_queue, settings)
    call(
        lambda: OutboxMessage.update(
            {OutboxMessage.subject: "Hi\r\nBcc: victim@example.org"}
        ).where(OutboxMessage.id == message_id)
    )
    assert call(outbox.deliver_due, settings)["failed"] == 1
    assert smtp.inbox.messages == []
    [row] = _rows(call)
    assert row["status"] == "failed" and "ValueError" in row["last_error"]


def _down(client):
    """Settings whose SMTP server is down (nothing listens on its port); the port."""
    port = free_port()
    return replace(app_settings(client), smtp_url=f"smtp://127.0.0.1:{port}"), port


def test_server_down_then_up_delivers_once(client, call, people):
    down, port = _down(client)
    # The event happens while the server is down: the request is neither slowed nor failed,
    # since no request talks to the mail server.
    sign_in(client, "district")
    response = post_form(
        client,
        "/account/password",
        {
            "current_password": "orchard-lantern-velvet-42",
            "new_password": "quartz-meadow-harbor-77",
            "new_password_again": "quartz-meadow-harbor-77",
        },
    )
    assert response.status_code in (302, 303), response.text
    assert call(outbox.deliver_due, down) == {"sent": 0, "retried": 1, "failed": 0}
    [row] = _rows(call)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "connect" in row["last_error"].lower()
    # Not due again before the backoff has passed.
    assert call(outbox.deliver_due, down) == {"sent": 0, "retried": 0, "failed": 0}

    server = SmtpServer(port)
    server.start()
    try:
        later = datetime.now(UTC) + outbox.backoff(1) + timedelta(seconds=1)
        assert call(outbox.deliver_due, down, later)["sent"] == 1
        assert call(outbox.deliver_due, down, later + timedelta(hours=2))["sent"] == 0
        assert len(server.inbox.messages) == 1
        assert server.inbox.messages[0]["Subject"] == "Your Testbed password was changed"
        assert server.inbox.messages[0]["To"] == "coordinator@cedar.example"
    finally:
        server.stop()


def test_gives_up_after_a_day_and_admins_see_it(client, call, people):
    down, _ = _down(client)
    call(_queue, down, "lost@school.example")
    assert call(outbox.deliver_due, down)["retried"] == 1
    a_day_later = datetime.now(UTC) + outbox.GIVE_UP + timedelta(minutes=1)
    assert call(outbox.deliver_due, down, a_day_later)["failed"] == 1
    [row] = _rows(call)
    assert row["status"] == "failed" and row["attempts"] == 2
    sign_in(client, "admin")
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    assert "lost@school.example" in page.text and "failed: not delivered" in page.text


def test_backoff_doubles_up_to_an_hour():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert outbox.backoff(30) == timedelta(hours=1)


def test_two_senders_racing_deliver_each_message_once(client, call, smtp):
    settings = app_settings(client)
    for number in range(60):
        call(_queue, settings, f"person{number}@school.example")

    async def race():
        outcomes = await asyncio.gather(
            outbox.deliver_due(settings), outbox.deliver_due(settings), outbox.deliver_due(settings)
        )
        return sum(outcome["sent"] for outcome in outcomes)

    sent = 0
    for _ in range(5):
        sent += call(race)
    assert sent == 60
    received = sorted(message["To"] for message in smtp.inbox.messages)
    assert received == sorted(f"person{number}@school.example" for number in range(60))
    assert all(row["status"] == "sent" and row["attempts"] == 1 for row in _rows(call))


def test_a_sender_skips_rows_another_has_claimed(client, call, smtp):
    settings = app_settings(client)
    call(_queue, settings)
    now = datetime.now(UTC)
    assert len(call(outbox.claim_due, now)) == 1
    # Claimed and leased: nobody else takes it until the lease passes.
    assert call(outbox.claim_due, now) == []
    assert len(call(outbox.claim_due, now + outbox.LEASE + timedelta(seconds=1))) == 1


def test_background_sender_delivers_without_being_asked(settings, smtp):
    from litestar.testing import TestClient

    quick = replace(settings, smtp_url=smtp.url, mail_poll_seconds=0.05)
    with TestClient(create_app(quick)) as client:
        client.blocking_portal.call(lambda: _queue(quick))
        for _ in range(100):
            if smtp.inbox.messages:
                break
            client.blocking_portal.call(asyncio.sleep, 0.05)
        assert len(smtp.inbox.messages) == 1


def test_without_smtp_mail_goes_to_the_outbox_folder_and_page(client, call, people):
    no_smtp = replace(app_settings(client), smtp_url=None)
    message_id = call(_queue, no_smtp, "dev@school.example")
    assert call(outbox.deliver_due, no_smtp)["sent"] == 1
    [row] = _rows(call)
    path = no_smtp.outbox_dir / outbox.eml_file_name(row)
    content = path.read_text()
    assert f"Message-ID: {row['message_id']}" in content
    assert "To: dev@school.example" in content
    assert "Subject: Your Testbed password was changed" in content
    assert path.name.startswith(f"{message_id:08d}-password_changed-")
    assert row["delivered_via"] == "file" and row["body_text"]  # kept: the page shows it

    assert client.get("/admin/outbox", follow_redirects=False).status_code in (302, 303, 401)
    for role in ("district", "vendor", "researcher"):
        client.cookies.clear()
        sign_in(client, role)
        assert client.get("/admin/outbox").status_code == 403, role
    client.cookies.clear()
    sign_in(client, "admin")
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    assert "dev@school.example" in page.text and "written to the outbox folder" in page.text
    assert "Hello Ada," in page.text


def test_smtp_url_must_name_a_known_scheme():
    from testbed.settings import Settings

    with pytest.raises(ValueError, match="smtp"):
        Settings.from_env(
            {"TESTBED_SMTP_URL": "http://mail.example.org", "TESTBED_SECRET_KEY": "k"}
        )
    chosen = Settings.from_env(
        {
            "TESTBED_SMTP_URL": "smtp+starttls://u:p@mail.example.org:587",
            "TESTBED_MAIL_FROM": "pilots@network.example",
            "TESTBED_BASE_URL": "https://testbed.example/",
            "TESTBED_SECRET_KEY": "k",
        }
    )
    assert chosen.smtp_url == "smtp+starttls://u:p@mail.example.org:587"
    assert chosen.base_url == "https://testbed.example"
    assert chosen.mail_from == "pilots@network.example"
    with pytest.raises(ValueError, match="MAIL_FROM"):
        Settings.from_env({"TESTBED_MAIL_FROM": "a@b\r\nBcc: c@d", "TESTBED_SECRET_KEY": "k"})


@pytest.mark.skipif(
    OutboxMessage._meta.db.engine_type != "postgres", reason="row locks are PostgreSQL's"
)
def test_a_claim_skips_rows_locked_by_a_claim_still_in_progress(client, call, smtp):
    """Two senders on PostgreSQL: while one's claim transaction holds its rows, the other takes
    different rows at once instead of waiting or taking the same ones (SKIP LOCKED)."""
    settings = app_settings(client)
    for number in range(6):
        call(_queue, settings, f"person{number}@school.example")
    now = datetime.now(UTC)

    async def overlapping_claims():
        async with OutboxMessage._meta.db.transaction():
            first = await OutboxMessage.raw(outbox.CLAIM_POSTGRES, now + outbox.LEASE, now, now, 3)
            # Another sender, on its own connection (a fresh context: not this transaction).
            other = asyncio.create_task(outbox.claim_due(now, 3), context=contextvars.Context())
            second = await asyncio.wait_for(other, timeout=10)
        return first, second

    first, second = call(overlapping_claims)
    assert len(first) == 3 and len(second) == 3
    assert not {row["id"] for row in first} & {row["id"] for row in second}


def test_an_invitation_is_mailed_and_still_shown_to_copy(client, call, smtp, people):
    sign_in(client, "vendor")  # an admin of the vendor organization
    page = post_form(
        client,
        f"/organizations/{people.vendor}/invitations",
        {"email": "New.Colleague@BrightPath.example", "role": "member"},
    )
    assert page.status_code == 200
    shown = re.search(r"<code>(http[^<]+/invitations/[^<]+)</code>", page.text).group(1)
    assert "on its way to your colleague by mail" in page.text
    assert call(outbox.deliver_due, app_settings(client))["sent"] == 1
    [message] = smtp.inbox.messages
    assert message["To"] == "new.colleague@brightpath.example"
    assert "invites you to" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    token = shown.rsplit("/", 1)[1]
    mailed = f"{app_settings(client).base_url}/invitations/{token}"
    assert mailed in text  # the same one-time link as the one shown
    assert f'href="{mailed}"' in message.get_body(("html",)).get_content()
    # The link in the mail opens the invitation.
    client.cookies.clear()
    invitation = client.get(f"/invitations/{token}")
    assert invitation.status_code == 200


def test_an_inviters_name_cannot_add_headers(client, call, smtp, people):
    from testbed.tables import User

    call(
        lambda: User.update({User.name: "Eve\r\nBcc: victim@example.org"}).where(
            User.id == people.vendor_user
        )
    )
    sign_in(client, "vendor")
    post_form(
        client,
        f"/organizations/{people.vendor}/invitations",
        {"email": "colleague@brightpath.example", "role": "member"},
    )
    assert call(outbox.deliver_due, app_settings(client))["sent"] == 1
    [message] = smtp.inbox.messages
    assert message["Bcc"] is None
    assert message["Subject"].strip().startswith("Eve Bcc: victim@example.org invites you")
    assert smtp.inbox.envelopes[0][1] == ["colleague@brightpath.example"]
