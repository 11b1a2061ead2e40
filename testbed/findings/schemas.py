"""API shapes for findings (msgspec Structs)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from testbed.tables import RowId

if TYPE_CHECKING:
    from testbed.findings.services import FindingView


class FindingSummary(msgspec.Struct):
    id: int
    pilot_id: int
    headline: str
    variant: str
    computed_at: datetime
    published_at: datetime | None
    retracted_at: datetime | None


class PublishedFinding(msgspec.Struct):
    id: int
    pilot_id: int
    pilot_title: str
    product: str
    headline: str
    published_at: datetime
    retracted_at: datetime | None


class FindingOut(msgspec.Struct):
    id: int
    pilot_id: int
    variant: str
    design_version_id: int
    dataset_ids: list[int]
    headline: str
    weaknesses: list[str]
    # Why the headline is not the plain difference in averages or the subgroup estimates.
    why_different: list[str]
    computed_at: datetime
    published_at: datetime | None
    retracted_at: datetime | None
    retraction_reason: str
    embargo_until: date | None
    withheld_sites: int
    suppressed: bool
    results: dict[str, Any]


class ApprovalIn(msgspec.Struct):
    decision: str  # approve | withhold
    # Left out: the vendor decides for the whole finding; a district names its site.
    site_id: RowId | None = None


class SiteApproval(msgspec.Struct):
    site_id: int
    decision: str | None  # approve | withhold | None (not decided yet)


class ApprovalOut(msgspec.Struct):
    finding_id: int
    vendor: str | None
    sites: list[SiteApproval]
    embargo_until: date | None
    waiting_for: str | None  # why it cannot be published yet; None once it can


class RetractIn(msgspec.Struct):
    reason: str


def finding_out(view: FindingView) -> dict[str, Any]:
    """A finding as the API gives it (FindingOut's fields) and the page's JSON download."""
    finding = view.finding
    return {
        "id": finding["id"],
        "pilot_id": finding["pilot"],
        "variant": finding["variant"],
        "design_version_id": finding["design_version"],
        "dataset_ids": json.loads(finding["dataset_ids"]),
        "headline": view.headline,
        "weaknesses": view.weaknesses,
        "why_different": view.shown.why_different,
        "computed_at": finding["computed_at"],
        "published_at": finding["published_at"],
        "retracted_at": finding["retracted_at"],
        "retraction_reason": finding["retraction_reason"],
        "embargo_until": finding["embargo_until"],
        "withheld_sites": view.withheld_sites,
        "suppressed": view.results["suppressed"],
        "results": view.results,
    }
