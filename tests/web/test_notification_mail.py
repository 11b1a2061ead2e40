"""Notification mail: what needs a person's action is mailed as each person chose (at once, in a
daily digest, or not at all), with one-click unsubscribe; against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from testbed.auth import load_principal
from testbed.mail import outbox
from testbed.notifications import background, mailing
from testbed.notifications.services import notify_users
from testbed.tables import Enrollment, Membership, Notification, Organization, Pilot, User
from tests.web import mail_server
from tests.web.conftest import EMAILS, other_browser, post_form, sign_in

# A real SMTP server, and the app sending to it.
smtp = mail_server.smtp
app = mail_server.app

SECOND_VENDOR = "cofounder@brightpath.example"


def _settings(client):
    return client.app.state["settings"]


def _deliver(client, call):
    return call(outbox.deliver_due, _settings(client))


def _to(smtp, address):
    return [m for m in smtp.inbox.messages if m["To"] == address]


async def _second_vendor_member(people) -> int:
    rows = await User.insert(User(email=SECOND_VENDOR, name="Cora Cofounder", password_hash="-"))
    await Membership.insert(Membership(user=rows[0]["id"], organization=people.vendor))
    return rows[0]["id"]


async def _proposal(people) -> int:
    rows = await Enrollment.insert(
        Enrollment(
            pilot=people.open_pilot,
            district=people.district,
            status="proposed",
            capacity_students=100,
            grades=["G04"],
        )
    )
    return rows[0]["id"]


def _district_accepts(client, call, people) -> None:
    """The district accepts a proposal: the vendor's members must now accept too."""
    enrollment = call(_proposal, people)
    with other_browser(client):
        sign_in(client, "district")
        response = post_form(client, f"/enrollments/{enrollment}/accept")
        assert response.status_code in (302, 303), response.text


def test_an_action_needed_event_mails_each_person_as_they_chose(client, call, people, smtp):
    cora = call(_second_vendor_member, people)
    call(mailing.set_mail_choice, cora, "none")

    _district_accepts(client, call, people)
    assert _deliver(client, call)["sent"] == 1

    [mail] = smtp.inbox.messages  # the vendor's founder (immediate, the default) only
    assert mail["To"] == EMAILS["vendor"]
    assert smtp.inbox.envelopes[0][1] == [EMAILS["vendor"]]
    assert mail["Subject"].startswith("Testbed: Cedar Hollow Unified accepted the proposal")
    text = mail.get_body(("plain",)).get_content()
    base = _settings(client).base_url
    assert f"{base}/pilots/{people.open_pilot}/volunteers" in text
    assert "Accept it too" in text
    html = mail.get_body(("html",)).get_content()
    assert f'href="{base}/pilots/{people.open_pilot}/volunteers"' in html
    # RFC 8058 one-click unsubscribe.
    unsubscribe = mail["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{base}/unsubscribe/") and unsubscribe.endswith(">")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe[1:-1] in text

    # Both are notified in the app; only the one who chose mail got mail.
    rows = call(
        lambda: Notification.select(Notification.user, Notification.mail).where(
            Notification.kind == "accepted"
        )
    )
    assert {row["user"]: row["mail"] for row in rows} == {people.vendor_user: "queued", cora: ""}
    # Nothing is sent twice.
    assert _deliver(client, call)["sent"] == 0
    assert len(smtp.inbox.messages) == 1


def test_information_only_notifications_are_not_mailed(client, call, people, smtp):
    call(notify_users, [people.vendor_user], kind="declined", message="X declined.", link="/")
    assert _deliver(client, call)["sent"] == 0
    assert smtp.inbox.messages == []


def test_work_items_are_notified_and_mailed_once_and_again_when_overdue(client, call, people, smtp):
    assert call(background.notify_new_work) > 0
    assert call(background.notify_new_work) == 0  # told once, however often it runs
    _deliver(client, call)
    [district_mail] = _to(smtp, EMAILS["district"])
    text = district_mail.get_body(("plain",)).get_content()
    assert "Upload your outcome data for “MathQuest active pilot”" in text
    assert f"/pilots/{people.active_pilot}/data" in text
    [vendor_mail] = _to(smtp, EMAILS["vendor"])
    assert "register the design" in vendor_mail.get_body(("plain",)).get_content()
    [researcher_mail] = _to(smtp, EMAILS["researcher"])
    assert "register the design" in researcher_mail.get_body(("plain",)).get_content()
    assert _to(smtp, EMAILS["other_vendor"]) == []

    # The pilot passes its end date with the data still missing: told again, as overdue.
    call(
        lambda: Pilot.update({Pilot.ends_on: date.today() - timedelta(days=1)}).where(
            Pilot.id == people.active_pilot
        )
    )
    assert call(background.notify_new_work) >= 2  # the district's upload, the admin's close
    assert call(background.notify_new_work) == 0
    _deliver(client, call)
    district_mails = _to(smtp, EMAILS["district"])
    assert len(district_mails) == 2
    assert district_mails[1]["Subject"].startswith("Testbed: Overdue: Upload your outcome data")
    assert any("ended on" in m["Subject"] for m in _to(smtp, EMAILS["admin"]))


