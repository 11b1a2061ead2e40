"""Account writes that race: simultaneous sign-ups, invitations accepted at once, admins
demoting each other. Every request is sent from its own thread into the one app (as in
test_concurrency), on SQLite and PostgreSQL alike; nothing may answer 500, and the database
holds what the rules allow, checked afterwards."""

from __future__ import annotations

import re

from tests import factories
from tests.web.conftest import EMAILS, PASSWORD, csrf_token, other_browser, post_form, sign_in
from tests.web.test_concurrency import _fire

SIGNUPS = 10


def _signup_request(client, number: int, **overrides) -> dict:
    form = {
        "name": f"Person {number}",
        "email": f"person{number}@riverbend.example",
        "password": "granite-harbor-quill-7",
        "organization_kind": "district",
        "organization_name": "Riverbend Schools",
        "state": "OH",
        "_csrf_token": csrf_token(client),
    }
    return {"url": "/signup", "data": {**form, **overrides}, "follow_redirects": False}


async def _accounts() -> dict:
    from testbed.tables import Invitation, Membership, Organization, User

    return {
        "users": await User.select(User.id, User.email),
        "organizations": await Organization.select(Organization.id, Organization.slug),
        "memberships": await Membership.select(
            Membership.user, Membership.organization, Membership.role
        ),
        "invitations": await Invitation.select(Invitation.id, Invitation.accepted_at),
    }


def test_ten_simultaneous_sign_ups_all_succeed_each_with_its_own_organization(client, call):
    """Ten people sign up at the same moment, all naming their organization alike: every
    sign-up succeeds (on SQLite eight of them used to fail with "database is locked"), and
    each has its own organization with its own slug, and its admin membership."""
    responses = _fire(client, [_signup_request(client, n) for n in range(SIGNUPS)])
    assert [r.status_code for r in responses] == [302] * SIGNUPS, [r.text for r in responses]

    stored = call(_accounts)
    assert len(stored["users"]) == SIGNUPS
    slugs = sorted(row["slug"] for row in stored["organizations"])
    assert slugs == sorted(
        ["riverbend-schools"] + [f"riverbend-schools-{n}" for n in range(2, SIGNUPS + 1)]
    )
    assert len(stored["memberships"]) == SIGNUPS
    assert {m["role"] for m in stored["memberships"]} == {"admin"}
    assert len({m["organization"] for m in stored["memberships"]}) == SIGNUPS


def test_the_same_address_signed_up_ten_times_at_once_makes_one_account(client, call):
    """The same address ten times at once: one account and one organization, never a 500
    (the unique violation used to reach the user on both databases)."""
    same = _signup_request(client, 0)
    responses = _fire(client, [{**same, "data": dict(same["data"])} for _ in range(SIGNUPS)])
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    stored = call(_accounts)
    assert [u["email"] for u in stored["users"]] == ["person0@riverbend.example"]
    assert len(stored["organizations"]) == 1
    assert len(stored["memberships"]) == 1


def _invite(client, people, email: str) -> str:
    page = post_form(
        client, f"/organizations/{people.vendor}/invitations", {"email": email, "role": "member"}
    )
    assert page.status_code == 200, page.text
    link = re.search(r"<code>(http[^<]+/invitations/[^<]+)</code>", page.text).group(1)
    return link.rsplit("/", 1)[-1]


def test_one_invitation_used_by_ten_sign_ups_at_once_makes_one_member(client, call, people):
    sign_in(client, "vendor")
    token = _invite(client, people, "colleague@brightpath.example")
    with other_browser(client) as colleague:
        request = {
            "url": "/signup",
            "data": {
                "invitation": token,
                "name": "Cole League",
                "email": "colleague@brightpath.example",
                "password": "meadow-copper-violin-3",
                "_csrf_token": csrf_token(colleague),
            },
            "follow_redirects": False,
        }
        responses = _fire(
            colleague, [{**request, "data": dict(request["data"])} for _ in range(10)]
        )
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    stored = call(_accounts)
    colleagues = [u["id"] for u in stored["users"] if u["email"].startswith("colleague@")]
    assert len(colleagues) == 1
    assert [m for m in stored["memberships"] if m["user"] == colleagues[0]] == [
        {"user": colleagues[0], "organization": people.vendor, "role": "member"}
    ]
    assert [i["accepted_at"] is not None for i in stored["invitations"]] == [True]


