"""The rendered markup of the forms macros: each attribute stands apart, so the browser sees
`required`, `autocomplete` and `aria-invalid` (the Jinja environment trims whitespace around
block tags, which once glued them into one unknown attribute)."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.web.conftest import post_form, sign_in

# Every attribute the forms macros and the pages' own inputs may carry.
KNOWN_ATTRIBUTES = {
    "id",
    "name",
    "type",
    "value",
    "required",
    "autocomplete",
    "aria-invalid",
    "aria-describedby",
    "checked",
    "selected",
    "rows",
    "cols",
    "min",
    "max",
    "step",
    "inputmode",
    "pattern",
    "maxlength",
    "minlength",
    "accept",
    "class",
    "placeholder",
    "disabled",
    "readonly",
    "size",
    "spellcheck",
}


class FieldParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        if tag in {"input", "select", "textarea", "option"}:
            attributes = {name: value or "" for name, value in attrs}
            key = attributes.get("name", "") if tag != "option" else f"option:{attributes}"
            self.fields[key] = attributes


def _fields(html: str) -> dict[str, dict[str, str]]:
    parser = FieldParser()
    parser.feed(html)
    return parser.fields


def _unknown_attributes(html: str) -> set[str]:
    return {name for field in _fields(html).values() for name in field} - KNOWN_ATTRIBUTES


def test_sign_in_inputs_keep_required_and_autocomplete(client):
    page = client.get("/login")
    assert page.status_code == 200
    fields = _fields(page.text)
    assert "required" in fields["email"] and "required" in fields["password"]
    assert fields["email"]["autocomplete"] == "username"
    assert fields["email"]["value"] == ""
    assert _unknown_attributes(page.text) == set()


def test_sign_up_inputs_and_the_field_with_an_error_are_marked(client):
    page = client.get("/signup")
    assert page.status_code == 200
    assert _unknown_attributes(page.text) == set()
    assert "required" in _fields(page.text)["email"]

    refused = post_form(
        client,
        "/signup",
        {
            "name": "Morgan Lee",
            "email": "morgan@example.org",
            "password": "password2026!",
            "organization_name": "Morgan Learning",
            "organization_kind": "district",
            "state": "oh",
        },
    )
    assert refused.status_code == 422
    fields = _fields(refused.text)
    assert fields["password"].get("aria-invalid") == "true"
    assert "e-password" in fields["password"]["aria-describedby"]
    assert fields["name"]["value"] == "Morgan Lee"
    assert "aria-invalid" not in fields["name"]
    # A field with neither help nor an error points at nothing (an empty aria-describedby was
    # written on every such field: found by the browser journey's axe run).
    assert "aria-describedby" not in fields["name"]
    assert _unknown_attributes(refused.text) == set()


def test_the_design_editor_and_upload_form_have_no_glued_attributes(client, people):
    sign_in(client, "vendor")
    editor = client.get(f"/pilots/{people.active_pilot}/design/edit")
    assert editor.status_code == 200
    assert _unknown_attributes(editor.text) == set()
    sign_in(client, "district")
    upload = client.get(f"/pilots/{people.active_pilot}/data")
    assert upload.status_code == 200
    assert _unknown_attributes(upload.text) == set()


def test_numbers_are_number_inputs_with_their_bounds(client, people):
    sign_in(client, "vendor")
    editor = _fields(client.get(f"/pilots/{people.active_pilot}/design/edit").text)
    assert editor["planned_sites"]["type"] == "number" and editor["planned_sites"]["min"] == "1"
    assert editor["icc"]["type"] == "number"
    assert (editor["icc"]["min"], editor["icc"]["max"], editor["icc"]["step"]) == ("0", "1", "any")
    assert editor["minimum_meaningful_effect"]["step"] == "any"  # decimals are allowed
    sign_in(client, "district")
    profile = _fields(client.get(f"/districts/{people.district}/profile").text)
    assert profile["frl_share"]["type"] == "number" and profile["frl_share"]["max"] == "100"
    assert profile["enrollment"]["type"] == "number"
    assert profile["nces_lea_id"]["type"] == "text"  # an id with leading zeros stays text


def test_every_time_on_a_page_has_one_format():
    from datetime import UTC, datetime, timedelta, timezone

    from testbed.web import when

    assert when(datetime(2026, 12, 7, 14, 5, 59, tzinfo=UTC)) == "2026-12-07 14:05 UTC"
    eastern = timezone(timedelta(hours=-5))
    assert when(datetime(2026, 12, 7, 9, 5, tzinfo=eastern)) == "2026-12-07 14:05 UTC"
    assert when(datetime(2026, 12, 7, 14, 5)) == "2026-12-07 14:05 UTC"  # SQLite's naive UTC
    assert when(None) == "–"