def test_the_daily_digest_groups_a_day_and_is_sent_once(client, call, people, smtp):
    sign_in(client, "district")
    response = post_form(client, "/account/notifications", {"mail": "digest"})
    assert response.status_code in (302, 303)
    page = client.get(response.headers["location"])
    assert "one digest mail a day" in page.text  # the saved message
    assert 'value="digest" required checked' in page.text

    for words in ("First proposal", "Second proposal"):
        call(notify_users, [people.district_user], kind="proposal", message=words, link="/matching")
    call(notify_users, [people.district_user], kind="site", message="Only for the page", link="/")
    settings = _settings(client)
    # Nothing now: the events of a day go out the next day, together.
    assert _deliver(client, call)["sent"] == 0
    assert call(mailing.send_digests, settings) == 0

    tomorrow = datetime.now(UTC) + timedelta(days=1)

    async def two_senders_at_once():
        return await asyncio.gather(
            mailing.send_digests(settings, tomorrow), mailing.send_digests(settings, tomorrow)
        )

    assert sorted(call(two_senders_at_once)) == [0, 1]
    assert call(mailing.send_digests, settings, tomorrow) == 0
    assert call(mailing.send_digests, settings, tomorrow + timedelta(hours=5)) == 0
    assert _deliver(client, call)["sent"] == 1
    [digest] = smtp.inbox.messages
    assert digest["To"] == EMAILS["district"]
    assert digest["Subject"] == "Testbed: 2 things need your action"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = digest.get_body(("plain",)).get_content()
    assert "First proposal" in text and "Second proposal" in text
    assert "Only for the page" not in text
    assert f"{settings.base_url}/matching" in text
    # The next day, with nothing new, nothing is sent.
    assert call(mailing.send_digests, settings, tomorrow + timedelta(days=1)) == 0


