"""API shapes for findings (msgspec Structs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from testbed.tables import RowId


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
