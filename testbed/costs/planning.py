"""Planning a purchase: what a product would cost one district and what it would likely buy
("districts like mine"), and products side by side on the same outcome and grade band.

Both are public: they use only list prices, districts' public profiles and published pilots.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from analysis.cost_effectiveness import CostEffectiveness, cost_effectiveness
from analysis.meta import random_effects
from testbed.auth import Principal
from testbed.catalog.services import get_district, get_product
from testbed.costs import cpi, services, words
from testbed.errors import InvalidInput, NotFound
from testbed.synthesis.services import PilotEstimate, product_evidence
from testbed.tables import Pilot, Product
from testbed.vocabulary import BAND_WORDS, DESIGN_TYPE_SHORT_WORDS, GRADE_BANDS

RANDOMIZED = frozenset({"rct", "cluster_rct"})


def product_grades(grade_bands: list[str]) -> set[str]:
    return {grade for band in grade_bands for grade in GRADE_BANDS.get(band, ())}


def students_in_grades(profile: dict[str, Any], grades: set[str]) -> int:
    """The district's enrolment in the product's grades, assuming grades of equal size (the
    profile holds the total enrolment and the grades served, not each grade's count)."""
    served = profile["grades_served"] or []
    if not served:
        return 0
    share = len(set(served) & grades) / len(served)
    return round(profile["enrollment"] * share)


@dataclass
class DistrictPlan:
    district: dict[str, Any]
    product: dict[str, Any]
    students: int
    students_estimated: bool  # from the profile (True) or given by the visitor (False)
    grades: list[str]
    price: dict[str, Any] | None
    total: float | None  # at list price, dollar-year dollars
    per_student: float | None
    dollar_year: int
    k: int
    prediction: tuple[float, float] | None
    pooled: tuple[float, float] | None
    site_students: float | None = None  # a per-site price is spread over these (product page's)
    serves_none: bool = False  # the district has none of the product's grades
    sentences: list[str] = field(default_factory=list)
    price_note: str | None = None  # cpi.unadjusted_note for the list price


async def district_plan(
    principal: Principal | None,
    district_id: int,
    product_id: int,
    students: int | None = None,
    today: datetime.date | None = None,
) -> DistrictPlan:
    today = today or datetime.date.today()
    district = await get_district(principal, district_id)
    profile = district["profile"]
    if profile is None:
        raise NotFound("This district has not filled in its profile, so it cannot be costed.")
    product = await get_product(product_id)
    grades = product_grades(product["grade_bands"])
    estimated = students is None
    if students is None:
        students = students_in_grades(profile, grades)
    elif not 1 <= students <= services.MAX_STUDENTS:
        raise InvalidInput(
            "Give the number of students between 1 and 2,000,000.",
            errors=[{"field": "students", "message": "Give a whole number from 1 to 2,000,000."}],
        )
    price = services.current_price(await services.list_prices(product_id), today)
    # The product page's rule: a per-site price spread over a pilot site's planned students.
    site_students = await services.planned_students_per_site(product_id)
    per_student = services.per_student_list_price(price, site_students)
    total = per_student * students if per_student is not None and students else None
    evidence = await product_evidence(product_id)
    serves_none = estimated and not set(profile["grades_served"] or []) & grades
    pooled = None if serves_none else evidence.pooled
    plan = DistrictPlan(
        district=district,
        product=product,
        students=students,
        students_estimated=estimated,
        grades=sorted(set(profile["grades_served"] or []) & grades),
        price=price,
        total=total,
        per_student=per_student,
        dollar_year=cpi.dollar_year(),
        k=evidence.k,
        prediction=tuple(pooled["prediction_interval"]) if pooled else None,
        pooled=tuple(pooled["ci"]) if pooled else None,
        site_students=site_students,
        serves_none=serves_none,
    )
    plan.sentences = words.district_plan(plan, evidence.pooled_pilots)
    if price is not None:
        plan.price_note = cpi.unadjusted_note([price["effective_on"].year])
    return plan


# --- products side by side -----------------------------------------------------------------


@dataclass
class ComparedProduct:
    product_id: int
    product: str
    vendor: str
    comparable: bool
    why_not: str
    pilots: int
    designs: list[str]
    estimate: float | None
    ci: tuple[float, float] | None
    cost_per_student: float | None
    cost_basis: str
    ce: CostEffectiveness | None
    sentences: list[str]
    price_note: str | None = None
    cost_from: str = ""  # which pilots' sites (or the list price) the cost is from


@dataclass
class Comparison:
    band: str
    outcome: str
    bands: list[str]
    outcomes: list[str]
    rows: list[ComparedProduct]
    caveats: list[str]
    dollar_year: int


def _bands_of(grades: list[str]) -> set[str]:
    return {band for band, members in GRADE_BANDS.items() if set(members) & set(grades or [])}


async def comparison(band: str | None, outcome: str | None) -> Comparison:
    """Every product with a published pilot in the grade band; those whose pilots measured the
    chosen outcome side by side, the others marked not comparable with the reason."""
    if band not in (None, "") and band not in GRADE_BANDS:
        raise InvalidInput(
            "Choose a grade band.",
            errors=[
                {"field": "band", "message": "Choose one of " + ", ".join(BAND_WORDS.values())}
            ],
        )
    products = await Product.select(
        Product.id, Product.name, Product.vendor.name.as_alias("vendor")
    ).order_by(Product.name)
    grades = {row["id"]: row["grades"] for row in await Pilot.select(Pilot.id, Pilot.grades)}
    found: dict[int, tuple[dict[str, Any], list[PilotEstimate], Any]] = {}
    for product in products:
        evidence = await product_evidence(product["id"])
        usable = [p for p in evidence.pilots if not p.retracted and p.estimate is not None]
        if usable:
            found[product["id"]] = (product, usable, evidence)
    bands_seen = sorted(
        {
            b
            for _, pilots, _ in found.values()
            for p in pilots
            for b in _bands_of(grades.get(p.pilot_id, []))
        },
        key=list(GRADE_BANDS).index,
    )
    band = band or (bands_seen[0] if bands_seen else "g35")
    in_band = {
        product_id: (product, [p for p in pilots if band in _bands_of(grades.get(p.pilot_id, []))])
        for product_id, (product, pilots, _) in found.items()
    }
    in_band = {key: value for key, value in in_band.items() if value[1]}
    counts: dict[str, int] = defaultdict(int)
    for _, pilots in in_band.values():
        for label in {p.outcome for p in pilots}:
            counts[label] += 1
    outcomes = sorted(counts, key=lambda label: (-counts[label], label))
    if outcome and outcome not in counts:
        # Showing another outcome in its place would answer a question nobody asked.
        measured = "; ".join(outcomes) if outcomes else "none yet"
        message = (
            f"No product has a published pilot in {BAND_WORDS.get(band, band).lower()} that "
            f"measured “{outcome}”. Outcomes measured there: {measured}."
        )
        # A comparison that does not exist, like any object that does not: 404, with the reason.
        raise NotFound(message, errors=[{"field": "outcome", "message": message}])
    outcome = outcome or (outcomes[0] if outcomes else "")
    rows = []
    for product, pilots in in_band.values():
        rows.append(await _compared(product, pilots, outcome))
    rows.sort(key=lambda row: (not row.comparable, row.product))
    return Comparison(
        band=band,
        outcome=outcome,
        bands=bands_seen,
        outcomes=outcomes,
        rows=rows,
        caveats=words.comparison_caveats(),
        dollar_year=cpi.dollar_year(),
    )


async def _compared(product: dict[str, Any], pilots: list[PilotEstimate], outcome: str):
    same = [p for p in pilots if p.outcome == outcome]
    row = ComparedProduct(
        product_id=product["id"],
        product=product["name"],
        vendor=product["vendor"],
        comparable=False,
        why_not="",
        pilots=len(same),
        designs=sorted({DESIGN_TYPE_SHORT_WORDS.get(p.design_type, p.design_type) for p in same}),
        estimate=None,
        ci=None,
        cost_per_student=None,
        cost_basis="none",
        ce=None,
        sentences=[],
    )
    if not same:
        measured = ", ".join(sorted({p.outcome for p in pilots}))
        row.why_not = f"Not comparable: its pilots in this grade band measured {measured}."
        return row
    with_comparison = [p for p in same if p.pooled]
    if not with_comparison:
        row.why_not = (
            "Not comparable: its pilots had no comparison group (before and after only), so "
            "they show change, not an effect."
        )
        return row
    row.comparable = True
    if len(with_comparison) >= 2:
        meta = random_effects(
            [p.estimate for p in with_comparison],
            [p.se**2 for p in with_comparison],
            method="REML",
            knapp_hartung=True,
        )
        estimate, se, df, ci = meta.estimate, meta.se, meta.df, meta.ci
        critical = None
    else:
        only = with_comparison[0]
        estimate, se, df, ci = only.estimate, only.se, None, only.ci
        critical = services.effect_critical(only)
    row.estimate, row.ci = estimate, tuple(ci)
    costs = await services.product_costs(None, product["id"])
    # The band's own pilots' costs, not the product-wide mean: the same pilots as the effect.
    band_ids = {p.pilot_id for p in with_comparison}
    pooled_ids = {p.pilot_id for p in costs.evidence.pooled_pilots}
    every = await services.costed_sites(product["id"])
    band = [site for site in every if site["pilot"] in band_ids]
    rest = [site for site in every if site["pilot"] in pooled_ids - band_ids]
    if 0 < len(rest) < services.PUBLIC_MIN_SITES:
        band = []  # beside the product page's mean it would give the rest away by subtraction
    cost, cost_se, basis, row.cost_from = services.pooled_cost(
        band, costs.list_per_student, with_comparison
    )
    row.cost_per_student, row.cost_basis = cost, basis
    price_years = [costs.price["effective_on"].year] if costs.price else []
    years = {year for site in band for year in site["years"]} if basis == "sites" else price_years
    row.price_note = cpi.unadjusted_note(years)
    if cost is not None:
        row.ce = cost_effectiveness(estimate, se, cost, cost_se, df=df, critical=critical)
        row.sentences = words.cost_effectiveness(row.ce, cpi.dollar_year())
    if not {p.design_type for p in with_comparison} <= RANDOMIZED:
        row.why_not = (
            "Compare with care: some of its pilots matched a comparison group instead of "
            "randomizing, which leaves more room for other explanations."
        )
    return row
