"""A pilot's sites, their uploads, and the upload rules its registered design sets for them."""

from __future__ import annotations

from typing import Any

from testbed.access import SITE_STATUSES, PilotAccess
from testbed.auth import Principal
from testbed.designs.services import require_registered_design
from testbed.errors import Conflict, Forbidden, NotFound
from testbed.tables import (
    Assignment,
    Dataset,
    Enrollment,
)
from testbed.uploads.columns import STUDENT_COLUMNS
from testbed.uploads.validation import (
    OutcomeRule,
    UploadRules,
)

CLUSTER_UNITS = ("classroom", "school")


async def pilot_sites(pilot_id: int) -> list[dict[str, Any]]:
    """The pilot's sites (districts whose enrollment made them a site), by name."""
    return await (
        Enrollment.select(
            Enrollment.district.id.as_alias("id"), Enrollment.district.name.as_alias("name")
        )
        .where((Enrollment.pilot == pilot_id) & Enrollment.status.is_in(list(SITE_STATUSES)))
        .order_by(Enrollment.district.name)
    )


async def require_site(pilot_id: int, site_id: int) -> dict[str, Any]:
    site = next((s for s in await pilot_sites(pilot_id) if s["id"] == site_id), None)
    if site is None:
        raise NotFound("That district is not a site of this pilot.")
    return site


def may_upload(principal: Principal, access: PilotAccess, site_id: int) -> bool:
    """Network admins, and verified members of the site's own district."""
    if principal.is_network_admin:
        return True
    membership = principal.membership(site_id)
    return (
        membership is not None
        and membership.kind == "district"
        and membership.verified
        and site_id in access.site_district_ids
    )


def require_upload_permission(principal: Principal, access: PilotAccess, site_id: int) -> None:
    if not may_upload(principal, access, site_id):
        raise Forbidden(
            "Only verified members of this site's district (or network administrators) can "
            "upload or change its data."
        )


def rules_from_design(
    document: dict[str, Any], assignment: dict[str, str] | None, max_bytes: int
) -> UploadRules:
    """What the registered design asks of an upload."""
    outcomes = tuple(
        OutcomeRule(
            name=str(outcome["name"]).strip().lower(),
            kind=outcome.get("kind", "continuous"),
            minimum=outcome.get("min"),
            maximum=outcome.get("max"),
            primary=bool(outcome.get("primary")),
        )
        for outcome in document.get("outcomes", [])
    )
    if not outcomes:
        raise Conflict("The registered design names no outcomes; amend it before uploading.")
    cluster_design = document.get("unit_of_assignment") in CLUSTER_UNITS
    return UploadRules(
        arms=tuple(document.get("arms") or ("treatment", "control")),
        outcomes=outcomes,
        needs_cluster=cluster_design or document.get("design_type") == "cluster_rct",
        has_baseline=bool(document.get("baseline_measure")),
        assignment=assignment or None,
        assignment_unit="cluster" if cluster_design else "student",
        max_bytes=max_bytes,
    )


async def site_assignment(pilot_id: int, site_id: int) -> dict[str, str] | None:
    row = (
        await Assignment.select(Assignment.arms)
        .where((Assignment.pilot == pilot_id) & (Assignment.site == site_id))
        .order_by(Assignment.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    return {str(unit): str(arm) for unit, arm in row["arms"].items()} if row else None


async def upload_rules(pilot_id: int, site_id: int, max_bytes: int) -> UploadRules:
    design = await require_registered_design(pilot_id)
    return rules_from_design(
        design["document"], await site_assignment(pilot_id, site_id), max_bytes
    )


def template_header(rules: UploadRules) -> list[str]:
    required, optional = rules.student_columns()
    order = [*STUDENT_COLUMNS, *(outcome.name for outcome in rules.outcomes)]
    wanted = set(required) | set(optional)
    if not rules.needs_cluster:
        # Still accepted in a file, but a template for students assigned one by one does not
        # ask for classroom codes.
        wanted.discard("cluster")
    return [name for name in order if name in wanted]


async def template_csv(pilot_id: int) -> str:
    design = await require_registered_design(pilot_id)
    rules = rules_from_design(design["document"], None, 0)
    return ",".join(template_header(rules)) + "\r\n"


async def pilot_datasets(pilot_id: int) -> list[dict[str, Any]]:
    return await (
        Dataset.select(
            Dataset.id,
            Dataset.site,
            Dataset.site.name.as_alias("site_name"),
            Dataset.version,
            Dataset.kind,
            Dataset.filename,
            Dataset.sha256,
            Dataset.row_count,
            Dataset.uploaded_at,
            Dataset.is_current,
            Dataset.uploaded_by.name.as_alias("uploaded_by_name"),
        )
        .where(Dataset.pilot == pilot_id)
        .order_by(Dataset.site.name)
        .order_by(Dataset.version, ascending=False)
    )
