"""Hostile input through every form and every id in a path.

The forms are found, not listed: every GET page of the route table is read as each kind of user,
its forms are parsed, and every free-text field is filled with script, markup and SQL. The test
then reads every page again (and the pages the forms redirected to) and checks that the payload
only ever appears escaped, and that the database still answers with all its tables. New pages and
forms are covered as they land.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from testbed.tables import TABLES
from tests.web.conftest import PASSWORD, other_browser, sign_in
from tests.web.test_authorization_matrix import _fill, _path_values, app_routes
from tests.web.test_designs import bearer, token_for

SCRIPT = '<script>alert("xss")</script>'
ATTRIBUTE_BREAKOUT = '"><img src=x onerror=alert(1)>'
SQL = "'; DROP TABLE account; --"
PAYLOAD = f"{SCRIPT}{ATTRIBUTE_BREAKOUT}{SQL}"
# What must never reach a page unescaped.
RAW_MARKUP = ("<script>alert(", "<img src=x onerror")

TEXT_TYPES = {"text", "search", "tel", ""}
# Forms that would end the walk: signing out.
SKIPPED_ACTIONS = ("/logout",)
ROUNDS_PER_FORM = 3


@dataclass
class Form:
    action: str
    method: str
    fields: list[dict] = field(default_factory=list)


class FormParser(HTMLParser):
    """The forms of a page with their fields (input, textarea, select) and current values."""

    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: list[Form] = []
        self._textarea: dict | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            action = urljoin(self.page_path, attributes.get("action") or self.page_path)
            self.forms.append(Form(action, attributes.get("method", "get").lower()))
        if not self.forms:
            return
        fields = self.forms[-1].fields
        if tag == "input" and attributes.get("name"):
            fields.append({**attributes, "type": attributes.get("type", "text").lower()})
        elif tag == "textarea" and attributes.get("name"):
            self._textarea = {"name": attributes["name"], "type": "textarea", "value": ""}
            fields.append(self._textarea)
        elif tag == "select" and attributes.get("name"):
            self._select = {"name": attributes["name"], "type": "select", "value": None}
            fields.append(self._select)
        elif (  # the selected option, else the first
            tag == "option"
            and self._select is not None
            and (self._select["value"] is None or "selected" in attributes)
        ):
            self._select["value"] = attributes.get("value", "")

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms_of(page_path: str, html: str) -> list[Form]:
    parser = FormParser(page_path)
    parser.feed(html)
    return parser.forms


def _filled(form: Form, keep: set[str]) -> dict[str, str | list[str]]:
    """The form's data with the payload in every free-text field not in `keep`."""
    data: dict[str, str | list[str]] = {}
    for item in form.fields:
        name, kind, value = item["name"], item["type"], item.get("value") or ""
        if kind in ("submit", "button", "file", "image", "reset"):
            continue
        if kind == "checkbox":
            if name not in data:  # the first box of each group
                data[name] = [item.get("value", "on")]
        elif kind in ("hidden", "select", "radio"):
            data.setdefault(name, value)
        elif kind == "password":
            data[name] = PASSWORD
        elif kind == "email":
            data[name] = value or f"hostile-{secrets.token_hex(4)}@example.org"
        elif kind == "url":
            data[name] = value if name in keep else f"https://example.org/?q={PAYLOAD}"
        elif kind == "number":
            data[name] = value or "10"
        elif kind == "date":
            data[name] = value or "2026-09-01"
        elif name in keep:
            data[name] = value or "Plain words"
        elif kind in TEXT_TYPES or kind == "textarea":
            data[name] = PAYLOAD
    return data


def _invalid_fields(html: str) -> set[str]:
    invalid = set()
    for form in forms_of("/", html):
        invalid |= {item["name"] for item in form.fields if "aria-invalid" in item}
    return invalid


def _unescaped(html: str) -> list[str]:
    return [marker for marker in RAW_MARKUP if marker in html]


class Walk:
    def __init__(self, client):
        self.client = client
        self.failures: list[str] = []
        self.stored_at: set[str] = set()
        self.submitted: set[tuple[str, str, str]] = set()

    def check(self, what: str, response) -> None:
        if response.status_code >= 500:
            self.failures.append(f"{what}: {response.status_code}")
        # Only HTML is parsed by a browser; downloads (CSV) carry the text as it was entered.
        is_html = "text/html" in response.headers.get("content-type", "")
        if is_html and (found := _unescaped(response.text)):
            self.failures.append(f"{what}: unescaped {found}")

    def submit(self, page: str, form: Form, role: str) -> None:
        # One form per kind for each user: the revoke buttons of forty tokens are one form.
        kind = (role, form.method, re.sub(r"\d+", "N", urlsplit(form.action).path))
        if kind in self.submitted:
            return
        self.submitted.add(kind)
        keep: set[str] = set()
        for _ in range(ROUNDS_PER_FORM):
            data = _filled(form, keep)
            if form.method == "post":
                response = self.client.post(form.action, data=data, follow_redirects=False)
            else:
                response = self.client.get(form.action, params=data, follow_redirects=False)
            self.check(f"{form.method.upper()} {form.action} (form on {page})", response)
            if response.status_code in (302, 303):
                self.stored_at.add(urlsplit(response.headers["location"]).path)
            invalid = _invalid_fields(response.text) if response.status_code == 422 else set()
            if not invalid - keep:
                return
            keep |= invalid  # the next round keeps valid values where the payload was refused


