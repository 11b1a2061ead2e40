"""The demo network: its generation (no database) and its loading (SQLite, or PostgreSQL when
DATABASE_URL is set), and bulk_insert, which loads it."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import json
import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pytest

from analysis.meta import random_effects
from analysis.randomization import assign
from testbed.accounts.passwords import password_problems, verify_password
from testbed.bulk import bulk_insert
from testbed.demo import (
    DEMO_PASSWORD,
    DEMO_SIGN_INS,
    DemoNetwork,
    canonical_sha256,
    generate_network,
    load_demo,
)
from testbed.demo.generate import DATA_STATUSES, STATUS_COUNTS
from testbed.demo.outcomes import STUDENT_COLUMNS
from testbed.demo.vocabulary import (
    DISTRICT_KINDS,
    GENDER_CODES,
    PLACE_FIRST,
    PLACE_PREFIXES,
    PLACE_SECOND,
    RACE_ETHNICITY_CODES,
    STATES,
    VENDOR_FIRST,
    VENDOR_KINDS,
    VENDOR_SECOND,
)
from testbed.settings import ROOT
from testbed.tables import (
    TABLES,
    AuditEvent,
    Dataset,
    DesignVersion,
    Finding,
    FindingApproval,
    Observation,
    Organization,
    Pilot,
    Product,
    User,
)
from testbed.vocabulary import GRADE_BANDS, GRADE_CODES, PLATFORMS, SUBJECTS

DESIGN_KEYS = {
    "design_type",
    "unit_of_assignment",
    "arms",
    "research_questions",
    "outcomes",
    "baseline_measure",
    "subgroups",
    "minimum_meaningful_effect",
    "icc",
    "planned_sites",
    "planned_students_per_site",
    "analysis_plan",
}
OUTCOME_KEYS = {"name", "label", "kind", "primary", "direction", "instrument", "unit", "min", "max"}
HEX_64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def network() -> DemoNetwork:
    return generate_network(scale=1, seed=2026)


def fingerprint(network: DemoNetwork) -> str:
    """Everything generated, down to every student row (through the datasets' checksums)."""
    parts: list[Any] = [vars(org) for org in network.organizations]
    parts += [vars(district) for district in network.districts]
    parts += [vars(need) for need in network.needs] + [vars(p) for p in network.products]
    parts += [vars(user) for user in network.users]
    for pilot in network.pilots:
        parts.append(
            [
                pilot.title,
                pilot.status,
                pilot.true_effect,
                str(pilot.starts_on),
                [vars(enrollment) for enrollment in pilot.enrollments],
                [design.sha256 or design.document for design in pilot.designs],
                [(a.site, a.seed, a.arms) for a in pilot.assignments],
                [(d.site, d.version, d.sha256, d.is_current) for d in pilot.datasets],
            ]
        )
    return json.dumps(parts, sort_keys=True, default=str)


# --- generation -------------------------------------------------------------------------------


def test_generation_is_deterministic_for_a_seed(network):
    assert fingerprint(generate_network(scale=1, seed=2026)) == fingerprint(network)
    assert fingerprint(generate_network(scale=1, seed=7)) != fingerprint(network)


def test_counts_at_scale_one(network):
    kinds = Counter(org.kind for org in network.organizations)
    assert kinds == {"district": 150, "vendor": 30, "research": 5}
    assert len(network.districts) == 150
    assert len({org.state for org in network.organizations if org.kind == "district"}) >= 34
    assert len(network.products) == 45
    assert Counter(pilot.status for pilot in network.pilots) == dict(STATUS_COUNTS)


def test_scale_ten_multiplies_every_count():
    big = generate_network(scale=10, seed=2026)
    assert len(big.districts) == 1500
    assert len({district.nces_lea_id for district in big.districts}) == 1500
    assert len({org.slug for org in big.organizations}) == len(big.organizations)
    assert sum(org.kind == "vendor" for org in big.organizations) == 300
    assert len(big.products) == 450
    assert Counter(pilot.status for pilot in big.pilots) == {
        status: count * 10 for status, count in STATUS_COUNTS
    }
    assert len({pilot.title for pilot in big.pilots}) == 250


def test_profiles_are_realistic(network):
    locales = Counter(district.locale for district in network.districts)
    assert {"city", "suburb", "town", "rural"} == set(locales)
    for district in network.districts:
        assert 800 <= district.enrollment <= 200_000
        assert 0.1 <= district.frl_share <= 0.9
        assert 0 <= district.el_share <= 0.35
        assert 0.08 <= district.swd_share <= 0.2
        assert 0.6 <= district.device_ratio <= 1.2
    mean_enrollment = {
        locale: np.mean([d.enrollment for d in network.districts if d.locale == locale])
        for locale in locales
    }
    assert mean_enrollment["city"] > mean_enrollment["suburb"] > mean_enrollment["rural"]
    assert 0.45 <= np.mean([d.signed_ndpa for d in network.districts]) <= 0.75


def test_names_are_fictional_and_lea_ids_well_formed(network):
    district_name = re.compile(
        rf"^(({'|'.join(p.strip() for p in PLACE_PREFIXES if p)}) )?({'|'.join(PLACE_FIRST)}) "
        rf"({'|'.join(PLACE_SECOND)}) ({'|'.join(DISTRICT_KINDS)})$"
    )
    vendor_name = re.compile(
        rf"^({'|'.join(VENDOR_FIRST)})({'|'.join(VENDOR_SECOND)}) "
        rf"({'|'.join(re.escape(kind) for kind in VENDOR_KINDS)})$"
    )
    names = {org.slug: org.name for org in network.organizations}
    fips = {code: number for code, number, _ in STATES}
    state_of = {org.slug: org.state for org in network.organizations}
    for district in network.districts:
        assert district_name.match(names[district.organization]), names[district.organization]
        lea_id = district.nces_lea_id
        assert re.fullmatch(r"\d{7}", lea_id)
        assert lea_id[:2] == fips[state_of[district.organization]]
        assert 98000 <= int(lea_id[2:]) <= 99999
    assert len({district.nces_lea_id for district in network.districts}) == 150
    for org in network.organizations:
        if org.kind == "vendor":
            assert vendor_name.match(org.name), org.name
        assert org.website.endswith(".example")
    for product in network.products:
        assert product.privacy_policy_url.startswith("https://example.com/")


def test_no_code_is_a_substring_of_another_in_any_vocabulary(network):
    vocabularies = {
        "grades": set(GRADE_CODES),
        "subjects": set(SUBJECTS),
        "platforms": set(PLATFORMS),
        "grade bands": set(GRADE_BANDS),
        "pillars": {str(pillar) for pillar in range(1, 6)},
    }
    for name, codes in vocabularies.items():
        for code, other in itertools.permutations(codes, 2):
            assert code not in other, f"{name}: {code!r} is inside {other!r}"
    used = {
        "grades": {g for d in network.districts for g in d.grades_served}
        | {g for p in network.pilots for g in p.grades},
        "subjects": {s for p in network.products for s in p.subjects}
        | {n.subject for n in network.needs},
        "platforms": {c for d in network.districts for c in d.platforms}
        | {c for p in network.products for c in p.platforms},
        "grade bands": {b for p in network.products for b in p.grade_bands}
        | {n.grade_band for n in network.needs},
        "pillars": {str(x) for p in network.products for x in p.pillars}
        | {str(x) for n in network.needs for x in n.pillars},
    }
    for name, codes in used.items():
        assert codes <= vocabularies[name], name


def test_only_the_documented_organizations_are_unverified(network):
    unverified = [org for org in network.organizations if not org.verified]
    assert [org.name for org in unverified if org.kind == "vendor"] == ["Quillstone Labs"]
    assert [org.slug for org in unverified if org.kind == "district"] == [
        district.organization for district in network.districts[-2:]
    ]
    sites = {site for pilot in network.pilots for site in pilot.sites}
    assert not sites & {org.slug for org in unverified}


def test_sign_ins_cover_every_role(network):
    users = {user.email: user for user in network.users}
    for email, _ in DEMO_SIGN_INS:
        assert email in users
        assert password_problems(DEMO_PASSWORD, email=email) == []
    assert users["admin@testbed.example"].is_network_admin
    cedar = users["coordinator@cedar-hollow.example"].memberships[0][0]
    assert any(cedar in p.sites for p in network.pilots if p.status == "published")
    assert any(
        e.district == cedar and e.status == "volunteered"
        for p in network.pilots
        if p.status == "open"
        for e in p.enrollments
    )
    brightpath = users["founder@brightpath.example"].memberships[0][0]
    states = {org.slug: org.state for org in network.organizations}
    brightpath_states = {
        states[site] for p in network.pilots if p.product_vendor == brightpath for site in p.sites
    }
    assert len(brightpath_states) >= 3
    assert (
        sum("researcher@northfield-research.example" in p.researchers for p in network.pilots) >= 3
    )


def test_enrollments_follow_the_pilot_status(network):
    for pilot in network.pilots:
        statuses = {enrollment.status for enrollment in pilot.enrollments}
        if pilot.status == "open":
            assert statuses == {"volunteered"}
        if pilot.status == "matching":
            proposed = [e for e in pilot.enrollments if e.status == "proposed"]
            assert proposed
            for enrollment in proposed:
                parts = enrollment.fit_explanation
                assert {"part", "points", "why"} == set(parts[0])
                assert enrollment.fit_score == pytest.approx(sum(p["points"] for p in parts))
        if pilot.status in DATA_STATUSES:
            assert 2 <= len(pilot.sites) <= 6
        if pilot.starts_on and pilot.ends_on:
            assert (pilot.ends_on - pilot.starts_on).days == 7 * pilot.weeks


def test_designs_are_registered_with_their_checksum(network):
    for pilot in network.pilots:
        if pilot.status in ("draft", "open"):
            assert pilot.designs == []
            continue
        assert pilot.designs, pilot.title
        for design in pilot.designs:
            document = design.document
            assert set(document) == DESIGN_KEYS
            assert [o["primary"] for o in document["outcomes"]].count(True) == 1
            assert all(set(outcome) == OUTCOME_KEYS for outcome in document["outcomes"])
            if design.registered_at is not None:
                assert design.sha256 == canonical_sha256(document)
        if pilot.status in DATA_STATUSES:
            first = pilot.designs[0]
            assert first.version == 1 and first.registered_at is not None
            for later in pilot.designs[1:]:
                assert later.amendment_reason and later.registered_at > first.registered_at
    assert sum(len(pilot.designs) == 2 for pilot in network.pilots) == 2


def test_assignments_reproduce_from_their_seed(network):
    assignments = [a for pilot in network.pilots for a in pilot.assignments]
    assert assignments
    for assignment in assignments:
        again = assign(sorted(assignment.arms), ["treatment", "control"], assignment.seed)
        assert again.mapping == assignment.arms
        assert again.algorithm == assignment.algorithm


def test_datasets_supersede_and_observations_are_pseudonymous(network):
    for name in STUDENT_COLUMNS:
        assert not re.search(r"name|email|birth|dob", name)
    observation_columns = {column._meta.name for column in Observation._meta.columns}
    assert not {c for c in observation_columns if re.search(r"name|email|birth", c)}
    superseded = 0
    for pilot in network.pilots:
        current = Counter(d.site for d in pilot.datasets if d.is_current)
        assert all(count == 1 for count in current.values())
        superseded += sum(not d.is_current for d in pilot.datasets)
        for dataset in pilot.datasets:
            if dataset.students is None:
                continue
            rows = dataset.students
            assert all(HEX_64.match(key) for key in rows.student_key)
            assert len(set(rows.student_key)) == len(rows) == dataset.row_count
            assert set(rows.gender) <= set(GENDER_CODES)
            assert set(rows.race_ethnicity) <= set(RACE_ETHNICITY_CODES)
    assert 1 <= superseded <= 2
    aggregates = [d for p in network.pilots for d in p.datasets if d.kind == "aggregates"]
    assert len(aggregates) == 1
    for row in aggregates[0].summaries:
        assert row["n"] <= row["randomized"]


def _hedges_g(treatment: np.ndarray, control: np.ndarray) -> tuple[float, float]:
    n_t, n_c = treatment.size, control.size
    pooled = math.sqrt(
        ((n_t - 1) * treatment.var(ddof=1) + (n_c - 1) * control.var(ddof=1)) / (n_t + n_c - 2)
    )
    total = n_t + n_c
    g = (1 - 3 / (4 * total - 9)) * (treatment.mean() - control.mean()) / pooled
    return g, math.sqrt(total / (n_t * n_c) + g * g / (2 * total))


def test_the_stated_process_recovers_each_pilots_true_effect(network):
    checked = 0
    for pilot in network.pilots:
        if pilot.design_type != "rct" or not pilot.datasets:
            continue
        primary = next(o["name"] for o in pilot.designs[-1].document["outcomes"] if o["primary"])
        arms, scores = [], []
        for dataset in pilot.datasets:
            if dataset.is_current and dataset.students is not None:
                arms += dataset.students.arm
                scores.append(dataset.students.outcomes[primary])
        arm = np.array(arms)
        score = np.concatenate(scores)
        observed = ~np.isnan(score)
        attrition = 1 - observed.mean()
        assert 0.03 <= attrition <= 0.17, pilot.title
        g, se = _hedges_g(
            score[observed & (arm == "treatment")], score[observed & (arm == "control")]
        )
        assert abs(g - pilot.true_effect) < 4 * se, (pilot.title, g, pilot.true_effect, se)
        checked += 1
    assert checked >= 5
    assert network.true_effects == {
        p.title: p.true_effect for p in network.pilots if p.status in DATA_STATUSES
    }


# --- loading ----------------------------------------------------------------------------------


async def _row_counts() -> dict[str, int]:
    return {table._meta.tablename: await table.count() for table in TABLES}


def test_load_demo_inserts_the_network_and_a_second_load_changes_nothing(settings, network):
    summary = asyncio.run(load_demo(scale=1, seed=2026))
    assert "150 districts" in summary and DEMO_PASSWORD in summary
    counts = asyncio.run(_row_counts())
    assert counts["observation"] == network.count_observations()
    assert counts["pilot"] == 25 and counts["product"] == 45
    assert counts["organization"] == len(network.organizations) + 1  # and the network office

    again = asyncio.run(load_demo(scale=1, seed=2026))
    assert "already" in again
    assert asyncio.run(_row_counts()) == counts


def test_loaded_rows_read_back_as_generated(settings, network):
    asyncio.run(load_demo())

    async def read() -> dict[str, Any]:
        return {
            "designs": await DesignVersion.select()
            .where(DesignVersion.registered_at.is_not_null())
            .output(load_json=True),
            "admin": await User.select().where(User.email == "admin@testbed.example").first(),
            "pilots": await Pilot.select(Pilot.title, Pilot.status, Pilot.grades),
            "current": await Dataset.count().where(Dataset.is_current.eq(True)),
            "sample": await Observation.select().limit(50).output(load_json=True),
            "math": await Product.count().where(Product.subjects.any("math")),
        }

    loaded = asyncio.run(read())
    assert loaded["designs"]
    for design in loaded["designs"]:
        assert design["sha256"] == canonical_sha256(design["document"])
    assert verify_password(loaded["admin"]["password_hash"], DEMO_PASSWORD)
    assert loaded["admin"]["is_network_admin"]
    generated = {pilot.title: pilot for pilot in network.pilots}
    for row in loaded["pilots"]:
        assert row["grades"] == generated[row["title"]].grades
        assert row["status"] == generated[row["title"]].status
    assert loaded["current"] == sum(d.is_current for p in network.pilots for d in p.datasets)
    for row in loaded["sample"]:
        assert HEX_64.match(row["student_key"]) and row["arm"] in ("treatment", "control")
        assert isinstance(row["outcomes"], dict)
    assert loaded["math"] == sum("math" in product.subjects for product in network.products)


def test_reset_replaces_everything(settings):
    asyncio.run(load_demo())
    first = asyncio.run(_row_counts())
    asyncio.run(load_demo(reset=True))
    assert asyncio.run(_row_counts()) == first


async def _demo_findings() -> dict[str, Any]:
    findings = await Finding.select(
        Finding.id,
        Finding.results,
        Finding.published_at,
        Finding.variant,
        Finding.pilot.title.as_alias("title"),
        Finding.pilot.status.as_alias("status"),
        Finding.pilot.product.as_alias("product_id"),
        Finding.pilot.product.name.as_alias("product"),
    ).output(load_json=True)
    approvals = await FindingApproval.select(
        FindingApproval.finding, FindingApproval.site, FindingApproval.decision
    )
    return {"findings": findings, "approvals": approvals}


def _primary_headline(results: dict[str, Any]) -> dict[str, Any]:
    return next(o for o in results["outcomes"] if o["name"] == results["primary"])["headline"]


def test_the_demo_comes_with_findings_published_and_pooled(client, call, network):
    call(load_demo)
    loaded = call(_demo_findings)
    findings = {row["title"]: row for row in loaded["findings"]}
    finished = [p for p in network.pilots if p.status in ("analysis", "published", "closed")]
    assert set(findings) == {pilot.title for pilot in finished}
    assert all(row["variant"] == "full" for row in findings.values())

    listed = client.get("/findings").text
    for pilot in finished:
        finding = findings[pilot.title]
        assert (finding["published_at"] is None) == (pilot.status == "analysis")
        assert (f">{pilot.title}</a>" in listed) == (pilot.status != "analysis")
        if pilot.status == "analysis":
            continue
        # The vendor and every district whose data the finding used approved it.
        decisions = [row for row in loaded["approvals"] if row["finding"] == finding["id"]]
        assert {row["decision"] for row in decisions} == {"approve"}
        assert len(decisions) == 1 + len({dataset.site for dataset in pilot.datasets})
        headline = _primary_headline(finding["results"])
        assert abs(headline["g"] - pilot.true_effect) < 4 * headline["se"], pilot.title

    published = [row for row in findings.values() if row["published_at"] is not None]
    by_product = Counter(row["product"] for row in published)
    assert by_product["MathQuest Adaptive"] >= 3
    assert sum(count >= 2 for count in by_product.values()) >= 2
    mathquest = [row for row in published if row["product"] == "MathQuest Adaptive"]
    headlines = [_primary_headline(row["results"]) for row in mathquest]
    expected = random_effects(
        [h["favourable_g"] for h in headlines],
        [h["se"] ** 2 for h in headlines],
        method="REML",
        knapp_hartung=True,
    )
    product_id = mathquest[0]["product_id"]
    evidence = client.get(f"/api/v1/products/{product_id}/evidence").json()
    assert evidence["k"] == len(mathquest) >= 3
    assert evidence["pooled"]["estimate"] == pytest.approx(expected.estimate, rel=1e-12)
    assert evidence["pooled"]["tau2"] == pytest.approx(expected.tau2, rel=1e-9, abs=1e-12)
    page = client.get(f"/products/{product_id}/evidence").text
    assert "Pooled effect" in page and "no published evidence" not in page


# --- bulk_insert -------------------------------------------------------------------------------


def test_bulk_insert_round_trip(settings):
    async def scenario() -> tuple[list[dict], list[dict], int]:
        await bulk_insert(
            Organization,
            [
                {"kind": "vendor", "name": "Pebblework Labs", "slug": "pebblework-labs"},
            ],
        )
        vendor = await Organization.select().where(Organization.slug == "pebblework-labs").first()
        await bulk_insert(
            Product,
            (
                {
                    "vendor": vendor["id"],
                    "name": f"CodeLoop {number}",
                    "description": "demo",
                    "grade_bands": ["g68", "g912"],
                    "subjects": ["cs"],
                    "pillars": [2, 5],
                    "platforms": [],
                    "essa_tier_claimed": None if number else 3,
                }
                for number in range(3)
            ),
        )
        products = await Product.select().where(Product.subjects.any("cs")).order_by(Product.id)
        engine = Organization._meta.db
        with pytest.raises(RuntimeError):
            async with engine.transaction():
                await bulk_insert(
                    Organization,
                    [{"kind": "district", "name": "Rolled Back", "slug": "rolled-back"}],
                )
                raise RuntimeError("roll the transaction back")
        return [vendor], products, await Organization.count()

    vendors, products, organizations = asyncio.run(scenario())
    assert vendors[0]["verified"] is False and vendors[0]["created_at"] is not None
    assert [p["name"] for p in products] == ["CodeLoop 0", "CodeLoop 1", "CodeLoop 2"]
    assert products[0]["grade_bands"] == ["g68", "g912"]
    assert products[0]["pillars"] == [2, 5]
    assert products[0]["platforms"] == []
    assert [p["essa_tier_claimed"] for p in products] == [3, None, None]
    assert organizations == 1


def test_bulk_insert_stores_json_as_piccolo_does(settings):
    detail = {"arms": ["treatment", "control"], "note": "élève", "missing": None, "n": 3}
    moment = datetime.datetime(2026, 9, 1, 12, 30, tzinfo=datetime.UTC)

    async def scenario() -> tuple[list[dict], list[dict]]:
        await bulk_insert(
            AuditEvent,
            [{"action": "demo_json", "detail": detail, "created_at": moment}],
            columns=["action", "detail", "created_at"],
        )
        await AuditEvent.insert(AuditEvent(action="piccolo_json", detail=detail))
        raw = await AuditEvent.select().order_by(AuditEvent.id)
        loaded = await AuditEvent.select().order_by(AuditEvent.id).output(load_json=True)
        return raw, loaded

    raw, loaded = asyncio.run(scenario())
    assert isinstance(raw[0]["detail"], str)
    assert json.loads(raw[0]["detail"]) == json.loads(raw[1]["detail"]) == detail
    assert loaded[0]["detail"] == detail
    assert loaded[0]["created_at"] == moment
    assert loaded[0]["object_type"] == ""
    with pytest.raises(ValueError, match="no column"):
        asyncio.run(bulk_insert(AuditEvent, [], columns=["action", "nonsense"]))


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250])
def test_bulk_insert_writes_every_row_whole_statements_or_not(settings, count):
    """SQLite gets many rows per statement; the rows that do not fill one still arrive, in
    order, and an encoded tuple goes to the driver as it is."""

    async def scenario() -> list[dict]:
        await bulk_insert(
            AuditEvent,
            ((f"event {number}", "{}", "row", str(number)) for number in range(count)),
            columns=["action", "detail", "object_type", "object_id"],
            encoded=True,
        )
        return await AuditEvent.select(AuditEvent.action, AuditEvent.object_id).order_by(
            AuditEvent.id
        )

    rows = asyncio.run(scenario())
    assert [(row["action"], row["object_id"]) for row in rows] == [
        (f"event {number}", str(number)) for number in range(count)
    ]


