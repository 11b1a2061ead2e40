"""Findings through HTTP: run, read, suppression, approval, publication, retraction, exports,
deviations, the district's decision, and who is kept out."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest

from tests.web.conftest import PASSWORD, other_browser, post_form, sign_in
from tests.web.findings_data import (
    SECOND_DISTRICT_EMAIL,
    SMALL_GROUP,
    design_document,
    register,
    seed_study,
)


def _run(client, pilot_id: int) -> int:
    response = post_form(client, f"/pilots/{pilot_id}/findings/run")
    assert response.status_code in (302, 303), response.text
    return int(re.fullmatch(r"/findings/(\d+)", response.headers["location"]).group(1))


def _sign_in_second_district(client) -> None:
    response = post_form(client, "/login", {"email": SECOND_DISTRICT_EMAIL, "password": PASSWORD})
    assert response.status_code in (302, 303)


def _move_to_analysis(call, pilot_id: int) -> None:
    from testbed.tables import Pilot

    call(lambda: Pilot.update({Pilot.status: "analysis"}).where(Pilot.id == pilot_id))


def _decide(client, finding_id: int, decision: str, site: int | None = None) -> None:
    data = {"decision": decision, **({"site": str(site)} if site else {})}
    response = post_form(client, f"/findings/{finding_id}/approval", data)
    assert response.status_code in (302, 303), response.text


def test_run_shows_the_finding_with_headline_plots_and_details(client, call, people):
    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    page = client.get(f"/findings/{finding_id}")
    assert page.status_code == 200
    text = page.text
    assert "Students who used MathQuest scored" in text
    assert "standard deviations higher on the Spring math score" in text
    assert text.count("<svg") >= 3 and 'role="img"' in text and "<title" in text
    assert "What weakens this result" in text
    assert "A small pilot" in text  # fewer than 350 students
    assert "<details" in text and "Welch two-sample t test" in text
    # The seeded effect is 0.5 SD in 119 students: its p-values print as "< 0.001", never 0.000.
    assert "p &lt; 0.001" in text and "0.000<" not in text and "p = 0.000" not in text
    assert "not published" in text
    printable = client.get(f"/findings/{finding_id}/print")
    assert printable.status_code == 200 and "@page" in printable.text
    assert '<details class="researchers" open>' in printable.text


def test_rerunning_the_same_inputs_gives_the_same_finding(client, call, people):
    study = call(seed_study, people)
    sign_in(client, "researcher")
    first = _run(client, study.pilot)
    second = _run(client, study.pilot)
    assert first == second
    as_json = client.get(f"/findings/{first}.json").json()
    assert as_json["design_version_id"] and len(as_json["dataset_ids"]) == 1

    from testbed.designs.services import registered_design
    from testbed.findings.compute import canonical_json, compute_results
    from testbed.findings.services import analysis_inputs, current_datasets
    from testbed.tables import Finding

    async def recompute():
        design = await registered_design(study.pilot)
        datasets = await current_datasets(study.pilot)
        inputs = await analysis_inputs(study.pilot, design["id"], datasets)
        stored = await Finding.select(Finding.results).where(Finding.id == first).first()
        return canonical_json(compute_results(inputs)), stored["results"]

    again, stored = call(recompute)
    assert again == stored  # byte for byte


def test_small_subgroup_is_hidden_from_the_vendor_but_not_from_the_district(client, call, people):
    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)

    def english_learners(payload):
        subgroup = next(s for s in payload["results"]["subgroups"] if s["name"] == "el")
        return next(level for level in subgroup["levels"] if level["level"] == "yes")

    vendor_view = client.get(f"/api/v1/findings/{finding_id}").json()
    level = english_learners(vendor_view)
    assert vendor_view["suppressed"] is True
    assert level["treatment"]["n"] is None and level["treatment"]["mean"] is None
    assert level["g"] is None
    # Complementary suppression: the "no" row's cells are hidden too, so totals reveal nothing.
    other = next(
        lv
        for s in vendor_view["results"]["subgroups"]
        if s["name"] == "el"
        for lv in s["levels"]
        if lv["level"] == "no"
    )
    assert None in (other["treatment"]["n"], other["control"]["n"])
    assert "fewer than 10 students" in client.get(f"/findings/{finding_id}").text
    rows = list(csv.reader(io.StringIO(client.get(f"/findings/{finding_id}.csv").text)))
    el_rows = [row for row in rows if row[2] == "English learners: yes" and row[3].startswith("n")]
    assert el_rows and all(row[4].startswith("suppressed") for row in el_rows)

    with other_browser(client):
        sign_in(client, "district")
        district_view = client.get(f"/api/v1/findings/{finding_id}").json()
        assert district_view["suppressed"] is False
        assert english_learners(district_view)["treatment"]["n"] == SMALL_GROUP


def test_approval_with_a_withholding_district_then_public_reading(client, call, people):
    study = call(seed_study, people, second_site=True)
    withheld_site = study.sites[1]
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    _decide(client, finding_id, "approve")
    waiting_page = client.get(f"/findings/{finding_id}").text
    assert "Not ready to publish." in waiting_page and "have not decided yet" in waiting_page
    assert f'action="/findings/{finding_id}/publish"' not in waiting_page  # no button that errors
    refused = post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"})
    assert refused.status_code == 409 and "have not decided yet" in refused.text

    with other_browser(client):
        sign_in(client, "district")
        _decide(client, finding_id, "approve")
    with other_browser(client):
        _sign_in_second_district(client)
        assert client.get(f"/findings/{finding_id}").status_code == 200
        _decide(client, finding_id, "withhold", site=withheld_site)

    still_active = post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"})
    assert still_active.status_code == 409 and "still active" in still_active.text
    assert "still active" in client.get(f"/findings/{finding_id}").text
    _move_to_analysis(call, study.pilot)
    ready_page = client.get(f"/findings/{finding_id}").text
    assert "Not ready to publish." not in ready_page
    assert f'action="/findings/{finding_id}/publish"' in ready_page
    published = post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"})
    assert published.status_code in (302, 303), published.text
    public_id = int(published.headers["location"].rsplit("/", 1)[1])
    assert public_id != finding_id

    with other_browser(client):  # nobody signed in
        page = client.get(f"/findings/{public_id}")
        assert page.status_code == 200
        assert "1 district chose not to share its results; they are not included." in page.text
        payload = client.get(f"/findings/{public_id}.json").json()
        assert [row["site_id"] for row in payload["results"]["site_counts"]] == [study.sites[0]]
        assert payload["suppressed"] is True
        assert client.get(f"/findings/{finding_id}").status_code == 404  # the full one
        listing = client.get("/findings")
        assert f"/findings/{public_id}" in listing.text
        assert client.get("/api/v1/findings").json()[0]["id"] == public_id
        assert client.get(f"/pilots/{study.pilot}/findings").status_code == 200

    from testbed.tables import AuditEvent, Pilot

    status = call(lambda: Pilot.select(Pilot.status).where(Pilot.id == study.pilot).first())
    assert status["status"] == "published"
    for action in ("finding.publish", "pilot_status_changed"):
        assert call(lambda a=action: AuditEvent.exists().where(AuditEvent.action == a))
    with other_browser(client):
        assert f"/pilots/{study.pilot}/findings" in client.get(f"/pilots/{study.pilot}").text


def test_embargo_holds_publication_until_its_date(client, call, people):
    study = call(seed_study, people)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    _decide(client, finding_id, "approve")
    with other_browser(client):
        sign_in(client, "district")
        _decide(client, finding_id, "approve")
    _move_to_analysis(call, study.pilot)
    later = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    assert (
        post_form(client, f"/findings/{finding_id}/embargo", {"embargo_until": later}).status_code
        == 302
    )
    refused = post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"})
    assert refused.status_code == 409 and f"under embargo until {later}" in refused.text
    bad = post_form(client, f"/findings/{finding_id}/embargo", {"embargo_until": "next week"})
    assert bad.status_code == 422
    assert (
        post_form(client, f"/findings/{finding_id}/embargo", {"embargo_until": ""}).status_code
        == 302
    )
    assert (
        post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"}).status_code == 302
    )


def _publish_single_site(client, call, people, **study_options) -> tuple[int, int]:
    study = call(seed_study, people, **study_options)
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    _decide(client, finding_id, "approve")
    with other_browser(client):
        sign_in(client, "district")
        _decide(client, finding_id, "approve")
    _move_to_analysis(call, study.pilot)
    response = post_form(client, f"/findings/{finding_id}/publish", {"confirm": "yes"})
    assert response.status_code == 302
    return study.pilot, finding_id


def test_retraction_is_shown_with_its_reason(client, call, people):
    _, finding_id = _publish_single_site(client, call, people)
    missing = post_form(
        client, f"/findings/{finding_id}/retract", {"confirm": "yes", "reason": "  "}
    )
    assert missing.status_code == 422 and "Say why" in missing.text
    reason = "the district found a scoring error in the spring test"
    assert (
        post_form(
            client, f"/findings/{finding_id}/retract", {"confirm": "yes", "reason": reason}
        ).status_code
        == 302
    )
    with other_browser(client):
        page = client.get(f"/findings/{finding_id}").text
        assert "Retracted on" in page and f"because {reason}" in page
        assert "Students who used MathQuest scored" in page  # the numbers stay, marked
        assert 'class="retracted"' in page
        assert "retracted" in client.get("/findings").text
    again = post_form(
        client, f"/findings/{finding_id}/retract", {"confirm": "yes", "reason": "twice"}
    )
    assert again.status_code == 409


def test_csv_neutralizes_formulas(client, call, people):
    document = design_document(label='=HYPERLINK("http://evil.example","click")')
    title = "+SUM(1,2) pilot"
    _, finding_id = _publish_single_site(client, call, people, title=title, document=document)
    with other_browser(client):
        response = client.get(f"/findings/{finding_id}.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    cells = [cell for row in rows[1:] for cell in row]
    assert all(not cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
    assert rows[1][0] == "'" + title
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)


def test_deviations_are_flagged(client, call, people):
    study = call(seed_study, people, extra_outcome="reading_score")
    amended = design_document(primary="met_benchmark", label="Met the benchmark")
    amended["outcomes"] = [
        {**outcome, "primary": outcome["name"] == "met_benchmark"}
        for outcome in design_document()["outcomes"]
    ]
    when = datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC)  # after the data arrived
    call(register, study.pilot, 2, amended, when, "Switched to the benchmark")
    sign_in(client, "admin")
    finding_id = _run(client, study.pilot)
    page = client.get(f"/findings/{finding_id}").text
    assert "Departures from the registered plan" in page
    assert (
        "The primary outcome was changed from “math_score” (version 1) to “met_benchmark”" in page
    )
    assert "registered on 2026-07-01, after outcome data arrived" in page
    assert "“reading_score”, that the registered design does not list" in page
    payload = client.get(f"/findings/{finding_id}.json").json()
    assert len(payload["results"]["deviations"]) == 3
    roles = {o["name"]: o["planned"] for o in payload["results"]["outcomes"]}
    assert roles["reading_score"] is False


def test_the_district_records_its_decision_on_the_pilot_page(client, call, people):
    call(seed_study, people)
    pilot = people.active_pilot
    sign_in(client, "district")
    missing = post_form(client, f"/pilots/{pilot}/decision", {"decision": "adopt", "reasons": ""})
    assert missing.status_code == 422 and "Give the reasons" in missing.text
    reasons = "Teachers used it daily and the effect was clear in our schools."
    done = post_form(client, f"/pilots/{pilot}/decision", {"decision": "adopt", "reasons": reasons})
    assert done.status_code == 302
    with other_browser(client):
        sign_in(client, "vendor")
        page = client.get(f"/pilots/{pilot}/findings").text
        assert "Adopt it" in page and reasons in page and "Cedar Hollow Unified" in page
        refused = post_form(
            client, f"/pilots/{pilot}/decision", {"decision": "stop", "reasons": "x"}
        )
        assert refused.status_code == 403


@pytest.mark.parametrize(
    ("role", "method", "path", "expected"),
    [
        ("other_vendor", "GET", "/findings/{finding}", 404),
        ("anonymous", "GET", "/api/v1/findings/{finding}", 404),
        ("other_vendor", "GET", "/pilots/{pilot}/findings", 404),
        ("district", "POST", "/pilots/{pilot}/findings/run", 403),
        ("researcher", "POST", "/findings/{finding}/approval", 403),
        ("admin", "POST", "/findings/{finding}/approval", 403),
        ("district", "POST", "/findings/{finding}/publish", 403),
        ("researcher", "POST", "/findings/{finding}/retract", 403),
    ],
)
def test_wrong_roles_are_kept_out(client, call, people, role, method, path, expected):
    from tests.web.findings_data import finding_for_matrix

    finding_id = call(finding_for_matrix, people)
    if role != "anonymous":
        sign_in(client, role)
    target = path.format(finding=finding_id, pilot=people.active_pilot)
    if method == "GET":
        response = client.get(target, follow_redirects=False)
    else:
        response = post_form(client, target, {"decision": "approve", "reason": "x"})
    assert response.status_code == expected


def test_run_refuses_without_a_registered_design_or_data(client, call, people):
    sign_in(client, "vendor")
    response = post_form(client, f"/pilots/{people.active_pilot}/findings/run")
    assert response.status_code == 409 and "no registered design" in response.text


def test_a_pilot_title_with_markup_is_escaped(client, call, people):
    study = call(seed_study, people, title="<script>alert('x')</script> pilot")
    sign_in(client, "vendor")
    finding_id = _run(client, study.pilot)
    for path in (
        f"/findings/{finding_id}",
        f"/findings/{finding_id}/print",
        f"/pilots/{study.pilot}/findings",
    ):
        text = client.get(path).text
        assert "<script>alert" not in text
        assert "&lt;script&gt;alert" in text


def test_api_runs_and_lists_a_pilots_findings(client, call, people):
    call(seed_study, people)
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal

    async def token():
        return (await create_access_token(await load_principal(people.researcher), "t"))[1]

    headers = {"Authorization": f"Bearer {call(token)}"}
    created = client.post(f"/api/v1/pilots/{people.active_pilot}/findings", headers=headers)
    assert created.status_code == 201, created.text
    listed = client.get(f"/api/v1/pilots/{people.active_pilot}/findings", headers=headers).json()
    assert [row["id"] for row in listed] == [created.json()["id"]]


def _token_headers(call, user_id: int) -> dict[str, str]:
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal

    async def token():
        return (await create_access_token(await load_principal(user_id), "t"))[1]

    return {"Authorization": f"Bearer {call(token)}"}


def test_api_approves_publishes_and_retracts(client, call, people):
    study = call(seed_study, people)
    vendor = _token_headers(call, people.vendor_user)
    district = _token_headers(call, people.district_user)
    researcher = _token_headers(call, people.researcher)
    created = client.post(f"/api/v1/pilots/{study.pilot}/findings", headers=vendor)
    finding_id = created.json()["id"]
    base = f"/api/v1/findings/{finding_id}"
    approve = {"decision": "approve"}

    # Kept out: no token, the wrong role, a finding that does not exist.
    assert client.post(f"{base}/approval", json=approve).status_code == 401
    assert client.post(f"{base}/approval", json=approve, headers=researcher).status_code == 403
    assert client.post(f"{base}/publish", headers=district).status_code == 403
    assert client.post(f"{base}/retract", json={"reason": "x"}, headers=district).status_code == 403
    assert client.post("/api/v1/findings/999999/publish", headers=vendor).status_code == 404
    missing = client.post("/api/v1/findings/999999/approval", json=approve, headers=vendor)
    assert missing.status_code == 404
    invalid = client.post(f"{base}/approval", json={"decision": "maybe"}, headers=vendor)
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "decision"

    by_vendor = client.post(f"{base}/approval", json=approve, headers=vendor)
    assert by_vendor.status_code == 200, by_vendor.text
    assert by_vendor.json()["vendor"] == "approve"
    assert by_vendor.json()["sites"] == [{"site_id": people.district, "decision": None}]
    assert by_vendor.json()["waiting_for"]
    too_early = client.post(f"{base}/publish", headers=vendor)
    assert too_early.status_code == 409 and "cannot be published yet" in too_early.json()["detail"]

    by_district = client.post(f"{base}/approval", json=approve, headers=district)
    assert by_district.json()["sites"] == [{"site_id": people.district, "decision": "approve"}]
    assert by_district.json()["waiting_for"] is None
    _move_to_analysis(call, study.pilot)
    published = client.post(f"{base}/publish", headers=vendor)
    assert published.status_code == 201, published.text
    assert published.json()["published_at"] is not None
    public_id = published.json()["id"]
    assert public_id in [row["id"] for row in client.get("/api/v1/findings").json()]
    late = client.post(f"{base}/approval", json=approve, headers=district)
    assert late.status_code == 409

    retract = f"/api/v1/findings/{public_id}/retract"
    no_reason = client.post(retract, json={"reason": " "}, headers=vendor)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    retracted = client.post(retract, json={"reason": "a scoring error"}, headers=vendor)
    assert retracted.status_code == 200, retracted.text
    assert retracted.json()["retraction_reason"] == "a scoring error"
    assert retracted.json()["retracted_at"] is not None
    assert client.post(retract, json={"reason": "twice"}, headers=vendor).status_code == 409