def test_one_click_unsubscribe_without_a_session(client, call, people, smtp):
    _district_accepts(client, call, people)
    _deliver(client, call)
    [mail] = smtp.inbox.messages
    path = urlsplit(mail["List-Unsubscribe"][1:-1]).path
    with other_browser(client):
        # A GET (a mail scanner following the link) shows a button and changes nothing.
        page = client.get(path)
        assert page.status_code == 200
        assert f'<form method="post" action="{path}">' in page.text
        assert call(mailing.mail_choice, people.vendor_user) == "immediate"
        # The mail program's POST: no session, no CSRF token.
        done = client.post(path, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert done.status_code == 200, done.text
        assert "no more notification mail" in done.text
    assert call(mailing.mail_choice, people.vendor_user) == "none"

    # The next proposal reaches the page but not the mailbox.
    _district_accepts(client, call, people)
    assert _deliver(client, call)["sent"] == 0
    assert len(smtp.inbox.messages) == 1


@pytest.mark.parametrize(
    "token",
    [
        "nothing",
        "1.",
        "1.AAAA",
        "abc.def",
        "99999999999999999999.x",
        "-1.x",
        "0.x",
        "x" * 500,
        "1.%C3%A9t%C3%A9",  # non-ASCII after the id
        "%EF%BC%91.x",  # a full-width digit
    ],
)
def test_a_bad_unsubscribe_link_is_a_clear_404(client, call, people, token):
    for method in ("GET", "POST"):
        response = client.request(method, f"/unsubscribe/{token}", follow_redirects=False)
        assert response.status_code == 404, (method, response.status_code)
        assert "unsubscribe link is not valid" in response.text


def test_an_unsubscribe_token_is_bound_to_its_person_and_the_secret(client, call, people):
    settings = _settings(client)
    token = mailing.unsubscribe_token(people.vendor_user, settings)
    user_part, _, mac = token.partition(".")
    forged = f"{people.district_user}.{mac}"  # another person's id with this MAC
    other_secret = mailing.unsubscribe_token(
        people.vendor_user, replace(settings, secret_key="another secret")
    )
    for bad in (forged, other_secret):
        assert client.post(f"/unsubscribe/{bad}").status_code == 404
    assert call(mailing.mail_choice, people.district_user) == "immediate"
    # A deleted account's link is refused in words too, not a 500.
    gone = mailing.unsubscribe_token(987654, settings)
    assert client.post(f"/unsubscribe/{gone}").status_code == 404
    # So is the link of an account that was deleted (its row stays as "a former member"):
    # an outside check found it answering as if the account were live.
    from testbed.tables import User

    call(lambda: User.update({User.active: False}).where(User.id == people.vendor_user))
    deleted = mailing.unsubscribe_token(people.vendor_user, settings)
    assert client.get(f"/unsubscribe/{deleted}").status_code == 404
    assert client.post(f"/unsubscribe/{deleted}").status_code == 404


def test_a_name_with_line_breaks_cannot_add_headers(client, call, people, smtp):
    call(
        lambda: Organization.update(
            {Organization.name: "Cedar\r\nBcc: victim@example.org\r\nX-Evil: 1"}
        ).where(Organization.id == people.district)
    )
    _district_accepts(client, call, people)
    assert _deliver(client, call) == {"sent": 1, "retried": 0, "failed": 0}
    [mail] = smtp.inbox.messages
    assert mail["Bcc"] is None and mail["X-Evil"] is None
    assert "\n" not in mail["Subject"] and "\r" not in mail["Subject"]
    assert mail["Subject"].startswith("Testbed: Cedar Bcc: victim@example.org X-Evil: 1 accepted")
    assert smtp.inbox.envelopes[0][1] == [EMAILS["vendor"]]


def test_transactional_mail_has_no_unsubscribe(client, call, people, smtp):
    response = post_form(client, "/password/forgot", {"email": EMAILS["district"]})
    assert response.status_code in (200, 302, 303)
    assert _deliver(client, call)["sent"] == 1
    [mail] = smtp.inbox.messages
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None


def test_the_choice_page_needs_a_signed_in_person_and_a_valid_choice(client, call, people):
    page = client.get("/account/notifications", follow_redirects=False)
    assert page.status_code in (302, 303) and page.headers["location"].startswith("/login")
    refused = post_form(client, "/account/notifications", {"mail": "none"})
    assert refused.status_code in (302, 303, 401, 403)

    sign_in(client, "vendor")
    account = client.get("/account")
    assert 'href="/account/notifications"' in account.text
    page = client.get("/account/notifications")
    assert page.status_code == 200
    assert 'value="immediate" required checked' in page.text  # the default
    bad = post_form(client, "/account/notifications", {"mail": "hourly"})
    assert bad.status_code == 422
    assert "Choose immediate, daily digest or no mail." in bad.text
    no_csrf = client.post("/account/notifications", data={"mail": "none"}, follow_redirects=False)
    assert no_csrf.status_code in (302, 303, 401, 403)
    assert call(mailing.mail_choice, people.vendor_user) == "immediate"


def test_the_choice_over_the_api(client, call, people):
    from testbed.accounts.services import create_access_token

    async def token():
        return (await create_access_token(await load_principal(people.vendor_user), "t"))[1]

    bearer = {"Authorization": f"Bearer {call(token)}"}
    assert client.get("/api/v1/me/notification-mail").status_code == 401
    got = client.get("/api/v1/me/notification-mail", headers=bearer)
    assert got.status_code == 200 and got.json()["mail"] == "immediate"
    assert set(got.json()["choices"]) == {"immediate", "digest", "none"}
    put = client.put("/api/v1/me/notification-mail", json={"mail": "digest"}, headers=bearer)
    assert put.status_code == 200 and put.json()["mail"] == "digest"
    assert call(mailing.mail_choice, people.vendor_user) == "digest"
    bad = client.put("/api/v1/me/notification-mail", json={"mail": "hourly"}, headers=bearer)
    assert bad.status_code == 400
    # A session cookie alone does not write over the API (no CSRF there).
    sign_in(client, "vendor")
    assert client.put("/api/v1/me/notification-mail", json={"mail": "none"}).status_code == 401
    assert call(mailing.mail_choice, people.vendor_user) == "digest"


def test_the_unsubscribe_header_is_sent_as_one_plain_line(client, call, people):
    # The email package would fold a long URL into RFC 2047 encoded words, which no mail
    # program reads as an address: the header goes out as it is, and a line break is refused.
    from aiosmtplib.email import flatten_message

    from testbed.mail import messages

    url = "https://testbed.example.org/unsubscribe/" + mailing.unsubscribe_token(
        123456, _settings(client)
    )
    common = {
        "mail_from": "testbed@example.org",
        "to_address": "x@school.example",
        "subject": "s",
        "body_text": "t",
        "body_html": "<p>h</p>",
        "message_id": "<1@example.org>",
    }
    raw = flatten_message(messages.build(**common, list_unsubscribe=url)).decode()
    assert f"\r\nList-Unsubscribe: <{url}>\r\n" in raw
    assert "=?utf-8?" not in raw
    with pytest.raises(ValueError):
        messages.build(**common, list_unsubscribe=url + "\r\nBcc: victim@example.org")