async def _make_second_admin(people) -> dict[str, int]:
    from testbed.tables import Membership

    await factories.user(
        "second@brightpath.example", "Sec Ond", organization=people.vendor, role="admin"
    )
    rows = await Membership.select(Membership.id, Membership.user).where(
        Membership.organization == people.vendor
    )
    return {row["user"]: row["id"] for row in rows}


def _signed_in_cookies(client, email: str) -> dict[str, str]:
    """Sign in as this person and keep their browser's cookies (session and CSRF)."""
    client.cookies.clear()
    response = post_form(client, "/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    csrf_token(client)
    cookies = {"testbed_session": client.cookies["testbed_session"]}
    client.get("/account")
    cookies["csrftoken"] = client.cookies["csrftoken"]
    client.cookies.clear()
    return cookies


def _as(cookies: dict[str, str], url: str, data: dict) -> dict:
    return {
        "url": url,
        "data": {**data, "_csrf_token": cookies["csrftoken"]},
        "headers": {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        "follow_redirects": False,
    }


def test_two_admins_demoting_each_other_at_once_leave_one_admin(client, call, people):
    """Each of two admins demotes the other at the same moment: one wins, the other is refused
    (409: an organization needs an admin; or 403 when the winner had finished before the loser's
    request was even authorized), and the organization keeps exactly one admin."""
    memberships = call(_make_second_admin, people)
    second_user = next(user for user in memberships if user != people.vendor_user)
    first = _signed_in_cookies(client, EMAILS["vendor"])
    second = _signed_in_cookies(client, "second@brightpath.example")
    path = f"/organizations/{people.vendor}/members/{{}}/role"
    responses = _fire(
        client,
        [
            _as(first, path.format(memberships[second_user]), {"role": "member"}),
            _as(second, path.format(memberships[people.vendor_user]), {"role": "member"}),
        ],
    )
    codes = sorted(r.status_code for r in responses)
    assert codes in ([302, 403], [302, 409]), [r.text for r in responses]
    admins = [m for m in call(_accounts)["memberships"] if m["role"] == "admin"]
    assert len([m for m in admins if m["organization"] == people.vendor]) == 1


def test_sign_up_with_a_taken_address_is_not_a_server_error(client, people):
    response = post_form(
        client, "/signup", _signup_request(client, 1, email=EMAILS["vendor"])["data"]
    )
    assert response.status_code < 500


async def _login_attempts() -> list[dict]:
    from testbed.tables import LoginAttempt

    return await LoginAttempt.select(LoginAttempt.email, LoginAttempt.succeeded)


def test_thirty_simultaneous_wrong_passwords_check_at_most_the_limit(client, call, people):
    """30 wrong passwords for one account at the same moment: the limit (5) is checked and
    recorded in one step, so exactly 5 passwords are checked (400) and 25 are refused (429);
    before, 29 were checked. Then even the right password is refused."""
    from testbed.accounts.services import MAX_FAILURES_PER_ACCOUNT

    token = csrf_token(client)
    wrong = {
        "url": "/login",
        "data": {"email": EMAILS["vendor"], "password": "wrong-wrong-wrong", "_csrf_token": token},
        "follow_redirects": False,
    }
    responses = _fire(client, [{**wrong, "data": dict(wrong["data"])} for _ in range(30)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [400] * MAX_FAILURES_PER_ACCOUNT + [429] * (30 - MAX_FAILURES_PER_ACCOUNT)
    attempts = call(_login_attempts)
    assert len(attempts) == MAX_FAILURES_PER_ACCOUNT
    assert not any(a["succeeded"] for a in attempts)
    right = post_form(client, "/login", {"email": EMAILS["vendor"], "password": PASSWORD})
    assert right.status_code == 429


def test_a_successful_sign_in_is_recorded_as_succeeded_and_does_not_count(client, call, people):
    for _ in range(4):
        post_form(client, "/login", {"email": EMAILS["vendor"], "password": "wrong-wrong-wrong"})
    sign_in(client, "vendor")
    attempts = call(_login_attempts)
    assert sorted(a["succeeded"] for a in attempts) == [False] * 4 + [True]
    client.cookies.clear()
    sign_in(client, "vendor")  # 4 failures, not 5: still allowed
