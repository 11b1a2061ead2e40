"""Network synthesis: pooled product evidence, districts like mine, the dashboard, exports.

Published findings are made directly as rows (a results document in the shape
testbed.findings.compute writes, reduced to what synthesis reads), so each test states its
pilots' effects, variances and sizes."""

from __future__ import annotations

import csv
import datetime
import io
import itertools

import pytest

from analysis.meta import random_effects, subgroup_difference
from tests import factories
from tests.web.conftest import People

NOW = datetime.datetime(2026, 5, 1, tzinfo=datetime.UTC)
_slugs = itertools.count(1)


def results_document(
    g: float,
    se: float,
    sites: list[int],
    n_per_arm: int = 100,
    design_type: str = "rct",
    p: float = 0.01,
) -> dict:
    primary = {
        "name": "math_score",
        "label": "Spring math score",
        "kind": "continuous",
        "primary": True,
        "direction": "higher_is_better",
        "arms": {
            "treatment": {"n": n_per_arm, "mean": 210.0, "sd": 20.0},
            "control": {"n": n_per_arm, "mean": 205.0, "sd": 20.0},
        },
        "randomized": None,
        "effect": None,
        "histogram": None,
        "headline": {
            "g": g,
            "se": se,
            "ci": [g - 1.96 * se, g + 1.96 * se],
            "p": p,
            "source": "unadjusted",
            "favourable_g": g,
        },
        "attrition": {"rating": "low", "randomized": None, "analyzed": None},
    }
    return {
        "design": {"design_type": design_type},
        "data": {"sites": len(sites), "estimate_sites": sites},
        "primary": "math_score",
        "outcomes": [primary],
        "baseline": None,
        "subgroups": [],
        "dosage": None,
        "essa": {"tier": None, "reasons": [], "students": 2 * n_per_arm, "districts": len(sites)},
        # The arms' students split over the sites (the first takes what does not divide).
        "site_counts": [
            {
                "site_id": site,
                "kind": "students",
                "analyzed": dict.fromkeys(
                    ("treatment", "control"),
                    n_per_arm // len(sites) + (n_per_arm % len(sites) if index == 0 else 0),
                ),
            }
            for index, site in enumerate(sites)
        ],
    }


async def district(
    name: str, locale: str, enrollment: int, frl: float, el: float, state: str = "OR"
) -> int:
    from testbed.tables import DistrictProfile

    number = next(_slugs)
    org = await factories.organization("district", name, f"d-{number}", state=state)
    await factories.insert(
        DistrictProfile(
            organization=org,
            nces_lea_id=f"41{number:05d}",
            locale=locale,
            enrollment=enrollment,
            frl_share=frl,
            el_share=el,
            swd_share=0.1,
            grades_served=["K"],
            device_ratio=1.0,
            platforms=[],
        )
    )
    return org


async def published_pilot(
    product: int,
    sites: list[int],
    g: float,
    se: float,
    *,
    title: str = "A pilot",
    n_per_arm: int = 100,
    design_type: str = "rct",
    p: float = 0.01,
    retracted: bool = False,
    ends_on: datetime.date | None = None,
    status: str = "published",
) -> int:
    from testbed.tables import Finding

    pilot = await factories.pilot(
        product, status, title=title, sites_wanted=len(sites), ends_on=ends_on
    )
    for site in sites:
        await factories.enrollment(pilot, site)
    design = await factories.design(pilot, {}, registered_at=NOW, sha256="")
    await factories.insert(
        Finding(
            pilot=pilot,
            design_version=design,
            dataset_ids=[],
            results=results_document(g, se, sites, n_per_arm, design_type, p),
            headline="",
            published_at=NOW + datetime.timedelta(days=30),
            retracted_at=NOW + datetime.timedelta(days=60) if retracted else None,
            retraction_reason="a data error" if retracted else "",
        )
    )
    return pilot


EFFECTS = [(0.30, 0.10), (0.05, 0.08), (0.20, 0.12), (0.45, 0.15)]


