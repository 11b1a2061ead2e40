"""The first screen of a finding and of an evidence page says, in plain words, why the headline
is not the plain difference in averages (or the subgroup estimates, or the pilots' average)
when it is not, and says nothing of the kind when they agree."""

from __future__ import annotations

from html import unescape

from tests.web.conftest import People, post_form, sign_in
from tests.web.findings_data import design_document, seed_study
from tests.web.test_synthesis import district, four_pilots, published_pilot

ADJUSTED = "is not the plain difference between the two groups' averages"
SUBGROUPS = "The subgroup estimates further down differ from the headline"
POOLED = "is not the plain average of the pilots' own estimates"
GROUPS = "The estimates by locale and by district poverty further down"


def _first_screen(page: str) -> str:
    """From the page's start to the end of the result section."""
    return page.split('id="weak-heading"', 1)[0]


def _run_finding(client, call, people, document=None) -> tuple[str, dict]:
    call(seed_study, people, document=document)
    sign_in(client, "vendor")
    location = post_form(client, f"/pilots/{people.active_pilot}/findings/run").headers["location"]
    finding_id = location.rsplit("/", 1)[1]
    return unescape(client.get(location).text), client.get(f"/api/v1/findings/{finding_id}").json()


def test_an_adjusted_finding_explains_its_headline_on_the_first_screen(client, call, people):
    page, api = _run_finding(client, call, people)
    primary = next(o for o in api["results"]["outcomes"] if o["primary"])
    assert primary["headline"]["source"] == "ancova"
    assert round(primary["headline"]["g"], 2) != round(primary["effect"]["g"], 2)
    first = _first_screen(page)
    assert ADJUSTED in first and "where each student started" in first
    assert SUBGROUPS in first
    assert any(ADJUSTED in sentence for sentence in api["why_different"])


def test_a_plain_finding_says_nothing_about_adjustment(client, call, people):
    document = {**design_document(), "baseline_measure": None, "subgroups": []}
    document["analysis_plan"] = {**document["analysis_plan"], "covariates": []}
    page, api = _run_finding(client, call, people, document=document)
    primary = next(o for o in api["results"]["outcomes"] if o["primary"])
    assert primary["headline"]["source"] == "unadjusted"
    assert ADJUSTED not in page and SUBGROUPS not in page
    assert api["why_different"] == []


def test_an_evidence_page_explains_a_pooled_effect_unlike_the_average(client, call, people):
    call(four_pilots, people)
    page = unescape(client.get(f"/products/{people.product}/evidence").text)
    first = page.split("<h2", 1)[0]
    assert POOLED in first and GROUPS in first
    api = client.get(f"/api/v1/products/{people.product}/evidence").json()
    assert len(api["why_different"]) == 2


def test_an_evidence_page_whose_pilots_agree_says_nothing_of_the_kind(client, call, people):
    async def two(people: People) -> None:
        city = await district("Bay City", "city", 90000, 0.3, 0.25)
        await published_pilot(people.product, [people.district], 0.20, 0.10, title="Pilot A")
        await published_pilot(people.product, [city], 0.20, 0.10, title="Pilot B")

    call(two, people)
    page = unescape(client.get(f"/products/{people.product}/evidence").text)
    assert "Across 2 pilots" in page
    assert POOLED not in page and GROUPS not in page
