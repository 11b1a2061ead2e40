"""The JSON shapes of the costs API."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

import msgspec
from litestar.params import Parameter

# Query parameters of the planning pages and API.
Students = Annotated[
    int | None,
    Parameter(ge=1, le=2_000_000, description="Students to cost (else estimated)"),
]
Band = Annotated[
    Literal["k2", "g35", "g68", "g912"] | None,
    Parameter(description="A grade band (testbed/vocabulary.py GRADE_BANDS); empty for the first"),
]
Outcome = Annotated[str | None, Parameter(max_length=200, description="An outcome's name")]

Money = Annotated[float, msgspec.Meta(ge=0, le=100_000_000)]


class PriceIn(msgspec.Struct, forbid_unknown_fields=True):
    basis: str  # per_student | per_site
    amount: Money
    includes: Annotated[str, msgspec.Meta(max_length=2000)]
    effective_on: datetime.date | None = None


class Price(msgspec.Struct):
    id: int
    basis: str
    amount: float
    amount_in_dollar_year: float
    includes: str
    effective_on: datetime.date


class CostItemIn(msgspec.Struct, forbid_unknown_fields=True):
    category: str  # licences | devices | training | setup | staff | other
    description: Annotated[str, msgspec.Meta(max_length=200)]
    quantity: Money
    unit_price: Money
    price_year: Annotated[int, msgspec.Meta(ge=1900, le=2100)]
    unit: Annotated[str, msgspec.Meta(max_length=40)] = ""
    who: Annotated[str, msgspec.Meta(max_length=120)] = ""


class StudentsIn(msgspec.Struct, forbid_unknown_fields=True):
    treatment_students: Annotated[int, msgspec.Meta(ge=0, le=2_000_000)]


class Interval(msgspec.Struct):
    """A Fieller confidence set: kind "interval" (low to high), "exclusive" (all but the gap
    from low to high) or "unbounded" (every value)."""

    kind: str
    low: float | None
    high: float | None
    level: float


class CostEffectivenessOut(msgspec.Struct):
    cost_per_student: float
    cost_se: float
    effect: float
    effect_ci: list[float]
    effect_per_1000: float | None
    effect_per_1000_interval: Interval | None
    gain: float
    cost_for_gain: float | None
    cost_for_gain_interval: Interval | None
    withheld: str | None
    sentences: list[str]


class CostItemOut(msgspec.Struct):
    id: int
    category: str
    description: str
    who: str
    quantity: float
    unit: str
    unit_price: float
    price_year: int
    cost_in_dollar_year: float


class SiteCostsOut(msgspec.Struct):
    pilot_id: int
    site_id: int
    dollar_year: int
    treatment_students: int
    total: float
    per_student: float | None
    by_category: dict[str, float]
    items: list[CostItemOut]
    cost_effectiveness: CostEffectivenessOut | None
    purchase: PurchaseOut | None
    # Which contributing prices are dated after the price index's last year (face value).
    price_note: str | None = None


class PilotCostOut(msgspec.Struct):
    pilot_id: int
    title: str
    outcome: str
    design_type: str
    effect: float | None
    sites_with_costs: int
    cost_per_student: float | None
    cost_basis: str
    cost_effectiveness: CostEffectivenessOut | None
    sentences: list[str]
    # Which contributing prices are dated after the price index's last year (face value).
    price_note: str | None = None


class ProductCostsOut(msgspec.Struct):
    product_id: int
    product: str
    dollar_year: int
    cpi_source: str
    prices: list[Price]
    list_price_per_student: float | None
    sites_with_costs: int
    site_cost_range: list[float] | None
    cost_basis: str
    cost_per_student: float | None
    pooled: CostEffectivenessOut | None
    sentences: list[str]
    pilots: list[PilotCostOut]
    method: str
    # Which contributing prices are dated after the price index's last year (face value).
    price_note: str | None = None


class DistrictPlanOut(msgspec.Struct):
    district_id: int
    product_id: int
    students: int
    students_estimated: bool
    grades: list[str]
    dollar_year: int
    total_at_list_price: float | None
    per_student: float | None
    pilots: int
    prediction_interval: list[float] | None
    pooled_ci: list[float] | None
    sentences: list[str]
    # Which contributing prices are dated after the price index's last year (face value).
    price_note: str | None = None


class ComparedProductOut(msgspec.Struct):
    product_id: int
    product: str
    vendor: str
    comparable: bool
    note: str
    pilots: int
    designs: list[str]
    effect: float | None
    effect_ci: list[float] | None
    cost_per_student: float | None
    cost_basis: str
    cost_effectiveness: CostEffectivenessOut | None
    # Which contributing prices are dated after the price index's last year (face value).
    price_note: str | None = None


class ComparisonOut(msgspec.Struct):
    band: str
    outcome: str
    bands: list[str]
    outcomes: list[str]
    dollar_year: int
    products: list[ComparedProductOut]
    caveats: list[str]


class PurchaseIn(msgspec.Struct, forbid_unknown_fields=True):
    price_per_student: Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
    students: Annotated[int, msgspec.Meta(ge=1, le=2_000_000)]


class PurchaseOut(msgspec.Struct):
    id: int
    price_per_student: float
    students: int
    total: float
    evidence_strength: str
    evidence_snapshot: dict


class DecisionCountsOut(msgspec.Struct):
    """Counts of 1-9 are null (hidden), with any total or cell that would give them away."""

    decisions: list[str]
    strengths: list[str]
    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None
    threshold: int
