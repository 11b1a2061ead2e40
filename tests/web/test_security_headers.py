"""Security headers on every kind of response: pages, API, errors, redirects and static files.

Every route answers through `tests/web/test_authorization_matrix.py`, which checks these headers
on each response it gets; here are the responses no route handler makes (unknown paths, server
errors, static files) and the API viewers' relaxed policy.
"""

from __future__ import annotations

import pytest
from litestar import get

from testbed.app import API_VIEWER_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY
from tests.web.conftest import post_form, sign_in

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def missing_security_headers(response) -> list[str]:
    """The security headers a response lacks or gets wrong (an empty list when all is well)."""
    problems = [
        f"{name}: {response.headers.get(name)!r}"
        for name, value in EXPECTED.items()
        if response.headers.get(name) != value
    ]
    policy = response.headers.get("content-security-policy", "")
    if "frame-ancestors 'none'" not in policy or "default-src 'self'" not in policy:
        problems.append(f"content-security-policy: {policy!r}")
    if "camera=()" not in response.headers.get("permissions-policy", ""):
        problems.append("permissions-policy")
    return problems


def test_the_page_policy_allows_no_inline_script_and_no_other_origin():
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self' 'unsafe-inline'"  # inline SVG charts' styles
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'none'"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/health", 200),
        ("/api/v1/network/numbers", 200),
        ("/static/style.css", 200),
        ("/static/no-such-file.css", 404),
        ("/no/such/page", 404),
        ("/api/v1/no/such/thing", 404),
        ("/api/v1/me", 401),
        ("/account", 302),
        ("/schema/openapi.json", 200),
    ],
)
def test_every_kind_of_response_carries_the_headers(client, path, status):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == status
    assert missing_security_headers(response) == []
    policy = (
        API_VIEWER_CONTENT_SECURITY_POLICY
        if path.startswith("/schema")
        else CONTENT_SECURITY_POLICY
    )
    assert response.headers["content-security-policy"] == policy


def test_refused_form_posts_and_wrong_methods_carry_the_headers(client, people):
    without_csrf = client.post("/login", data={"email": "x@y.example", "password": "z"})
    assert without_csrf.status_code == 403
    assert missing_security_headers(without_csrf) == []
    wrong_method = client.delete("/login")
    assert wrong_method.status_code == 405
    assert missing_security_headers(wrong_method) == []
    invalid = post_form(client, "/login", {"email": "x@y.example", "password": "wrong"})
    assert invalid.status_code >= 400
    assert missing_security_headers(invalid) == []


def test_signed_in_pages_carry_the_headers(client, people):
    sign_in(client, "admin")
    for path in ("/", "/account", "/admin", "/api/v1/me"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert missing_security_headers(response) == [], path


def test_server_errors_carry_the_headers(app, client):
    @get("/test-only/explode", opt={"access": "public"}, include_in_schema=False)
    async def explode() -> None:
        raise RuntimeError("boom")

    app.register(explode)
    for accept in ("text/html", "application/json"):
        response = client.get("/test-only/explode", headers={"accept": accept})
        assert response.status_code == 500
        assert "boom" not in response.text
        assert missing_security_headers(response) == []


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_api_viewers_get_a_policy_that_allows_their_cdn_and_nothing_more(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == API_VIEWER_CONTENT_SECURITY_POLICY
    assert "https://cdn.jsdelivr.net" in response.text
    assert missing_security_headers(response) == []


# --- caching of personal answers, and HSTS -----------------------------------------------------


def test_answers_to_a_signed_in_person_are_never_stored(client, people):
    """Everything answered to a signed-in session or token (pages with colleagues' addresses,
    the account page with a token shown once, API answers) says Cache-Control: no-store."""
    sign_in(client, "vendor")
    new_token = post_form(client, "/account/tokens", {"name": "nightly upload"})
    assert new_token.status_code == 200 and "tb_" in new_token.text
    assert new_token.headers["cache-control"] == "no-store"
    for path in (
        "/",
        "/account",
        f"/organizations/{people.vendor}/members",
        f"/pilots/{people.active_pilot}/team",
        "/api/v1/me",
        f"/api/v1/organizations/{people.vendor}/members",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers.get("cache-control") == "no-store", path
    token = client.post(
        "/api/v1/tokens", json={"name": "script"}, headers={"Authorization": "Bearer x"}
    )
    assert token.status_code == 401  # an unknown token is refused...
    assert token.headers.get("cache-control") != "no-store"  # ...and shows nothing personal


def test_account_pages_are_never_stored_even_before_sign_in(client):
    for path in ("/login", "/signup", "/account", "/invitations/unknown-token"):
        response = client.get(path, follow_redirects=False)
        assert response.headers.get("cache-control") == "no-store", path
    signed_in = post_form(client, "/login", {"email": "x@y.example", "password": "wrong-wrong"})
    assert signed_in.headers.get("cache-control") == "no-store"


def test_public_pages_for_anonymous_visitors_may_be_cached(client, people):
    for path in ("/", "/api/v1/network/numbers", "/static/style.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers.get("cache-control") != "no-store", path


def test_hsts_only_when_served_over_https(settings):
    from dataclasses import replace

    from litestar.testing import TestClient

    from testbed.app import create_app

    with TestClient(create_app(settings)) as plain:
        assert "strict-transport-security" not in plain.get("/").headers
    with TestClient(create_app(replace(settings, secure_cookies=True))) as secure:
        for path in ("/", "/login", "/api/v1/network/numbers", "/no/such/page"):
            assert secure.get(path).headers["strict-transport-security"] == "max-age=31536000"
