"""Pilot designs through HTTP: writing, validation, power, registration, amendments, the diff,
verification, the REES export, randomization and baseline equivalence."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re

import pytest

from analysis import power as stats_power
from analysis.randomization import assign
from testbed.designs.canonical import canonical_json
from tests import factories
from tests.web.conftest import csrf_token, other_browser, post_form, sign_in

DOCUMENT = {
    "design_type": "rct",
    "unit_of_assignment": "student",
    "arms": ["treatment", "control"],
    "research_questions": ["Does MathQuest raise spring math scores?"],
    "outcomes": [
        {
            "name": "math_scale_score",
            "label": "Spring math scale score",
            "kind": "continuous",
            "primary": True,
            "direction": "higher_is_better",
            "instrument": "District interim assessment",
            "unit": "scale score points",
            "min": 100.0,
            "max": 300.0,
        },
        {
            "name": "met_benchmark",
            "label": "Met the spring benchmark",
            "kind": "binary",
            "primary": False,
            "direction": "higher_is_better",
            "instrument": "District interim assessment",
            "unit": "yes/no",
            "min": None,
            "max": None,
        },
    ],
    "baseline_measure": "fall_math_scale_score",
    "subgroups": ["frl", "el"],
    "minimum_meaningful_effect": 0.15,
    "icc": 0.2,
    "planned_sites": 4,
    "planned_students_per_site": 120,
    "analysis_plan": {"covariates": ["baseline"], "missing_data": "complete cases", "alpha": 0.05},
}


def design_form(**overrides: str) -> dict[str, str]:
    form = {
        "design_type": "rct",
        "unit_of_assignment": "student",
        "arms": "treatment, control",
        "research_questions": "Does MathQuest raise spring math scores?\nIs it different for EL?",
        "outcome_rows": "3",
        "outcomes.0.name": "math_scale_score",
        "outcomes.0.label": "Spring math scale score",
        "outcomes.0.primary": "on",
        "outcomes.0.kind": "continuous",
        "outcomes.0.direction": "higher_is_better",
        "outcomes.0.instrument": "District interim assessment",
        "outcomes.0.unit": "scale score points",
        "outcomes.0.min": "100",
        "outcomes.0.max": "300",
        "baseline_measure": "fall_math_scale_score",
        "subgroup.frl": "on",
        "subgroup.el": "on",
        "minimum_meaningful_effect": "0.15",
        "planned_sites": "4",
        "planned_students_per_site": "120",
        "icc": "0.2",
        "covariates": "baseline",
        "missing_data": "complete cases",
        "alpha": "0.05",
    }
    return {**form, **overrides}


def token_for(call, user_id: int) -> str:
    async def make() -> str:
        from testbed.accounts.services import create_access_token
        from testbed.auth import load_principal

        return (await create_access_token(await load_principal(user_id), "tests"))[1]

    return call(make)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_design(client, pilot_id: int) -> dict:
    response = client.get(f"/api/v1/pilots/{pilot_id}/design")
    assert response.status_code == 200, response.text
    return response.json()


def write_and_register(client, call, people, pilot_id: int, document: dict | None = None) -> dict:
    token = token_for(call, people.vendor_user)
    saved = client.put(
        f"/api/v1/pilots/{pilot_id}/design",
        json={"document": document or DOCUMENT},
        headers=bearer(token),
    )
    assert saved.status_code == 200, saved.text
    registered = client.post(
        f"/api/v1/pilots/{pilot_id}/design/register", json={}, headers=bearer(token)
    )
    assert registered.status_code == 201, registered.text
    return registered.json()


# --- writing and who may ----------------------------------------------------------------------


def test_vendor_writes_researcher_edits_district_reads_outsiders_do_not(client, people):
    pilot = people.active_pilot
    sign_in(client, "vendor")
    assert client.get(f"/pilots/{pilot}/design/edit").status_code == 200
    saved = post_form(client, f"/pilots/{pilot}/design/edit", design_form())
    assert saved.status_code in (302, 303), saved.text
    page = client.get(f"/pilots/{pilot}/design")
    assert "Draft: version 1" in page.text and "Spring math scale score" in page.text

    with other_browser(client):
        sign_in(client, "researcher")
        edited = post_form(
            client,
            f"/pilots/{pilot}/design/edit",
            design_form(version="1", minimum_meaningful_effect="0.2"),
        )
        assert edited.status_code in (302, 303), edited.text
        assert api_design(client, pilot)["draft"]["document"]["minimum_meaningful_effect"] == 0.2

    with other_browser(client):
        sign_in(client, "district")
        assert client.get(f"/pilots/{pilot}/design").status_code == 200
        assert "Draft: version 1" in client.get(f"/pilots/{pilot}/design").text
        assert client.get(f"/pilots/{pilot}/design/edit").status_code == 403
        refused = post_form(client, f"/pilots/{pilot}/design/edit", design_form(version="1"))
        assert refused.status_code == 403
        assert (
            post_form(client, f"/pilots/{pilot}/design/register", {"confirm": "yes"}).status_code
            == 403
        )

    with other_browser(client):
        sign_in(client, "other_vendor")
        assert client.get(f"/pilots/{pilot}/design").status_code == 404
        assert post_form(client, f"/pilots/{pilot}/design/edit", design_form()).status_code == 404

    with other_browser(client):
        assert client.get(f"/pilots/{pilot}/design").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (
            {
                "outcomes.1.name": "reading",
                "outcomes.1.label": "Reading",
                "outcomes.1.primary": "on",
            },
            "outcomes.1.primary",
            "Only one outcome can be primary",
        ),
        ({"outcomes.0.primary": ""}, "outcomes", "none is"),
        ({"outcomes.0.name": "Math Score!"}, "outcomes.0.name", "short lowercase name"),
        ({"minimum_meaningful_effect": "0"}, "minimum_meaningful_effect", "positive number"),
        ({"design_type": "pre_post"}, "arms", "exactly one arm"),
        ({"icc": "1"}, "icc", "below 1"),
        ({"outcomes.0.min": "300", "outcomes.0.max": "100"}, "outcomes.0.max", "greater than"),
    ],
)
def test_validation_errors_appear_next_to_their_fields_with_values_kept(
    client, people, overrides, field, words
):
    sign_in(client, "vendor")
    response = post_form(
        client, f"/pilots/{people.active_pilot}/design/edit", design_form(**overrides)
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    error = re.search(
        rf'<p class="field-error" id="e-{re.escape(field)}">([^<]*)</p>', response.text
    )
    assert error, response.text
    assert words in error.group(1)
    assert 'value="Spring math scale score"' in response.text
    assert "Does MathQuest raise spring math scores?" in response.text
    assert api_design(client, people.active_pilot)["versions"] == []


def test_api_validation_lists_every_problem_by_field(client, call, people):
    token = token_for(call, people.researcher)
    document = {**DOCUMENT, "subgroups": ["frl", "shoe_size"], "arms": ["treatment"]}
    response = client.put(
        f"/api/v1/pilots/{people.active_pilot}/design",
        json={"document": document},
        headers=bearer(token),
    )
    assert response.status_code == 422
    fields = {problem["field"] for problem in response.json()["errors"]}
    assert {"subgroups", "arms"} <= fields


def test_adding_an_outcome_row_keeps_what_was_typed(client, people):
    sign_in(client, "vendor")
    response = post_form(
        client, f"/pilots/{people.active_pilot}/design/edit", design_form(add_outcome="1")
    )
    assert response.status_code == 200
    assert 'name="outcomes.3.name"' in response.text
    assert 'value="math_scale_score"' in response.text


# --- power ------------------------------------------------------------------------------------


def test_power_panel_numbers_are_analysis_power_and_warnings_are_said(client, call, people):
    token = token_for(call, people.vendor_user)
    small = {**DOCUMENT, "planned_sites": 1, "planned_students_per_site": 300}
    client.put(
        f"/api/v1/pilots/{people.active_pilot}/design",
        json={"document": small},
        headers=bearer(token),
    )
    sign_in(client, "vendor")
    power = api_design(client, people.active_pilot)["power"]
    assert power["mdes"] == pytest.approx(stats_power.mdes(150))
    assert power["power_at_mme"] == pytest.approx(stats_power.power_two_sample(0.15, 150))
    needed = stats_power.sample_size_two_sample(0.15).n_per_arm * 2
    assert power["students_for_80_percent_power"] == needed
    assert any("cannot reliably detect" in w for w in power["warnings"])
    assert any("350 students" in w and "2 districts" in w for w in power["warnings"])

    page = client.get(f"/pilots/{people.active_pilot}/design").text
    assert f"{stats_power.mdes(150):.2f} SD" in page
    assert f"{100 * stats_power.power_two_sample(0.15, 150):.0f} % probability" in page
    assert f"About {needed:,} students would give 80 % power" in page
    assert '<title id="power-title">' in page and "cannot reach the sample" in page


def test_cluster_power_uses_the_design_effect_and_says_the_classroom_assumption(
    client, call, people
):
    token = token_for(call, people.vendor_user)
    cluster = {**DOCUMENT, "design_type": "cluster_rct", "unit_of_assignment": "classroom"}
    client.put(
        f"/api/v1/pilots/{people.active_pilot}/design",
        json={"document": cluster},
        headers=bearer(token),
    )
    sign_in(client, "researcher")
    power = api_design(client, people.active_pilot)["power"]
    assert power["design_effect"] == pytest.approx(1 + 21 * 0.2)
    assert power["mdes"] == pytest.approx(stats_power.mdes(240, icc=0.2, cluster_size=22))
    assert power["power_at_mme"] == pytest.approx(
        stats_power.power_two_sample(0.15, 240 / (1 + 21 * 0.2))
    )
    assert any("22 students per classroom is assumed" in s for s in power["sentences"])


# --- registration, freezing, amendments ---------------------------------------------------------


def test_registration_records_a_hash_anyone_can_recompute(client, call, people):
    registered = write_and_register(client, call, people, people.active_pilot)
    expected = hashlib.sha256(canonical_json(DOCUMENT).encode("utf-8")).hexdigest()
    assert registered["stored_sha256"] == expected == registered["recomputed_sha256"]
    assert registered["matches"] is True

    sign_in(client, "district")
    page = client.get(f"/pilots/{people.active_pilot}/design/versions/1")
    assert page.status_code == 200
    assert "They match" in page.text and expected in page.text and "sha256sum" in page.text
    canonical = r'<pre tabindex="0" class="canonical"><code>(.*?)</code></pre>'
    shown = re.search(canonical, page.text, re.S)
    import html

    assert hashlib.sha256(html.unescape(shown.group(1)).encode()).hexdigest() == expected
    download = client.get(f"/pilots/{people.active_pilot}/design/versions/1/canonical.json")
    assert hashlib.sha256(download.content).hexdigest() == expected


def _design_write_routes(app) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if not re.match(r"^(/api/v1)?/pilots/\{pilot_id:int\}/design", route.path):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}:
                routes.append((method, route.path))
    return sorted(routes)


def test_a_registered_version_cannot_be_changed_through_any_route(client, app, call, people):
    pilot = people.active_pilot
    write_and_register(client, call, people, pilot)
    sign_in(client, "vendor")
    before = client.get(f"/api/v1/pilots/{pilot}/design/versions/1").json()
    assert before["matches"] is True
    token = token_for(call, people.vendor_user)
    changed = {**DOCUMENT, "minimum_meaningful_effect": 0.3}
    routes = _design_write_routes(app)
    assert len(routes) >= 6
    for method, template in routes:
        path = re.sub(r"\{(\w+):int\}", lambda m: {"pilot_id": str(pilot)}.get(m[1], "1"), template)
        if path.startswith("/api/"):
            response = client.request(
                method,
                path,
                json={"document": changed, "version": 1},
                headers=bearer(token),
            )
        else:
            form = design_form(version="1", minimum_meaningful_effect="0.3")
            response = post_form(client, path, {**form, "confirm": "yes"})
        assert response.status_code in (409, 422), f"{method} {path}: {response.status_code}"
        if path.endswith(("/edit", "/register", "/design")):
            assert response.status_code == 409, f"{method} {path}"
            assert "frozen" in response.text
        after = client.get(f"/api/v1/pilots/{pilot}/design/versions/1").json()
        assert after == before, f"{method} {path} changed the registered version"
    assert [v["version"] for v in api_design(client, pilot)["versions"]] == [1]


def test_amendment_needs_a_reason_then_is_registered_and_diffed(client, call, people):
    pilot = people.active_pilot
    write_and_register(client, call, people, pilot)
    sign_in(client, "researcher")
    refused = post_form(client, f"/pilots/{pilot}/design/amend", {"amendment_reason": "  "})
    assert refused.status_code == 422
    assert 'id="e-amendment_reason"' in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    no_reason_edit = post_form(client, f"/pilots/{pilot}/design/edit", design_form())
    assert no_reason_edit.status_code == 422 and 'id="e-amendment_reason"' in no_reason_edit.text
    token = token_for(call, people.researcher)
    api_refused = client.post(
        f"/api/v1/pilots/{pilot}/design/amend", json={}, headers=bearer(token)
    )
    assert api_refused.status_code == 422
    assert api_refused.json()["errors"][0]["field"] == "amendment_reason"

    reason = "Enrollment came in lower than planned, before any outcome data were collected."
    started = post_form(client, f"/pilots/{pilot}/design/amend", {"amendment_reason": reason})
    assert started.status_code in (302, 303)
    edit = client.get(f"/pilots/{pilot}/design/edit")
    assert "version 2" in edit.text and reason in edit.text
    saved = post_form(
        client,
        f"/pilots/{pilot}/design/edit",
        design_form(
            version="2",
            amendment_reason=reason,
            planned_students_per_site="80",
            **{"outcomes.0.min": "100", "outcomes.0.max": "300"},
        ),
    )
    assert saved.status_code in (302, 303), saved.text
    registered = post_form(
        client, f"/pilots/{pilot}/design/register", {"confirm": "yes", "version": "2"}
    )
    assert registered.status_code in (302, 303)

    with other_browser(client):
        sign_in(client, "district")
        page = client.get(f"/pilots/{pilot}/design").text
        assert "Version 1" in page and "Version 2" in page and reason in page
        diff = client.get(f"/pilots/{pilot}/design/diff?from=1&to=2")
        assert diff.status_code == 200
        assert "planned_students_per_site" in diff.text and "120" in diff.text
        changes = client.get(f"/api/v1/pilots/{pilot}/design/diff?from=1&to=2").json()["changes"]
        assert {"path": "planned_students_per_site", "old": 120, "new": 80} in changes
        v1 = client.get(f"/api/v1/pilots/{pilot}/design/versions/1").json()
        assert v1["matches"] and v1["document"]["planned_students_per_site"] == 120


def test_drafts_stay_with_the_team_registered_versions_of_published_pilots_are_public(
    client, call, people
):
    write_and_register(client, call, people, people.published_pilot)
    token = token_for(call, people.vendor_user)
    client.post(
        f"/api/v1/pilots/{people.published_pilot}/design/amend",
        json={"reason": "Adding a secondary outcome."},
        headers=bearer(token),
    )
    with other_browser(client):
        page = client.get(f"/pilots/{people.published_pilot}/design")
        assert page.status_code == 200 and "Version 1" in page.text
        assert "Version 2" not in page.text
        assert client.get(f"/pilots/{people.published_pilot}/design/versions/2").status_code == 404
        assert client.get(f"/pilots/{people.published_pilot}/design/rees").status_code == 200


def test_registered_design_service_for_later_uploads(client, call, people):
    from testbed.designs.services import registered_design, require_registered_design
    from testbed.errors import Conflict

    assert call(registered_design, people.active_pilot) is None
    with pytest.raises(Conflict, match="register the design before uploading data"):
        call(require_registered_design, people.active_pilot)
    write_and_register(client, call, people, people.active_pilot)
    design = call(require_registered_design, people.active_pilot)
    assert design["version"] == 1 and design["document"] == DOCUMENT
    assert design["sha256"] == hashlib.sha256(canonical_json(DOCUMENT).encode()).hexdigest()


@pytest.mark.parametrize("key_order", ["as_written", "reversed"])
def test_canonical_hash_survives_a_database_round_trip(client, call, people, key_order):
    from testbed.designs.canonical import canonical_sha256
    from testbed.tables import DesignVersion

    def reorder(value):
        if isinstance(value, dict):
            items = list(value.items())
            if key_order == "reversed":
                items.reverse()
            return {key: reorder(item) for key, item in items}
        if isinstance(value, list):
            return [reorder(item) for item in value]
        return value

    document = reorder({**DOCUMENT, "minimum_meaningful_effect": 0.1 + 0.2, "icc": 1e-7})

    async def round_trip():
        await factories.design(people.active_pilot, document, registered=False)
        row = (
            await DesignVersion.select(DesignVersion.document)
            .where(DesignVersion.pilot == people.active_pilot)
            .first()
            .output(load_json=True)
        )
        return row["document"]

    assert canonical_sha256(call(round_trip)) == canonical_sha256(document)


# --- exports and escaping ---------------------------------------------------------------------


def test_rees_export_has_the_registry_field_groups(client, call, people):
    write_and_register(client, call, people, people.active_pilot)
    sign_in(client, "researcher")
    export = client.get(f"/api/v1/pilots/{people.active_pilot}/design/rees").json()
    for group in (
        "general_information",
        "research_questions",
        "intervention",
        "comparison_condition",
        "study_design",
        "sample_and_setting",
        "outcomes",
        "analysis_plan",
        "power_analysis",
    ):
        assert export[group], group
    assert export["general_information"]["study_title"] == "MathQuest active pilot"
    assert export["general_information"]["registration_date"]
    assert export["study_design"]["unit_of_assignment"] == "student"
    assert export["outcomes"][0]["role"] == "confirmatory (primary)"
    assert export["intervention"]["name"] == "MathQuest"
    page = client.get(f"/pilots/{people.active_pilot}/design/rees")
    assert page.status_code == 200 and "@media print" in page.text
    assert "Registry of Efficacy and Effectiveness Studies" in page.text


def test_a_script_in_a_research_question_is_escaped(client, people):
    sign_in(client, "vendor")
    attack = "<script>alert('x')</script>"
    post_form(
        client,
        f"/pilots/{people.active_pilot}/design/edit",
        design_form(research_questions=attack, **{"outcomes.0.label": attack}),
    )
    page = client.get(f"/pilots/{people.active_pilot}/design").text
    assert attack not in page
    assert "&lt;script&gt;" in page


# --- randomization ----------------------------------------------------------------------------


def _roster(rows: list[tuple[str, ...]], header: str = "key,stratum") -> bytes:
    return (header + "\n" + "\n".join(",".join(row) for row in rows) + "\n").encode()


def upload(client, path: str, content: bytes, field: str = "roster"):
    return client.post(
        path,
        data={"_csrf_token": csrf_token(client)},
        files={field: ("roster.csv", content, "text/csv")},
        follow_redirects=False,
    )


def test_randomization_needs_a_registered_randomized_design(client, call, people):
    sign_in(client, "district")
    path = f"/pilots/{people.active_pilot}/randomization/{people.district}/roster"
    refused = upload(client, path, _roster([("s1", "g4")]))
    assert refused.status_code == 409 and "register the design before randomizing" in refused.text


def test_a_roster_is_assigned_reproducibly_balanced_and_downloaded_safely(client, call, people):
    pilot, site = people.active_pilot, people.district
    write_and_register(client, call, people, pilot)
    rows = [(f"s{n:03d}", "grade4" if n % 3 else "grade5") for n in range(101)]
    rows.append(("=HYPERLINK(1)", "grade4"))
    sign_in(client, "district")
    uploaded = upload(client, f"/pilots/{pilot}/randomization/{site}/roster", _roster(rows))
    assert uploaded.status_code in (302, 303), uploaded.text

    state = client.get(f"/api/v1/pilots/{pilot}/randomization").json()
    assignment = state["sites"][0]["assignment"]
    assert assignment["units"] == 102 and assignment["design_version"] == 1
    for block in assignment["blocks"]:
        counts = block["counts"]
        assert max(counts.values()) - min(counts.values()) <= 1, block

    download = client.get(f"/pilots/{pilot}/randomization/{site}/assignment.csv")
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert {row["key"] for row in table} >= {"'=HYPERLINK(1)", "s000"}
    mapping = {row["key"].removeprefix("'"): row["arm"] for row in table}
    strata = {row["key"].removeprefix("'"): row["stratum"] for row in table}
    blocks = {key: f"{site}/{stratum}" for key, stratum in strata.items()}
    redrawn = assign(sorted(mapping), ["treatment", "control"], assignment["seed"], blocks=blocks)
    assert redrawn.mapping == mapping

    verify = client.get(f"/pilots/{pilot}/randomization/{site}/verify")
    assert verify.status_code == 200 and "Identical" in verify.text
    with other_browser(client):
        sign_in(client, "vendor")
        assert client.get(f"/api/v1/pilots/{pilot}/randomization/{site}/verify").json()["identical"]
        assert client.get(f"/pilots/{pilot}/randomization/{site}/assignment.csv").status_code == 403

    again = upload(client, f"/pilots/{pilot}/randomization/{site}/roster", _roster(rows))
    assert again.status_code == 409 and "undermines the trial" in again.text


def test_the_api_randomizes_from_a_csv_body(client, call, people):
    write_and_register(client, call, people, people.active_pilot)
    token = token_for(call, people.district_user)
    response = client.post(
        f"/api/v1/pilots/{people.active_pilot}/randomization/{people.district}",
        content=b"key\n" + b"\n".join(f"k{n}".encode() for n in range(9)),
        headers={**bearer(token), "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    counts = response.json()["blocks"][0]["counts"]
    assert sorted(counts.values()) == [4, 5]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"key,first_name\ns1,Ann\n", ['column "first_name"', "direct identifier"]),
        (b"Email,key\nx@y.z,s1\n", ['column "Email"']),
        (b"key\ns1\ns2\ns1\n", ["Row 4", "also on row 2"]),
        (b"", ["empty"]),
        (b"key\n", ["no rows"]),
        ("key\ns1\nJos\u00e9\n".encode("latin-1"), ["Row 3", "not UTF-8"]),
        (b"key,stratum\ns1,\ns2,a,extra\n", ['Row 2, column "stratum"', "Row 3"]),
    ],
)
def test_a_bad_roster_reports_every_problem_and_stores_nothing(
    client, call, people, content, expected
):
    write_and_register(client, call, people, people.active_pilot)
    sign_in(client, "district")
    path = f"/pilots/{people.active_pilot}/randomization/{people.district}/roster"
    response = upload(client, path, content)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    for words in expected:
        assert words in response.text.replace("&#34;", '"').replace("&quot;", '"'), words
    state = client.get(f"/api/v1/pilots/{people.active_pilot}/randomization").json()
    assert state["sites"][0]["assignment"] is None


def test_a_roster_with_many_problems_lists_the_first_hundred_and_counts_the_rest(
    client, call, people
):
    write_and_register(client, call, people, people.active_pilot)
    token = token_for(call, people.district_user)
    content = b"key\n" + b"\n".join(b"same" for _ in range(150))
    response = client.post(
        f"/api/v1/pilots/{people.active_pilot}/randomization/{people.district}",
        content=content,
        headers=bearer(token),
    )
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == 100 and "149 problems" in problem["detail"]
    assert problem["errors"][0] == {
        "row": 3,
        "column": "key",
        "message": "Row 3, column \"key\": the key 'same' is also on row 2.",
    }


def test_quasi_experiment_baseline_equivalence_is_rated_as_wwc_does(client, call, people):
    quasi = {**DOCUMENT, "design_type": "quasi_experiment"}
    write_and_register(client, call, people, people.active_pilot, quasi)
    # Two groups of 50 with the same SD and a mean difference chosen to give g = 0.08 exactly.
    n = 50
    sd = 10 * math.sqrt(n / (n - 1))
    omega = 1 - 3 / (4 * 2 * n - 9)
    shift = 0.08 * sd / omega
    rows = [f"c{i},comparison,{200 + (10 if i % 2 else -10)}" for i in range(n)]
    rows += [f"t{i},treatment,{200 + shift + (10 if i % 2 else -10)!r}" for i in range(n)]
    content = ("key,group,baseline\n" + "\n".join(rows) + "\n").encode()
    sign_in(client, "district")
    path = f"/pilots/{people.active_pilot}/randomization/{people.district}/baseline"
    response = upload(client, path, content, field="groups")
    assert response.status_code in (302, 303), response.text
    check = client.get(f"/api/v1/pilots/{people.active_pilot}/randomization").json()["sites"][0][
        "baseline_check"
    ]
    assert check["hedges_g"] == pytest.approx(0.08, abs=1e-9)
    assert check["rating"] == "requires_adjustment"
    page = client.get(f"/pilots/{people.active_pilot}/randomization").text
    assert "The groups differ by 0.08 SD at baseline" in page
    assert "requires statistical adjustment (WWC)" in page
    roster = upload(
        client,
        f"/pilots/{people.active_pilot}/randomization/{people.district}/roster",
        _roster([("s1", "a")]),
    )
    assert roster.status_code == 409


def test_the_design_link_partial_points_at_the_design_pages():
    from testbed.web import template_config

    environment = template_config().engine_instance.engine
    text = environment.get_template("designs/_pilot_design_link.html.j2").render(pilot_id=7)
    assert 'href="/pilots/7/design"' in text and 'href="/pilots/7/randomization"' in text
    assert json.loads(json.dumps(DOCUMENT)) == DOCUMENT


def test_in_the_demo_network_a_design_is_written_powered_registered_amended_and_verified(
    client, call
):
    from testbed.demo import DEMO_PASSWORD, load_demo
    from testbed.demo.generate import NETWORK_ADMIN_EMAIL
    from testbed.designs.document import form_from_document
    from testbed.tables import Assignment, DesignVersion

    call(load_demo)
    response = post_form(
        client, "/login", {"email": NETWORK_ADMIN_EMAIL, "password": DEMO_PASSWORD}
    )
    assert response.status_code in (302, 303)

    async def demo_rows():
        drafts = await DesignVersion.select(DesignVersion.pilot).where(
            DesignVersion.registered_at.is_null()
        )
        amended = await DesignVersion.select(DesignVersion.pilot).where(DesignVersion.version == 2)
        randomized = await Assignment.select(Assignment.pilot, Assignment.site).first()
        return drafts[0]["pilot"], amended[0]["pilot"], randomized

    draft_pilot, amended_pilot, randomized = call(demo_rows)

    # The demo's own registrations verify, their diff shows, their draws re-run identically.
    for version in (1, 2):
        page = client.get(f"/pilots/{amended_pilot}/design/versions/{version}")
        assert page.status_code == 200 and "They match" in page.text
    assert client.get(f"/api/v1/pilots/{amended_pilot}/design/diff").json()["changes"]
    verify = client.get(f"/pilots/{randomized['pilot']}/randomization/{randomized['site']}/verify")
    assert verify.status_code == 200 and "Identical" in verify.text

    # A draft is edited, powered, registered, amended and registered again.
    draft = api_design(client, draft_pilot)["draft"]
    form = form_from_document(draft["document"])
    form.update(version=str(draft["version"]), minimum_meaningful_effect="0.25")
    assert post_form(client, f"/pilots/{draft_pilot}/design/edit", form).status_code in (302, 303)
    assert (
        "smallest effect this pilot can reliably detect"
        in client.get(f"/pilots/{draft_pilot}/design").text
    )
    registered = post_form(
        client, f"/pilots/{draft_pilot}/design/register", {"confirm": "yes", "version": "1"}
    )
    assert registered.status_code in (302, 303)
    reason = "A second site joined before any data were collected."
    post_form(client, f"/pilots/{draft_pilot}/design/amend", {"amendment_reason": reason})
    amendment = api_design(client, draft_pilot)["draft"]["document"]
    form = form_from_document(amendment)
    form.update(
        version="2", amendment_reason=reason, planned_sites=str(amendment["planned_sites"] + 1)
    )
    assert post_form(client, f"/pilots/{draft_pilot}/design/edit", form).status_code in (302, 303)
    post_form(client, f"/pilots/{draft_pilot}/design/register", {"confirm": "yes", "version": "2"})
    page = client.get(f"/pilots/{draft_pilot}/design/versions/2")
    assert "They match" in page.text and reason in page.text
    changes = client.get(f"/api/v1/pilots/{draft_pilot}/design/diff?from=1&to=2").json()
    assert any(change["path"] == "planned_sites" for change in changes["changes"])