async def four_pilots(people: People) -> list[int]:
    rural = await district("Aspen Rural", "rural", 2000, 0.7, 0.05)
    city = await district("Bay City", "city", 90000, 0.3, 0.25)
    suburb = await district("Cove Suburb", "suburb", 20000, 0.2, 0.10)
    town = await district("Dale Town", "town", 5000, 0.5, 0.02)
    sites = [[people.district, rural], [city], [suburb, town], [rural]]
    return [
        await published_pilot(people.product, site_list, g, se, title=f"Pilot {index}")
        for index, (site_list, (g, se)) in enumerate(zip(sites, EFFECTS, strict=True))
    ]


def test_pooled_estimate_equals_analysis_meta(client, call, people):
    call(four_pilots, people)
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()
    expected = random_effects(
        [g for g, _ in EFFECTS], [se**2 for _, se in EFFECTS], method="REML", knapp_hartung=True
    )
    pooled = evidence["pooled"]
    assert evidence["k"] == 4
    assert pooled["estimate"] == pytest.approx(expected.estimate, abs=1e-12)
    assert pooled["ci"] == pytest.approx(list(expected.ci), abs=1e-12)
    assert pooled["tau2"] == pytest.approx(expected.tau2, abs=1e-12)
    assert pooled["i2"] == pytest.approx(expected.i2, abs=1e-12)
    assert pooled["prediction_interval"] == pytest.approx(
        list(expected.prediction_interval), abs=1e-12
    )
    assert evidence["districts"] == 5 and evidence["students"] == 800
    assert "truncated" in pooled["method"]
    assert "Knapp–Hartung adjustment, truncated" in evidence["method"]
    assert "3 degrees of freedom" in evidence["method"]


def test_two_pilots_say_how_little_the_pooled_interval_means(client, call, people):
    """Two pilots that agree closely (Q < 1): the truncated Knapp-Hartung interval is at least
    as wide as the plain random-effects one, and the page says in words that it means little."""

    async def two(people: People) -> None:
        city = await district("Bay City", "city", 90000, 0.3, 0.25)
        await published_pilot(people.product, [people.district], 0.20, 0.10, title="Pilot A")
        await published_pilot(people.product, [city], 0.22, 0.10, title="Pilot B")

    call(two, people)
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()
    plain = random_effects([0.20, 0.22], [0.01, 0.01])
    assert evidence["pooled"]["se"] == pytest.approx(plain.se, abs=1e-12)
    assert evidence["pooled"]["df"] == 1
    assert "says little more than the two pilots" in evidence["method"]
    page = client.get(f"/products/{people.product}/evidence").text
    assert "1 degree of freedom" in page and "says little more than the two pilots" in page


def test_shrinkage_pulls_every_pilot_toward_the_pooled_estimate(client, call, people):
    call(four_pilots, people)
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()
    pooled = evidence["pooled"]["estimate"]
    for pilot in evidence["pilots"]:
        assert abs(pilot["shrunken_estimate"] - pooled) <= abs(pilot["estimate"] - pooled) + 1e-12


def test_evidence_page_shows_words_plot_and_table(client, call, people):
    call(four_pilots, people)
    page = client.get(f"/products/{people.product}/evidence")
    assert page.status_code == 200
    text = page.text
    assert "Across 4 pilots in 5 districts (800 students)" in text
    assert "between districts" in text and "In a new district like these" in text
    assert "<svg" in text and '<title id="forest-title">' in text
    assert "Tier 1 needs at least 350 students" in text
    assert "By locale" in text and "By district poverty" in text
    assert page.text.count("Pilot 3") >= 2  # in the plot's description and the table


def test_breakdown_by_locale_uses_subgroup_difference(client, call, people):
    call(four_pilots, people)
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()
    locale = evidence["breakdowns"][0]
    # Majority locale: pilot 0 has a rural and a rural site, pilot 2 a suburb and a town (tie:
    # suburb comes first).
    groups = ["Rural", "City", "Suburb", "Rural"]
    expected = subgroup_difference([g for g, _ in EFFECTS], [se**2 for _, se in EFFECTS], groups)
    assert [row["group"] for row in locale["groups"]] == ["Rural", "City", "Suburb"]
    assert locale["q_between"] == pytest.approx(expected.q_between, abs=1e-12)
    assert locale["p"] == pytest.approx(expected.p, abs=1e-12)
    # City and Suburb hold one pilot each: the test cannot tell a difference between groups
    # from ordinary differences between districts (an outside check found it claimed one).
    assert locale["note"].startswith("At least one group has a single pilot")


