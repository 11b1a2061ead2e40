"""Loading the generated demo network into the database (SQLite or PostgreSQL).

Small parent tables go in through `bulk_insert` too, and their ids are read back by natural
key (slug, email, title...), so nothing depends on the order a backend returns rows in. The
whole load, reset included, runs in one transaction: it all happens or none of it does.
"""

from __future__ import annotations

import asyncio
import datetime
from collections import Counter
from collections.abc import Iterator
from typing import Any

from piccolo.engine.sqlite import TransactionType
from piccolo.table import Table

from testbed.accounts.passwords import hash_password
from testbed.accounts.services import network_organization_id
from testbed.bulk import bulk_insert
from testbed.demo.costs import insert_costs
from testbed.demo.generate import (
    COORDINATOR_EMAIL,
    DEMO_PASSWORD,
    FOUNDER_EMAIL,
    NETWORK_ADMIN_EMAIL,
    RESEARCHER_EMAIL,
    STATUS_COUNTS,
    UNVERIFIED_FOUNDER_EMAIL,
    generate_network,
)
from testbed.demo.model import DemoNetwork, PilotSpec
from testbed.demo.vocabulary import REFERENCE_DATE
from testbed.designs.services import registered_design
from testbed.findings.services import compute_finding, current_datasets
from testbed.tables import (
    TABLES,
    Assignment,
    Dataset,
    DesignVersion,
    DistrictProfile,
    Enrollment,
    Finding,
    FindingApproval,
    Membership,
    Need,
    Observation,
    Organization,
    Pilot,
    PilotRole,
    Product,
    SummaryRow,
    User,
)

_PILOT_COLUMNS = {column._meta.name for column in Pilot._meta.columns}
_DATASET_COLUMNS = {column._meta.name for column in Dataset._meta.columns}
ALREADY_LOADED = (
    "The database already has organizations, so the demo network was not loaded "
    "and nothing was changed. Run `testbed demo --reset` to replace everything."
)
# Pilots whose analysis has been run: published and closed ones published it, pilots in
# analysis wait for the vendor's and the districts' decisions.
FINDING_STATUSES = ("analysis", "published", "closed")
# When the demo's findings were computed and decided on, after the last upload.
COMPUTED_AFTER = datetime.timedelta(days=3)
APPROVED_AFTER = datetime.timedelta(days=10)
PUBLISHED_AFTER = datetime.timedelta(days=21)
DEMO_SIGN_INS = (
    (NETWORK_ADMIN_EMAIL, "network admin"),
    (COORDINATOR_EMAIL, "district coordinator, Cedar Hollow Unified"),
    (FOUNDER_EMAIL, "entrepreneur, Brightpath Learning"),
    (RESEARCHER_EMAIL, "researcher, Northfield Research Group"),
    (UNVERIFIED_FOUNDER_EMAIL, "entrepreneur of an unverified vendor, Quillstone Labs"),
)


def tables_children_first() -> list[type[Table]]:
    """Every table, each before the tables its foreign keys point to (safe deletion order)."""
    referrers: dict[type[Table], list[type[Table]]] = {}
    for table in TABLES:
        for column in table._meta.foreign_key_columns:
            referenced = column._foreign_key_meta.resolved_references
            referrers.setdefault(referenced, []).append(table)
    ordered: list[type[Table]] = []
    visiting: set[type[Table]] = set()

    def place(table: type[Table]) -> None:
        if table in ordered or table in visiting:
            return
        visiting.add(table)
        for referrer in referrers.get(table, []):
            place(referrer)
        ordered.append(table)

    for table in TABLES:
        place(table)
    return ordered


async def empty_database() -> None:
    """Delete every row of every table (inside the caller's transaction, if any)."""
    engine = Organization._meta.db
    if engine.engine_type == "postgres":
        names = ", ".join(table._meta.tablename for table in TABLES)
        await engine.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        return
    for table in tables_children_first():
        await table.delete(force=True)


async def _has_members() -> bool:
    return await Organization.exists().where(Organization.kind != "network")


