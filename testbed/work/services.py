"""What needs this person now, across the pilots and organizations they belong to.

Each rule below is a question the person's role has to answer next in a pilot's life
(docs/catalog.md, docs/matching.md, docs/designs.md, docs/findings.md); the item links to the
page where it is answered. Overdue means the pilot's end date has passed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from testbed.auth import Principal
from testbed.tables import (
    Dataset,
    DesignVersion,
    Enrollment,
    Finding,
    FindingApproval,
    Organization,
    Pilot,
    PilotRole,
    Product,
)

# A design is registered before a pilot's data arrive: from matching on, an unregistered design
# is the writers' next task.
NEEDS_DESIGN = ("matching", "active")
# Data are due from a site from the moment its pilot runs.
NEEDS_DATA = ("active", "analysis")


@dataclass(frozen=True)
class WorkItem:
    kind: str  # wait | verify | accept | volunteers | design | upload | run | decide | close
    words: str
    link: str
    overdue: bool = False


async def work_for(principal: Principal, today: datetime.date | None = None) -> list[WorkItem]:
    today = today or datetime.datetime.now(datetime.UTC).date()
    items = [
        WorkItem(
            "wait",
            f"{m.name} is waiting for a network administrator to verify it; until then you can "
            "browse and prepare, but not take part in pilots",
            "/help",
        )
        for m in principal.memberships
        if not m.verified and m.kind in ("district", "vendor", "research")
    ]
    districts = principal.organizations_of_kind("district", verified_only=True)
    vendors = principal.organizations_of_kind("vendor", verified_only=True)
    if districts:
        items += await _district_work(districts, today)
    if vendors:
        items += await _vendor_work(vendors, today)
    items += await _researcher_work(principal.user_id, vendors)
    if principal.is_network_admin:
        items += await _admin_work(today)
    # Overdue first, then in the order a pilot goes through its life.
    order = ("wait", "verify", "accept", "volunteers", "design", "upload", "run", "decide", "close")
    return sorted(items, key=lambda item: (not item.overdue, order.index(item.kind), item.words))


async def _pilots(ids: set[int] | list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    rows = await Pilot.select(
        Pilot.id, Pilot.title, Pilot.status, Pilot.ends_on, Pilot.product.vendor.as_alias("vendor")
    ).where(Pilot.id.is_in(list(ids)))
    return {row["id"]: row for row in rows}


def _overdue(pilot: dict, today: datetime.date) -> bool:
    return pilot["ends_on"] is not None and pilot["ends_on"] < today


async def _registered(pilot_ids: list[int]) -> set[int]:
    if not pilot_ids:
        return set()
    rows = await DesignVersion.select(DesignVersion.pilot).where(
        DesignVersion.pilot.is_in(pilot_ids) & DesignVersion.registered_at.is_not_null()
    )
    return {row["pilot"] for row in rows}


async def _open_findings(pilot_ids: list[int]) -> list[dict]:
    """Each pilot's latest unpublished full finding (the one decisions are made on)."""
    if not pilot_ids:
        return []
    rows = (
        await Finding.select(Finding.id, Finding.pilot)
        .where(
            Finding.pilot.is_in(pilot_ids)
            & (Finding.variant == "full")
            & Finding.published_at.is_null()
        )
        .order_by(Finding.id)
    )
    latest = {row["pilot"]: row for row in rows}
    return list(latest.values())


async def _decisions(finding_ids: list[int]) -> set[tuple[int, int | None]]:
    if not finding_ids:
        return set()
    rows = await FindingApproval.select(FindingApproval.finding, FindingApproval.site).where(
        FindingApproval.finding.is_in(finding_ids)
    )
    return {(row["finding"], row["site"]) for row in rows}


async def _district_work(districts: list[int], today: datetime.date) -> list[WorkItem]:
    enrollments = await Enrollment.select(
        Enrollment.id, Enrollment.pilot, Enrollment.district, Enrollment.status
    ).where(
        Enrollment.district.is_in(districts)
        & Enrollment.status.is_in(["proposed", "accepted_by_vendor", "site"])
    )
    pilots = await _pilots({row["pilot"] for row in enrollments})
    items = [
        WorkItem(
            "accept",
            f"Accept or decline the proposal to host “{pilots[row['pilot']]['title']}”",
            "/matching",
        )
        for row in enrollments
        if row["status"] != "site"
    ]
    sites = [row for row in enrollments if row["status"] == "site"]
    current = (
        await Dataset.select(Dataset.pilot, Dataset.site).where(
            Dataset.site.is_in(districts) & Dataset.is_current.eq(True)
        )
        if sites
        else []
    )
    uploaded = {(row["pilot"], row["site"]) for row in current}
    for row in sites:
        pilot = pilots[row["pilot"]]
        if pilot["status"] in NEEDS_DATA and (pilot["id"], row["district"]) not in uploaded:
            items.append(
                WorkItem(
                    "upload",
                    f"Upload your outcome data for “{pilot['title']}”",
                    f"/pilots/{pilot['id']}/data",
                    overdue=_overdue(pilot, today),
                )
            )
    findings = await _open_findings([row["pilot"] for row in sites])
    decided = await _decisions([finding["id"] for finding in findings])
    for finding in findings:
        for row in sites:
            if row["pilot"] == finding["pilot"] and (finding["id"], row["district"]) not in decided:
                items.append(
                    WorkItem(
                        "decide",
                        "Approve or withhold your site's results of "
                        f"“{pilots[row['pilot']]['title']}”",
                        f"/findings/{finding['id']}#publication",
                    )
                )
    return items


