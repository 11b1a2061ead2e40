"""API shapes for network synthesis (msgspec Structs)."""

from __future__ import annotations

from typing import Any

import msgspec


class PilotEffect(msgspec.Struct):
    pilot_id: int
    finding_id: int
    title: str
    outcome: str
    design_type: str
    estimate: float | None
    se: float | None
    ci: list[float] | None
    p: float | None
    students: int | None
    shrunken_estimate: float | None
    weight: float | None
    locale: str | None
    retracted: bool
    pooled: bool
    not_pooled_because: str | None


class ProductEvidence(msgspec.Struct):
    product_id: int
    product: str
    headline: str
    k: int
    districts: int
    students: int
    students_exact: bool
    pooled: dict[str, Any] | None
    heterogeneity: str
    prediction: str
    method: str
    essa: dict[str, Any] | None
    breakdowns: list[dict[str, Any]]
    pilots: list[PilotEffect]
    # Why the pooled effect is not the pilots' plain average or the estimates by group.
    why_different: list[str]


class SimilarDistrict(msgspec.Struct):
    district_id: int
    name: str
    state: str | None
    distance: float
    why: str
    findings: list[dict[str, Any]]


class SimilarDistricts(msgspec.Struct):
    district_id: int
    name: str
    matches: list[SimilarDistrict]