def test_no_published_pilot_says_so(client, people):
    page = client.get(f"/products/{people.product}/evidence")
    assert page.status_code == 200
    assert "There is no published evidence on MathQuest" in page.text
    assert client.get("/products/999999/evidence").status_code == 404


def test_one_pilot_is_shown_alone_not_pooled(client, call, people):
    call(published_pilot, people.product, [people.district], 0.25, 0.1)
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()
    assert evidence["pooled"] is None and evidence["k"] == 1
    assert evidence["headline"].startswith("Only one published pilot of MathQuest")
    assert "0.25 SD" in evidence["headline"]


def test_retracted_and_pre_post_findings_are_shown_but_not_pooled(client, call, people):
    call(four_pilots, people)
    call(
        published_pilot,
        people.product,
        [people.district],
        0.9,
        0.1,
        title="Retracted pilot",
        retracted=True,
    )
    call(
        published_pilot,
        people.product,
        [people.district],
        0.8,
        0.1,
        title="Before and after",
        design_type="pre_post",
    )
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()
    assert evidence["k"] == 4
    reasons = {p["title"]: p["not_pooled_because"] for p in evidence["pilots"]}
    assert reasons["Retracted pilot"] == "retracted"
    assert reasons["Before and after"].startswith("no comparison group")
    page = client.get(f"/products/{people.product}/evidence").text
    assert "Not pooled</strong>: retracted (a data error)" in page


def test_small_pilot_students_are_suppressed_everywhere(client, call, people):
    call(published_pilot, people.product, [people.district], 0.3, 0.3, n_per_arm=6)
    evidence = client.get(f"/api/v1/products/{people.product}/evidence").json()
    assert evidence["pilots"][0]["students"] is None
    rows = client.get("/api/v1/network/findings").json()
    assert rows[0]["n_treatment"] is None and rows[0]["n_control"] is None
    assert "6" not in client.get("/network/findings.csv").text.split("\n")[1].split(",")[14:16]


def test_dashboard_suppresses_small_student_cells(client, call, people):
    from testbed.tables import DesignVersion, Organization, SummaryRow
    from tests.web.findings_data import design_document

    async def data():
        small = await district("Tiny Town", "town", 900, 0.4, 0.01, state="WA")
        pilot = await published_pilot(people.product, [people.district, small], 0.2, 0.1)
        await DesignVersion.update({DesignVersion.document: design_document()}).where(
            DesignVersion.pilot == pilot
        )
        # Students reached come from the sites' totals (randomized), not from rows of files.
        for site, per_arm in ((people.district, (125, 125)), (small, (4, 3))):
            dataset = await factories.dataset(pilot, site, 2, kind="aggregates", sha256="0" * 64)
            for arm, randomized in zip(("treatment", "control"), per_arm, strict=True):
                await factories.insert(
                    SummaryRow(
                        dataset=dataset,
                        arm=arm,
                        outcome="math_score",
                        randomized=randomized,
                        n=randomized,
                        mean=200.0,
                        sd=20.0,
                    )
                )
        await Organization.update({Organization.state: "OR"}).where(
            Organization.id == people.district
        )

    call(data)
    board = client.get("/api/v1/network/dashboard").json()
    # WA's 7 students are hidden, and so is OR (its complement: else total - OR = WA).
    assert board["students_by_state"] == {"OR": None, "WA": None}
    assert board["students_total"] == 260  # 257 students reached, to the nearest 10
    page = client.get("/network")
    assert page.status_code == 200 and "hidden" in page.text


