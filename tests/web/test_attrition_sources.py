"""One source of truth for randomized, analyzed and students reached: every page, export and
API of a pilot with an aggregates-only site and a student-rows site gives the same attrition.

The expected figures are worked by hand from the WWC definitions (What Works Clearinghouse,
Standards Handbook, Version 4.1, 2020, section II.B and Table II.1; the same in Version 5.0,
2022): overall attrition is the share of the randomized sample that is not in the analytic
sample, 1 - (analyzed t + analyzed c) / (randomized t + randomized c); an arm's attrition is
1 - analyzed / randomized in that arm; differential attrition is the absolute difference of
the arms' rates. Every site in the randomized sample counts in the analytic sample too: a site
that shares only totals counts with the n of its totals.

The plan (tests/web/disclosure_data.Plan):
- student-row site: 80 + 80 students uploaded, 12 treatment and 10 control without the primary
  outcome: randomized 80 / 80, analyzed 68 / 70;
- totals site: randomized 60 / 60, analyzed 49 / 45.
So randomized 140 / 140 = 280, analyzed 117 / 115 = 232, lost 23 / 25 = 48:
overall 48 / 280 = 17.14 %, treatment 23 / 140 = 16.43 %, control 25 / 140 = 17.86 %,
differential 1.43 points. Table II.1 (cautious boundary) allows 5.8 points of differential
attrition at 17 % overall, so attrition is low. Before the fix the finding counted the totals
site in randomized (280) but not in analyzed (138): 50.7 %, "high".

The headline estimate (the ANCOVA, tests, subgroups) uses student rows only, so the sample
ESSA counts and the product evidence page pools is the student-row site's: 68 + 70 = 138
students in 1 district; the totals site joins only the effect over every site. (An outside
statistician found pages saying 232 students in 2 districts beside an estimate from one.)
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.web.conftest import sign_in
from tests.web.disclosure_data import seed_published

RANDOMIZED = {"treatment": 140, "control": 140}
ANALYZED = {"treatment": 117, "control": 115}
OVERALL = 48 / 280
DIFFERENTIAL = 25 / 140 - 23 / 140


@pytest.fixture
def published(call, people):
    return call(seed_published, people)


def _primary(results: dict) -> dict:
    return next(outcome for outcome in results["outcomes"] if outcome["primary"])


def test_finding_json_and_api_count_every_site(client, published):
    for path in (f"/findings/{published.public}.json", f"/api/v1/findings/{published.public}"):
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.json()
        results = body.get("results", body)
        attrition = _primary(results)["attrition"]
        assert attrition["randomized"] == RANDOMIZED, path
        assert attrition["analyzed"] == ANALYZED, path
        assert attrition["overall"] == pytest.approx(OVERALL), path
        assert attrition["differential"] == pytest.approx(DIFFERENTIAL), path
        assert attrition["rating"] == "low", path
        assert results["essa"]["students"] == 138, path
        assert results["essa"]["districts"] == 1, path
        assert results["data"]["estimate_sites"] == [published.student_site], path
        rows = {row["site_id"]: row for row in results["site_counts"]}
        assert rows[published.totals_site]["randomized"] == {"treatment": 60, "control": 60}
        assert rows[published.totals_site]["analyzed"] == {"treatment": 49, "control": 45}
        assert rows[published.student_site]["randomized"] == {"treatment": 80, "control": 80}
        assert rows[published.student_site]["analyzed"] == {"treatment": 68, "control": 70}


def test_finding_page_and_essa_reasons_say_low_attrition(client, published):
    page = client.get(f"/findings/{published.public}").text
    assert "overall 17 %, differential 1.4 points: low" in page
    assert "low attrition by the WWC standard" in page
    assert "attrition is high" not in page


def test_data_page_shows_the_same_attrition(client, published):
    page = client.get(f"/pilots/{published.pilot}/data").text
    text = re.sub(r"\s+", " ", page)
    assert "Of 280 students randomized, 232 have the primary outcome" in text
    assert "overall attrition 17.1 %" in text
    assert "That is low attrition" in text


def test_network_csv_and_api_rate_attrition_low(client, published):
    rows = list(csv.DictReader(io.StringIO(client.get("/network/findings.csv").text)))
    mine = [row for row in rows if int(row["pilot_id"]) == published.pilot]
    assert mine and {row["attrition"] for row in mine if row["primary"] == "True"} == {"low"}
    primary = next(row for row in mine if row["primary"] == "True")
    # The arms' n are the students analyzed from student rows (the tests use those rows).
    assert (int(primary["n_treatment"]), int(primary["n_control"])) == (68, 70)
    api = client.get("/api/v1/network/findings").json()
    assert {r["attrition"] for r in api if r["pilot_id"] == published.pilot and r["primary"]} == {
        "low"
    }


def test_finding_page_counts_the_students_in_its_estimate(client, published):
    text = re.sub(r"\s+", " ", client.get(f"/findings/{published.public}").text)
    assert "<dt>Students analyzed</dt><dd>138</dd>" in text
    assert "<dd>1 <small>and 1 that sent only totals, counted in the effect over every site" in text


def test_product_evidence_counts_the_students_in_the_estimate(client, published):
    evidence = client.get(f"/api/v1/products/{published.product}/evidence").json()
    pilot = next(p for p in evidence["pilots"] if p["pilot_id"] == published.pilot)
    assert pilot["students"] == 138
    assert evidence["districts"] == 1
    page = client.get(f"/products/{published.product}/evidence").text
    assert "138" in page and "232" not in page


def test_dashboard_and_home_count_students_not_summary_rows(client, published):
    board = client.get("/api/v1/network/dashboard").json()
    # Students reached: everyone randomized at both sites (280), not 160 rows plus 4 rows of
    # totals (164) as before.
    assert board["students_total"] == 280
    assert sum(v for v in board["students_by_state"].values() if v) == 280
    assert client.get("/api/v1/network/numbers").json()["students_in_pilots"] == 280


def test_the_district_sees_the_same_figures(client, published):
    sign_in(client, "district")
    body = client.get(f"/findings/{published.finding}.json").json()
    attrition = _primary(body.get("results", body))["attrition"]
    assert attrition["overall"] == pytest.approx(OVERALL)
    assert attrition["rating"] == "low"
