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
# Signing out or deleting one's account would end the walk's own session (the walk fills the
# password and ticks the box); tests/web/test_account_deletion.py covers deletion's form.
SKIPPED_ACTIONS = ("/logout", "/account/delete")
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


# --- text no database column can hold, and bodies no decoder can read (testbed/edge.py) ------

NUL = "\x00"


def _json_body_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every operation whose handler reads a JSON body."""
    from litestar.enums import RequestEncodingType
    from litestar.params import BodyKwarg

    routes = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None or (
                isinstance(data.kwarg_definition, BodyKwarg)
                and data.kwarg_definition.media_type != RequestEncodingType.JSON
            ):
                continue
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                routes.append((method, route.path))
    return routes


def _assert_refused_as_unreadable(response, *, api: bool) -> None:
    assert response.status_code == 400, (response.request.url, response.text[:300])
    if api:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 400
    else:
        assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    [
        "/pilots?q=a%00b",
        "/products?q=%00",
        "/districts?subject=math&q=x%00",
        "/login?next=/pilots%00",
        "/api/v1/pilots?q=a%00b",
        "/api/v1/products?subject=ma%00th",
        "/api/v1/needs?q=a%00b",
        "/invitations/abc%00def",
        "/findings/1%00",
    ],
)
def test_a_nul_byte_in_the_address_is_refused_for_anyone(client, people, call, path):
    before = call(_table_counts)
    response = client.get(path)
    _assert_refused_as_unreadable(response, api=path.startswith("/api/"))
    if "?" in path:
        assert "NUL character" in response.text
    assert call(_table_counts) == before


def test_a_nul_byte_in_a_cookie_is_refused_before_the_session_is_looked_up(client, people):
    response = client.get("/pilots", headers={"Cookie": "testbed_session=abc%00def"})
    _assert_refused_as_unreadable(response, api=False)


@pytest.mark.parametrize(
    "form",
    [
        {"email": f"admin{NUL}@network.example", "password": PASSWORD},
        {"email": "admin@network.example", "password": f"pass{NUL}word"},
    ],
)
def test_a_nul_byte_in_the_sign_in_form_is_refused(client, people, call, form):
    from tests.web.conftest import post_form

    before = call(_table_counts)
    response = post_form(client, "/login", form)
    _assert_refused_as_unreadable(response, api=False)
    assert call(_table_counts) == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": f"a{NUL}b"},
        {"name": "fine", f"ke{NUL}y": "value"},
        {"name": ["nested", {"deeper": f"{NUL}"}]},
    ],
)
def test_a_nul_byte_anywhere_in_a_json_body_is_refused(client, people, call, body):
    token = token_for(call, people.admin)
    before = call(_table_counts)
    response = client.post("/api/v1/tokens", json=body, headers=bearer(token))
    _assert_refused_as_unreadable(response, api=True)
    assert "NUL character" in response.json()["detail"]
    assert call(_table_counts) == before


def test_a_nul_byte_in_a_multipart_text_field_is_refused(client, people, call):
    from tests.web.conftest import post_form

    sign_in(client, "district")
    before = call(_table_counts)
    response = post_form(
        client,
        f"/pilots/{people.active_pilot}/sites/{people.district}/upload",
        {"kind": f"students{NUL}"},
        files={"file": ("a.csv", b"student_key,arm\nS1,treatment\n", "text/csv")},
    )
    _assert_refused_as_unreadable(response, api=False)
    assert call(_table_counts) == before


def test_a_nul_byte_in_every_text_field_of_every_form_is_refused(app, client, people, call):
    """Every form each kind of user sees, with NUL in all its free-text fields: 400, not 500,
    and nothing stored."""
    failures: list[str] = []
    tried: set[tuple[str, str, str]] = set()
    for role in ("anonymous", "vendor", "district", "researcher", "admin"):
        with other_browser(client):
            if role != "anonymous":
                sign_in(client, role)
            for page in _pages(app, client, people, role):
                response = client.get(page, follow_redirects=False)
                if response.status_code != 200 or "text/html" not in response.headers.get(
                    "content-type", ""
                ):
                    continue
                for form in forms_of(page, response.text):
                    kind = (role, form.method, re.sub(r"\d+", "N", urlsplit(form.action).path))
                    if form.action.endswith(SKIPPED_ACTIONS) or kind in tried:
                        continue
                    data = _filled(form, keep=set())
                    texts = [name for name, value in data.items() if value == PAYLOAD]
                    if not texts:
                        continue
                    tried.add(kind)
                    data.update({name: f"a{NUL}b" for name in texts})
                    if form.method == "post":
                        answer = client.post(form.action, data=data, follow_redirects=False)
                    else:
                        answer = client.get(form.action, params=data, follow_redirects=False)
                    if answer.status_code != 400:
                        failures.append(f"{role} {form.method} {form.action}: {answer.status_code}")
    assert len(tried) >= 10, f"only {len(tried)} forms with text fields were found"
    assert failures == []
    assert call(_rows_holding_nul) == []


async def _rows_holding_nul() -> list[str]:
    """Tables with a row holding NUL anywhere (SQLite would store it; PostgreSQL would fail)."""
    found = []
    for table in TABLES:
        for row in await table.select():
            if "\\x00" in repr(row):  # repr escapes the NUL
                found.append(f"{table._meta.tablename} {row.get('id')}")
    return found


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"name": "\xff\xfe caf\xe9"}', id="invalid-utf8"),
        pytest.param(b"[" * 1000 + b"]" * 1000, id="nested-1000-deep"),
        pytest.param(b'{"name": ' + b"[" * 40 + b"]" * 40 + b"}", id="nested-41-deep"),
        pytest.param(b'{"name": "a\\u0000b"}', id="escaped-nul"),
        pytest.param(b'{"name": ', id="truncated"),
    ],
)
def test_unreadable_json_is_a_400_on_every_json_operation(app, client, people, call, body):
    token = token_for(call, people.admin)
    routes = _json_body_routes(app)
    assert len(routes) >= 20, routes
    answers: dict[int, list[str]] = {}
    for method, template in routes:
        path = _fill(template, client.blocking_portal.call(_path_values, people, "admin"))
        response = client.request(
            method,
            path,
            content=body,
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        answers.setdefault(response.status_code, []).append(f"{method} {template}")
        if response.status_code == 400:
            assert response.headers["content-type"].startswith("application/problem+json")
    # The administrator passes every guard but those of member-only operations (403/404 come
    # first, before the body is read); everything else refuses the body itself.
    assert set(answers) <= {400, 403, 404}, answers
    assert len(answers[400]) >= 0.7 * len(routes), answers
