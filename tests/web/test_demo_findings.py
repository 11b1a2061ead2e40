"""Every finding of the demo network, in every form, as every kind of person: no 500.

The demo holds findings in the states real pilots reach (in analysis and unpublished,
published, closed; continuous and binary outcomes, arms with the design's own names, outcomes
nobody in an arm had), so it is the set of findings a page must be able to show. Each page, its
print page, its JSON and CSV downloads and the API answer are read anonymously, as each vendor
founder, as every district's coordinator, as the researcher and as the network admin: each
answers 200, or a deliberate 403/404 where the person may not see it, never anything else.

The demo is loaded once for the module (it takes a few seconds), before the app's lifespan
opens PostgreSQL's pool, and the findings are only read.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from litestar.testing import TestClient

from testbed.app import create_app
from testbed.demo import DEMO_PASSWORD, load_demo
from testbed.settings import Settings
from tests.conftest import _empty_all_tables
from tests.web.conftest import csrf_token, other_browser


@dataclass(frozen=True)
class DemoFindings:
    findings: list[dict]  # id, pilot, published
    emails: dict[str, str]  # role name -> email
    district_of: dict[str, int]  # role name -> district organization id
    site_districts: dict[int, set[int]]  # pilot id -> districts whose data the finding used
    vendor_of: dict[int, int]  # pilot id -> vendor organization id
    vendor_org: dict[str, int]  # role name -> vendor organization id
    pilot_roles: dict[str, set[int]]  # role name -> pilots the person holds a role on


async def _load() -> DemoFindings:
    from testbed.tables import Dataset, Finding, Membership, Pilot, PilotRole

    await _empty_all_tables()
    await load_demo()
    findings = (
        await Finding.select(Finding.id, Finding.pilot, Finding.published_at, Finding.dataset_ids)
        .order_by(Finding.id)
        .output(load_json=True)
    )
    members = await Membership.select(
        Membership.user.email.as_alias("email"),
        Membership.organization.as_alias("organization"),
        Membership.organization.kind.as_alias("kind"),
        Membership.user.is_network_admin.as_alias("admin"),
    )
    emails, district_of, vendor_org = {}, {}, {}
    for member in members:
        if member["admin"]:
            name = "admin"
        elif member["kind"] == "district":
            name = f"district {member['email']}"
            district_of[name] = member["organization"]
        elif member["kind"] == "vendor":
            name = f"vendor {member['email']}"
            vendor_org[name] = member["organization"]
        else:
            name = f"{member['kind']} {member['email']}"
        emails[name] = member["email"]
    site_districts: dict[int, set[int]] = {}
    for finding in findings:
        used = Dataset.id.is_in(finding["dataset_ids"])
        datasets = await Dataset.select(Dataset.site).where(used)
        site_districts[finding["pilot"]] = {row["site"] for row in datasets}
    pilots = await Pilot.select(Pilot.id, Pilot.product.vendor.as_alias("vendor"))
    pilot_roles: dict[str, set[int]] = {}
    names = {email: name for name, email in emails.items()}
    for row in await PilotRole.select(PilotRole.pilot, PilotRole.user.email.as_alias("email")):
        pilot_roles.setdefault(names[row["email"]], set()).add(row["pilot"])
    return DemoFindings(
        findings=[
            {"id": f["id"], "pilot": f["pilot"], "published": f["published_at"] is not None}
            for f in findings
        ],
        emails=emails,
        district_of=district_of,
        site_districts=site_districts,
        vendor_of={row["id"]: row["vendor"] for row in pilots},
        vendor_org=vendor_org,
        pilot_roles=pilot_roles,
    )


@pytest.fixture(scope="module")
def demo(migrated_database: Settings) -> DemoFindings:
    return asyncio.run(_load())


@pytest.fixture(scope="module")
def demo_client(demo: DemoFindings, migrated_database: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(migrated_database)) as client:
        yield client


def _views(finding: dict) -> list[str]:
    number, pilot = finding["id"], finding["pilot"]
    return [
        f"/findings/{number}",
        f"/findings/{number}/print",
        f"/findings/{number}.json",
        f"/findings/{number}.csv",
        f"/api/v1/findings/{number}",
        f"/pilots/{pilot}/findings",
        f"/api/v1/pilots/{pilot}/findings",
    ]


def _expected(demo: DemoFindings, role: str, finding: dict) -> set[int]:
    """The answers a role may get; 200 wherever it must be able to read the finding."""
    pilot = finding["pilot"]
    if role == "admin" or finding["published"] or pilot in demo.pilot_roles.get(role, ()):
        return {200}
    if role.startswith("district") and demo.district_of[role] in demo.site_districts[pilot]:
        return {200}
    if role.startswith("vendor") and demo.vendor_org[role] == demo.vendor_of[pilot]:
        return {200}
    # Someone outside an unpublished pilot: hidden, or (anonymously) asked to sign in.
    return {200, 401, 403, 404, 302, 303}


def _sign_in(client: TestClient, email: str) -> None:
    response = client.post(
        "/login",
        data={"email": email, "password": DEMO_PASSWORD, "_csrf_token": csrf_token(client)},
        follow_redirects=False,
    )
    assert response.status_code in (302, 303), (email, response.status_code)


def test_the_demo_has_findings_of_every_kind(demo):
    assert len(demo.findings) >= 9
    assert {finding["published"] for finding in demo.findings} == {True, False}
    assert sum(name.startswith("district") for name in demo.emails) >= 30


def test_every_demo_finding_renders_for_every_role(demo, demo_client):
    roles = ["anonymous", *sorted(demo.emails)]
    failures = []
    read = 0
    for role in roles:
        with other_browser(demo_client):
            if role != "anonymous":
                _sign_in(demo_client, demo.emails[role])
            for finding in demo.findings:
                allowed = _expected(demo, role, finding)
                for path in _views(finding):
                    response = demo_client.get(path, follow_redirects=False)
                    status = response.status_code
                    read += status == 200
                    if status not in allowed:
                        failures.append(f"{role}: GET {path} -> {status}")
                    elif status == 200 and path.endswith("/print") and "<h2" not in response.text:
                        failures.append(f"{role}: GET {path} printed no section")
    assert failures == []
    assert read >= len(roles) * len(demo.findings)  # most of the answers were pages, not refusals


def test_a_findings_csv_reads_like_its_page_for_outcomes_where_lower_is_better(demo, demo_client):
    """An outside statistician found the CSV giving the measured effect of days absent
    (−0.37) beside the page's 0.37 and an improvement index of +14.5, which the CSV's own
    effect contradicts. The WWC improvement index is 100 Φ(g) − 50 for g with positive =
    better (WWC Procedures Handbook 4.1, Appendix E), so each row must agree with it, and the
    effect must be the JSON's g turned by the outcome's direction."""
    from scipy.stats import norm

    flipped = 0
    for finding in (f for f in demo.findings if f["published"]):
        number = finding["id"]
        body = demo_client.get(f"/findings/{number}.json").json()
        results = body.get("results", body)
        rows = list(csv.DictReader(io.StringIO(demo_client.get(f"/findings/{number}.csv").text)))
        for outcome in results["outcomes"]:
            if outcome["headline"] is None:
                continue
            mine = {r["measure"]: r["value"] for r in rows if r["outcome"] == outcome["label"]}
            effect = float(mine["effect size (SD, positive = better)"])
            low, high = float(mine["95 % CI low"]), float(mine["95 % CI high"])
            sign = -1 if outcome["direction"] == "lower_is_better" else 1
            flipped += sign == -1
            assert effect == pytest.approx(sign * outcome["headline"]["g"]), (number, outcome)
            assert low <= effect <= high, (number, outcome["name"])
            assert sorted([low, high]) == pytest.approx(
                sorted(sign * bound for bound in outcome["headline"]["ci"])
            )
            if "improvement index (percentile points)" in mine:
                index = float(mine["improvement index (percentile points)"])
                assert index == pytest.approx(100 * norm.cdf(effect) - 50), (number, outcome)
    assert flipped, "the demo should publish an outcome where lower is better"
