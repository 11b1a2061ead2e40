"""After every save, the next page says what happened, once (a flash message kept in the
session), and a failed save re-renders the form with its errors instead."""

from __future__ import annotations

from litestar.testing import TestClient

from tests.web.conftest import post_form, sign_in

NEED = {
    "title": "Chronic absence in middle school",
    "statement": "One in five students in grades 6-8 misses more than 10% of school days.",
    "pillars": ["1", "4"],
    "grade_band": "g68",
    "subject": "attendance",
}
SAVED = '<p class="notice saved" role="status">The need is saved.</p>'


def test_a_saved_form_is_confirmed_on_the_next_page_and_only_there(client, people):
    sign_in(client, "district")
    created = post_form(client, f"/districts/{people.district}/needs", NEED)
    assert created.status_code in (302, 303)
    after = client.get(created.headers["location"])
    assert SAVED in after.text
    assert SAVED not in client.get(created.headers["location"]).text  # shown once


def test_a_refused_save_shows_errors_and_no_confirmation(client, people):
    sign_in(client, "district")
    refused = post_form(client, f"/districts/{people.district}/needs", {**NEED, "title": ""})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert "saved" not in refused.text.split("<main", 1)[1].split("</main>", 1)[0].lower()
    assert SAVED not in client.get(f"/districts/{people.district}/needs").text


def test_the_message_belongs_to_the_session_that_saved(client, people):
    sign_in(client, "district")
    post_form(client, f"/districts/{people.district}/needs", NEED)
    with TestClient(app=client.app) as stranger:
        assert SAVED not in stranger.get(f"/districts/{people.district}/needs").text