async def load_demo(scale: int = 1, seed: int = 2026, reset: bool = False) -> str:
    """Load the demo network; return a one-paragraph summary with the demo sign-ins.

    Without `reset`, a database that already has districts, vendors or research
    organizations is left unchanged (the network office that `testbed createadmin` makes does
    not count). With `reset`, every table is emptied first.
    """
    if not reset and await _has_members():
        return ALREADY_LOADED
    network = await asyncio.to_thread(generate_network, scale, seed)
    password_hash = await asyncio.to_thread(hash_password, DEMO_PASSWORD)
    engine = Organization._meta.db
    options: dict[str, Any] = {}
    if engine.engine_type == "sqlite":
        # IMMEDIATE takes the write lock up front: the check and the load cannot interleave
        # with another writer.
        options["transaction_type"] = TransactionType.immediate
    async with engine.transaction(**options):
        if reset:
            await empty_database()
        elif await _has_members():  # checked again: another process may have loaded it
            return ALREADY_LOADED
        await insert_network(network, password_hash)
    return summary(network)


def summary(network: DemoNetwork) -> str:
    kinds = Counter(org.kind for org in network.organizations)
    states = {org.state for org in network.organizations if org.kind == "district"}
    statuses = Counter(pilot.status for pilot in network.pilots)
    datasets = [dataset for pilot in network.pilots for dataset in pilot.datasets]
    designs = sum(len(pilot.designs) for pilot in network.pilots)
    findings = sum(pilot.status in FINDING_STATUSES for pilot in network.pilots)
    published = sum(pilot.status in ("published", "closed") for pilot in network.pilots)
    sign_ins = "; ".join(f"{email} ({role})" for email, role in DEMO_SIGN_INS)
    status_words = ", ".join(f"{statuses[status]} {status}" for status, _ in STATUS_COUNTS)
    return (
        f"Loaded the fictional demo network (scale {network.scale}, seed {network.seed}): "
        f"{kinds['district']} districts in {len(states)} states, {kinds['vendor']} vendors "
        f"with {len(network.products)} products, {kinds['research']} research organizations, "
        f"{len(network.pilots)} pilots ({status_words}), {designs} design versions, "
        f"{len(datasets)} datasets with {network.count_observations():,} student rows, "
        f"{findings} findings ({published} published), and "
        f"{len(network.users)} users. Sign in as {sign_ins}; the password for every demo "
        f"account is {DEMO_PASSWORD}. docs/demo.md describes the data and their true effects."
    )


async def _ids(table: type[Table], *key_columns: str) -> dict[Any, int]:
    columns = [table._meta.get_column_by_name(name) for name in key_columns]
    rows = await table.select(table._meta.primary_key, *columns)
    if len(key_columns) == 1:
        return {row[key_columns[0]]: row["id"] for row in rows}
    return {tuple(row[name] for name in key_columns): row["id"] for row in rows}