def test_docs_table_of_true_effects_matches_the_generator(network):
    text = (ROOT / "docs" / "demo.md").read_text()
    table = text.split("### True effects at scale 1, seed 2026")[1]
    documented = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) > 4 and cells[4][:1] in "+−":
            documented[cells[0]] = float(cells[4].replace("−", "-"))
    assert documented == network.true_effects


async def _demo_costs() -> dict[str, Any]:
    from testbed.tables import CostItem, CostSheet, Enrollment, Pilot, Product, ProductPrice

    under_way = await Enrollment.select(Enrollment.pilot, Enrollment.district).where(
        (Enrollment.status == "site")
        & Enrollment.pilot.status.is_in(["active", "analysis", "published", "closed"])
    )
    sheets = await CostSheet.select(CostSheet.id, CostSheet.pilot, CostSheet.district)
    items = await CostItem.select(CostItem.sheet, CostItem.quantity, CostItem.unit_price)
    return {
        "sites": {(row["pilot"], row["district"]) for row in under_way},
        "sheets": {(row["pilot"], row["district"]): row["id"] for row in sheets},
        "items": items,
        "products": await Product.count(),
        "priced": len({row["product"] for row in await ProductPrice.select(ProductPrice.product)}),
        "mathquest": (
            await Product.select(Product.id).where(Product.name == "MathQuest Adaptive").first()
        )["id"],
        "pilots": await Pilot.count(),
    }


def test_the_demo_has_costs_for_every_pilot_site(client, call):
    call(load_demo)
    costs = call(_demo_costs)
    assert costs["sites"] and set(costs["sheets"]) == costs["sites"]
    with_items = {row["sheet"] for row in costs["items"]}
    assert with_items == set(costs["sheets"].values())
    assert all(row["quantity"] >= 0 and row["unit_price"] >= 0 for row in costs["items"])
    assert costs["priced"] == costs["products"]
    found = client.get(f"/api/v1/products/{costs['mathquest']}/costs").json()
    assert found["cost_basis"] == "sites" and found["sites_with_costs"] >= 3
    assert found["pooled"] is not None and found["site_cost_range"] is not None
    assert client.get(f"/products/{costs['mathquest']}/costs").status_code == 200
    assert client.get("/costs/compare").status_code == 200
