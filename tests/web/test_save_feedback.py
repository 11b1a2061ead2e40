"""After every save, the next page says what happened, once (a flash message kept in the
session), and a failed save re-renders the form with its errors instead."""

from __future__ import annotations

from tests import factories
from tests.web.conftest import other_browser, post_form, sign_in

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
    with other_browser(client) as stranger:
        assert SAVED not in stranger.get(f"/districts/{people.district}/needs").text
    assert SAVED in client.get(f"/districts/{people.district}/needs").text


def test_what_cannot_be_undone_asks_for_confirmation_first(client, call, people):
    from tests.web.findings_data import seed_study

    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding = post_form(client, f"/pilots/{study.pilot}/findings/run").headers["location"]
    finding_id = int(finding.rsplit("/", 1)[1])
    page = client.get(finding).text
    assert 'name="confirm" value="yes" required' not in page.split('id="publication"')[0]
    # Publishing, retracting and running a round refuse a post without the ticked box.
    unconfirmed = post_form(client, f"/findings/{finding_id}/publish")
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm that you want to publish this finding" in unconfirmed.text
    retract = post_form(client, f"/findings/{finding_id}/retract", {"reason": "wrong file"})
    assert retract.status_code == 422 and "retract this finding" in retract.text
    rounds = post_form(client, f"/pilots/{people.open_pilot}/rounds")
    assert rounds.status_code == 422 and "run a matching round" in rounds.text
    volunteers = client.get(f"/pilots/{people.open_pilot}/volunteers").text
    assert 'name="confirm" value="yes" required' in volunteers


def test_registering_an_underpowered_design_shows_the_warning_beside_the_confirmation(
    client, call, people
):
    from tests.web.findings_data import design_document

    async def draft() -> None:
        document = {**design_document(), "planned_students": 40}
        await factories.design(people.active_pilot, document, registered=False)

    call(draft)
    sign_in(client, "vendor")
    page = client.get(f"/pilots/{people.active_pilot}/design").text
    form = page.split(f'action="/pilots/{people.active_pilot}/design/register"', 1)[1]
    form = form.split("</form>", 1)[0]
    assert "Before you register:" in form and "the power warning above applies" in form
    refused = post_form(client, f"/pilots/{people.active_pilot}/design/register", {"version": "1"})
    assert refused.status_code == 422 and "register this version" in refused.text
