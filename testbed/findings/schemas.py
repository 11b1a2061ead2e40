"""API shapes for findings (msgspec Structs)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec


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
    computed_at: datetime
    published_at: datetime | None
    retracted_at: datetime | None
    retraction_reason: str
    embargo_until: date | None
    withheld_sites: int
    suppressed: bool
    results: dict[str, Any]
