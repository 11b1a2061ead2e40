"""CSRF tokens are bound to the session and rotated at sign-in: a cookie-and-token pair that
is valid for Litestar's double-submit check, but belongs to another session (or to the browser
before sign-in, such as one planted by an attacker), does not act for the signed-in person."""

from __future__ import annotations

from tests.web.conftest import EMAILS, PASSWORD, csrf_token, post_form, sign_in


async def _token_names(user_id: int) -> list[str]:
    from testbed.tables import AccessToken

    rows = await AccessToken.select(AccessToken.name).where(AccessToken.user == user_id)
    return [row["name"] for row in rows]


def _browser_cookies(client) -> dict[str, str]:
    return {name: client.cookies[name] for name in ("testbed_session", "csrftoken")}


def _post_as(client, cookies: dict[str, str], path: str, data: dict):
    """POST with exactly these cookies (not the client's jar) and the CSRF token in the form."""
    client.cookies.clear()
    return client.post(
        path,
        data=data,
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        follow_redirects=False,
    )


def test_another_sessions_cookie_and_token_pair_is_refused(client, call, people):
    """The attacker (signed in as the other vendor) has a valid cookie-and-token pair of their
    own session; sent with the victim's session cookie, the form does not act as the victim:
    it is asked to sign in and creates nothing. The victim's own pair still works."""
    sign_in(client, "vendor")
    victim = _browser_cookies(client)
    client.cookies.clear()
    sign_in(client, "other_vendor")
    attacker = _browser_cookies(client)
    assert attacker["csrftoken"] != victim["csrftoken"]

    forged = _post_as(
        client,
        {"testbed_session": victim["testbed_session"], "csrftoken": attacker["csrftoken"]},
        "/account/tokens",
        {"name": "planted", "_csrf_token": attacker["csrftoken"]},
    )
    assert forged.status_code in (302, 303)
    assert forged.headers["location"].startswith("/login")
    assert call(_token_names, people.vendor_user) == []

    own = _post_as(
        client, victim, "/account/tokens", {"name": "mine", "_csrf_token": victim["csrftoken"]}
    )
    assert own.status_code == 200
    assert call(_token_names, people.vendor_user) == ["mine"]


def test_an_anonymous_pair_from_before_sign_in_is_refused_after_it(client, call, people):
    """The token is rotated at sign-in: the pair the browser had before (which an attacker
    could have planted or read) no longer works once the person is signed in."""
    before = csrf_token(client)
    response = post_form(client, "/login", {"email": EMAILS["vendor"], "password": PASSWORD})
    assert response.status_code in (302, 303)
    after = client.cookies["csrftoken"]
    assert after != before
    session = client.cookies["testbed_session"]

    stale = _post_as(
        client,
        {"testbed_session": session, "csrftoken": before},
        "/account/tokens",
        {"name": "stale", "_csrf_token": before},
    )
    assert stale.status_code in (302, 303)
    assert stale.headers["location"].startswith("/login")
    fresh = _post_as(
        client,
        {"testbed_session": session, "csrftoken": after},
        "/account/tokens",
        {"name": "fresh", "_csrf_token": after},
    )
    assert fresh.status_code == 200
    assert call(_token_names, people.vendor_user) == ["fresh"]


def test_forms_rendered_after_sign_in_carry_the_sessions_token(client, people):
    sign_in(client, "vendor")
    page = client.get("/account").text
    assert f'value="{client.cookies["csrftoken"]}"' in page
    assert post_form(client, "/account/tokens", {"name": "from the page"}).status_code == 200