async def insert_network(network: DemoNetwork, password_hash: str) -> None:
    """Insert a generated network into a database that holds none of its rows yet."""
    await network_organization_id()  # the network office, created unless it exists
    await bulk_insert(Organization, [vars(org) for org in network.organizations])
    org_id = await _ids(Organization, "slug")

    await bulk_insert(
        DistrictProfile,
        [
            {**vars(district), "organization": org_id[district.organization]}
            for district in network.districts
        ],
    )
    await bulk_insert(
        Need, [{**vars(need), "district": org_id[need.district]} for need in network.needs]
    )

    existing_users = await _ids(User, "email")
    verified_at = datetime.datetime.now(datetime.UTC)  # the demo's people are who they say
    await bulk_insert(
        User,
        [
            {
                "email": user.email,
                "email_verified_at": verified_at,
                "name": user.name,
                "password_hash": password_hash,
                "is_network_admin": user.is_network_admin,
            }
            for user in network.users
            if user.email not in existing_users
        ],
    )
    user_id = await _ids(User, "email")
    await bulk_insert(
        Membership,
        [
            {"user": user_id[user.email], "organization": org_id[slug], "role": role}
            for user in network.users
            for slug, role in user.memberships
        ],
    )

    await bulk_insert(
        Product,
        [{**vars(product), "vendor": org_id[product.vendor]} for product in network.products],
    )
    product_id = await _ids(Product, "vendor", "name")
    await bulk_insert(
        Pilot,
        [
            {name: value for name, value in vars(pilot).items() if name in _PILOT_COLUMNS}
            | {"product": product_id[(org_id[pilot.product_vendor], pilot.product_name)]}
            for pilot in network.pilots
        ],
    )
    pilot_id = await _ids(Pilot, "title")

    await bulk_insert(
        PilotRole,
        [
            {"pilot": pilot_id[pilot.title], "user": user_id[email], "role": "researcher"}
            for pilot in network.pilots
            for email in pilot.researchers
        ],
    )
    await bulk_insert(
        Enrollment,
        [
            {
                **vars(enrollment),
                "pilot": pilot_id[pilot.title],
                "district": org_id[enrollment.district],
            }
            for pilot in network.pilots
            for enrollment in pilot.enrollments
        ],
    )
    await bulk_insert(
        DesignVersion,
        [
            {
                **vars(design),
                "pilot": pilot_id[pilot.title],
                "author": user_id[design.author] if design.author else None,
            }
            for pilot in network.pilots
            for design in pilot.designs
        ],
    )
    await bulk_insert(
        Assignment,
        [
            {**vars(assignment), "pilot": pilot_id[pilot.title], "site": org_id[assignment.site]}
            for pilot in network.pilots
            for assignment in pilot.assignments
        ],
    )
    await bulk_insert(
        Dataset,
        [
            {name: value for name, value in vars(dataset).items() if name in _DATASET_COLUMNS}
            | {
                "pilot": pilot_id[pilot.title],
                "site": org_id[dataset.site],
                "uploaded_by": user_id[dataset.uploaded_by],
            }
            for pilot in network.pilots
            for dataset in pilot.datasets
        ],
    )
    dataset_id = await _ids(Dataset, "pilot", "site", "version")

    def rows_of(kind: str) -> Iterator[tuple[int, Any]]:
        for pilot in network.pilots:
            for dataset in pilot.datasets:
                if dataset.kind == kind:
                    key = (pilot_id[pilot.title], org_id[dataset.site], dataset.version)
                    yield dataset_id[key], dataset

    await bulk_insert(
        Observation,
        (
            {**record, "dataset": identifier}
            for identifier, dataset in rows_of("students")
            if dataset.students is not None
            for record in dataset.students.records()
        ),
    )
    await bulk_insert(
        SummaryRow,
        [
            {**summary_row, "dataset": identifier}
            for identifier, dataset in rows_of("aggregates")
            for summary_row in dataset.summaries or []
        ],
    )

    await insert_findings(network, pilot_id, org_id, user_id)
    await insert_costs(network.seed)


async def insert_findings(
    network: DemoNetwork, pilot_id: dict[str, int], org_id: dict[str, int], user_id: dict[str, int]
) -> None:
    """Each finished pilot's finding, computed from the loaded rows by the findings module.

    Published and closed pilots' findings are approved by the vendor and every site district
    and published; nobody withheld a site, so each is published as computed, with no public
    variant. Findings of pilots in analysis await those decisions. `publish` itself is not
    called: it would stamp today's date and move the pilot on, and these pilots are already
    where the demo's calendar puts them.
    """
    member_of: dict[str, str] = {}
    for user in network.users:
        for slug, _ in user.memberships:
            member_of.setdefault(slug, user.email)
    approvals = []
    for pilot in network.pilots:
        if pilot.status not in FINDING_STATUSES:
            continue
        identifier = pilot_id[pilot.title]
        design = await registered_design(identifier)
        assert design is not None, pilot.title
        finding = await compute_finding(
            identifier, design["id"], await current_datasets(identifier)
        )
        finding.run_by = user_id[pilot.designs[-1].author or NETWORK_ADMIN_EMAIL]
        finding.computed_at = _computed_at(pilot)
        if pilot.status == "analysis":
            await Finding.insert(finding)
            continue
        finding.published_at = finding.computed_at + PUBLISHED_AFTER
        finding_id = (await Finding.insert(finding))[0]["id"]
        decided_at = finding.computed_at + APPROVED_AFTER
        deciders = [(pilot.product_vendor, None)] + [
            (site, org_id[site]) for site in sorted({dataset.site for dataset in pilot.datasets})
        ]
        approvals += [
            {
                "finding": finding_id,
                "site": site,
                "decision": "approve",
                "decided_by": user_id.get(member_of.get(slug, "")),
                "decided_at": decided_at,
            }
            for slug, site in deciders
        ]
    await bulk_insert(FindingApproval, approvals)


def _computed_at(pilot: PilotSpec) -> datetime.datetime:
    """A few days after the last upload, and before the demo's "today"."""
    last_upload = max(dataset.uploaded_at for dataset in pilot.datasets)
    today = datetime.datetime.combine(REFERENCE_DATE, datetime.time(), tzinfo=datetime.UTC)
    return min(last_upload + COMPUTED_AFTER, today - datetime.timedelta(hours=12))