async def _vendor_work(vendors: list[int], today: datetime.date) -> list[WorkItem]:
    rows = await Pilot.select(Pilot.id).where(
        Pilot.product.is_in(Product.select(Product.id).where(Product.vendor.is_in(vendors)))
    )
    pilots = await _pilots({row["id"] for row in rows})
    if not pilots:
        return []
    ids = list(pilots)
    items: list[WorkItem] = []
    enrollments = await Enrollment.select(Enrollment.pilot, Enrollment.status).where(
        Enrollment.pilot.is_in(ids)
        & Enrollment.status.is_in(["volunteered", "proposed", "accepted_by_district"])
    )
    for pilot_id in sorted({row["pilot"] for row in enrollments}):
        statuses = [row["status"] for row in enrollments if row["pilot"] == pilot_id]
        pending = sum(status != "volunteered" for status in statuses)
        title = pilots[pilot_id]["title"]
        if pending:
            items.append(
                WorkItem(
                    "accept",
                    f"Accept or decline {pending} proposed site(s) for “{title}”",
                    f"/pilots/{pilot_id}/volunteers",
                )
            )
        elif pilots[pilot_id]["status"] in ("open", "matching"):
            items.append(
                WorkItem(
                    "volunteers",
                    f"{len(statuses)} district(s) volunteered for “{title}”",
                    f"/pilots/{pilot_id}/volunteers",
                )
            )
    items += await _design_work(pilots, "vendor")
    findings = await _open_findings(ids)
    with_finding = {finding["pilot"] for finding in findings} | {
        row["pilot"] for row in await Finding.select(Finding.pilot).where(Finding.pilot.is_in(ids))
    }
    for pilot in pilots.values():
        if pilot["status"] == "analysis" and pilot["id"] not in with_finding:
            items.append(
                WorkItem(
                    "run",
                    f"Run the registered analysis of “{pilot['title']}”",
                    f"/pilots/{pilot['id']}/findings",
                    overdue=_overdue(pilot, today),
                )
            )
    decided = await _decisions([finding["id"] for finding in findings])
    for finding in findings:
        title = pilots[finding["pilot"]]["title"]
        if (finding["id"], None) not in decided:
            items.append(
                WorkItem(
                    "decide",
                    f"Approve or withhold the finding of “{title}”",
                    f"/findings/{finding['id']}#publication",
                )
            )
    return items


async def _design_work(pilots: dict[int, dict], role: str) -> list[WorkItem]:
    waiting = [p for p in pilots.values() if p["status"] in NEEDS_DESIGN]
    registered = await _registered([p["id"] for p in waiting])
    who = "" if role == "vendor" else " (you are one of its researchers)"
    return [
        WorkItem(
            "design",
            f"Write and register the design of “{p['title']}”{who}",
            f"/pilots/{p['id']}/design",
        )
        for p in waiting
        if p["id"] not in registered
    ]


async def _researcher_work(user_id: int, vendors: list[int]) -> list[WorkItem]:
    rows = await PilotRole.select(PilotRole.pilot).where(PilotRole.user == user_id)
    pilots = await _pilots({row["pilot"] for row in rows})
    # A vendor's own pilots are already on its list.
    pilots = {pid: p for pid, p in pilots.items() if p["vendor"] not in vendors}
    return await _design_work(pilots, "researcher")


async def _admin_work(today: datetime.date) -> list[WorkItem]:
    unverified = (
        await Organization.select(Organization.id, Organization.name)
        .where(Organization.verified.eq(False) & (Organization.kind != "network"))
        .order_by(Organization.name)
    )
    items = [
        WorkItem("verify", f"Verify or leave unverified: {row['name']}", "/admin")
        for row in unverified
    ]
    ended = await Pilot.select(Pilot.id, Pilot.title, Pilot.ends_on).where(
        (Pilot.status == "active") & Pilot.ends_on.is_not_null() & (Pilot.ends_on < today)
    )
    items += [
        WorkItem(
            "close",
            f"“{row['title']}” ended on {row['ends_on'].isoformat()}: move it to "
            "analysis once its data are in",
            f"/pilots/{row['id']}",
            overdue=True,
        )
        for row in ended
    ]
    return items