def test_dashboard_overdue_with_a_fixed_clock(client, call, people):
    from testbed.synthesis.dashboard import dashboard
    from testbed.tables import Pilot

    async def pilots():
        await Pilot.update({Pilot.ends_on: datetime.date(2025, 1, 31)}).where(
            Pilot.id == people.active_pilot
        )
        await published_pilot(
            people.product, [people.district], 0.2, 0.1, ends_on=datetime.date(2024, 6, 30)
        )

    call(pilots)
    on_time = call(dashboard, datetime.date(2026, 1, 31))
    assert on_time["overdue"] == []
    late = call(dashboard, datetime.date(2026, 3, 2))
    assert [row["product"] for row in late["overdue"]] == ["MathQuest"]
    (row,) = late["overdue"]
    # The active pilot is not public: its title is not shown.
    assert row["title"] is None and row["pilot_id"] is None
    assert row["due_on"] == datetime.date(2026, 1, 31) and row["days_overdue"] == 30
    assert late["ended"] == 2 and late["reported"] == 1 and late["reported_share"] == 0.5
    assert late["median_days_to_results"] == 30


def test_exports_one_row_per_pilot_and_outcome_with_formulas_neutralized(client, call, people):
    call(
        published_pilot,
        people.product,
        [people.district],
        0.2,
        0.1,
        title='=HYPERLINK("http://x.example")',
    )
    response = client.get("/network/findings.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert rows[0]["pilot_title"].startswith("'=HYPERLINK")
    assert rows[0]["n_treatment"] == "100" and rows[0]["retracted"] == "False"
    data = client.get("/network/findings.json").json()
    assert data[0]["pilot_title"].startswith("=HYPERLINK") and data[0]["effect_size"] == 0.2
    dictionary = client.get("/network/data-dictionary")
    assert dictionary.status_code == 200 and "baseline_equivalence" in dictionary.text
    assert client.get("/network/findings.xlsx").status_code == 404


def test_rank_similar_on_a_hand_made_example():
    from testbed.synthesis.services import rank_similar

    mine = {
        "district_id": 1,
        "locale": "rural",
        "enrollment": 3100,
        "frl_share": 0.58,
        "el_share": 0.05,
    }
    twin = {
        "district_id": 2,
        "locale": "rural",
        "enrollment": 2400,
        "frl_share": 0.62,
        "el_share": 0.06,
    }
    town = {
        "district_id": 3,
        "locale": "town",
        "enrollment": 3000,
        "frl_share": 0.58,
        "el_share": 0.05,
    }
    rich_rural = {
        "district_id": 4,
        "locale": "rural",
        "enrollment": 3100,
        "frl_share": 0.10,
        "el_share": 0.05,
    }
    city = {
        "district_id": 5,
        "locale": "city",
        "enrollment": 150000,
        "frl_share": 0.80,
        "el_share": 0.30,
    }
    ranked = rank_similar(mine, [city, rich_rural, town, twin], limit=3)
    assert [d["district_id"] for _, d in ranked] == [2, 3, 4]
    assert ranked[0][0] < ranked[1][0] < ranked[2][0]


def test_districts_like_mine_page_explains_the_likeness(client, call, people):
    async def network():
        twin = await district("Twin Rural", "rural", 2400, 0.55, 0.07)
        far = await district("Metro City", "city", 150000, 0.8, 0.3)
        await published_pilot(people.product, [twin], 0.2, 0.1, title="Twin's pilot")
        await published_pilot(people.product, [far], 0.1, 0.1, title="Metro's pilot")
        return twin, far

    twin, far = call(network)
    similar = client.get(f"/api/v1/districts/{people.district}/similar").json()
    assert [m["district_id"] for m in similar["matches"]] == [twin, far]
    assert similar["matches"][0]["why"] == (
        "also rural; under 2,500 students, like yours; FRL 55 % vs your 52 %; "
        "English learners 7 % vs your 8 %"
    )
    page = client.get(f"/districts/{people.district}/similar")
    assert page.status_code == 200 and "Twin&#39;s pilot" in page.text
    assert (
        f"/districts/{people.district}/similar" in client.get(f"/districts/{people.district}").text
    )


def test_links_from_the_catalog_and_the_nav(client, people):
    page = client.get(f"/products/{people.product}")
    assert f"/products/{people.product}/evidence" in page.text
    assert 'href="/network"' in page.text