def _pages(app, client, people, role: str) -> list[str]:
    pages = []
    for route in app_routes(app):
        if route.method != "GET" or route.path.startswith(("/schema", "/static", "/api/")):
            continue
        values = client.blocking_portal.call(_path_values, people, role)
        pages.append(_fill(route.path, values))
    return pages


def _walk_forms(app, client, people, walk: Walk, role: str) -> None:
    for page in _pages(app, client, people, role):
        response = client.get(page, follow_redirects=False)
        walk.check(f"GET {page} as {role}", response)
        if response.status_code != 200 or "text/html" not in response.headers["content-type"]:
            continue
        for form in forms_of(page, response.text):
            if not form.action.endswith(SKIPPED_ACTIONS):
                walk.submit(page, form, role)


async def _table_counts() -> dict[str, int]:
    return {table._meta.tablename: await table.count() for table in TABLES}


def test_script_markup_and_sql_in_every_form_are_stored_harmlessly(app, client, people, call):
    walk = Walk(client)
    with other_browser(client):
        _walk_forms(app, client, people, walk, "anonymous")
    for role in ("vendor", "district", "admin"):
        with other_browser(client):
            sign_in(client, role)
            _walk_forms(app, client, people, walk, role)

    # Every page again, as the admin (who sees everything) and anonymously: stored payloads show.
    for role in ("admin", "anonymous"):
        with other_browser(client):
            if role != "anonymous":
                sign_in(client, role)
            for page in [*_pages(app, client, people, role), *sorted(walk.stored_at)]:
                walk.check(f"GET {page} as {role} after the walk", client.get(page))
    assert walk.failures == []
    assert walk.stored_at, "no form was accepted: the walk stored nothing to check"

    counts = call(_table_counts)
    assert counts["account"] >= 6, "the users are still there"
    assert sum(counts.values()) > 0
    with other_browser(client):
        sign_in(client, "admin")
        assert client.get("/admin").status_code == 200


def test_the_payload_was_stored_somewhere(app, client, people, call):
    """The walk above proves something only if the payload got into the database."""
    sign_in(client, "vendor")
    product_page = f"/products/{people.product}/edit"
    form = next(
        f for f in forms_of(product_page, client.get(product_page).text) if f.action == product_page
    )
    data = _filled(form, keep={item["name"] for item in form.fields if item["name"] != "name"})
    response = client.post(form.action, data=data, follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    shown = client.get(f"/products/{people.product}").text
    assert "&lt;script&gt;alert(" in shown
    assert _unescaped(shown) == []


IMPOSSIBLE_IDS = ("0", "-1", str(2**31), str(10**30))


@pytest.mark.parametrize("role", ["anonymous", "admin"])
def test_ids_no_row_can_have_are_not_found_on_every_route(app, client, people, role):
    if role != "anonymous":
        sign_in(client, role)
        token = client.post("/api/v1/tokens", json={"name": "ids"})
    failures = []
    for route in app_routes(app):
        if ":int}" not in route.path:
            continue
        for impossible in IMPOSSIBLE_IDS:
            path = _fill(route.path, {name: impossible for name in _names(route.path)})
            headers = {}
            if role != "anonymous" and path.startswith("/api/") and token.status_code == 201:
                headers["Authorization"] = f"Bearer {token.json()['token']}"
            response = client.request(
                route.method, path, headers=headers, json={} if route.method != "GET" else None
            )
            if response.status_code >= 500 or (
                role == "admin" and response.status_code not in (403, 404)
            ):
                failures.append(f"{route.method} {path} as {role}: {response.status_code}")
    assert failures == []


def _names(path: str) -> list[str]:
    return [part[1:].split(":")[0] for part in path.split("/") if part.startswith("{")]


@pytest.mark.parametrize(
    "path",
    [
        "/pilots?page=99999999999999999999",
        "/api/v1/pilots?page=99999999999999999999&per_page=99999999999",
        "/api/v1/products?product=99999999999999",
        "/api/v1/admin/audit?offset=99999999999999999999999&limit=-5",
        "/products?q=%27%3B%20DROP%20TABLE%20product%3B%20--",
    ],
)
def test_paging_and_filters_beyond_any_row_are_harmless(client, people, path):
    sign_in(client, "admin")
    response = client.get(path)
    assert response.status_code < 500


def test_ids_beyond_any_row_in_a_request_body_are_refused_by_name(client, call, people):
    response = client.post(
        f"/api/v1/pilots/{people.open_pilot}/invitations",
        json={"district_id": -5852347395577},
        headers=bearer(token_for(call, people.admin)),
    )
    assert response.status_code == 400
    assert "district_id" in response.text
