"""What a product costs and what it buys: list prices, each pilot site's ingredients, and
cost-effectiveness per pilot and pooled per product.

Who sees what (docs/costs.md): a product's list prices are public. A site's ingredients carry
the price its district was offered, so they reach only that district, the product's vendor
and network administrators. Public pages show site costs only as a range across at least
PUBLIC_MIN_SITES sites; with fewer, cost-effectiveness uses the list price and says so.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from analysis.cost_effectiveness import (
    CostEffectiveness,
    Ingredient,
    clustered_mean_cost,
    cost_effectiveness,
    site_cost,
)
from testbed import audit
from testbed.access import SITE_STATUSES, PilotAccess, pilot_access
from testbed.auth import Principal
from testbed.catalog.services import get_product, require_product_editor
from testbed.costs import cpi, words
from testbed.db import is_unique_violation
from testbed.errors import Forbidden, InvalidInput, NotFound
from testbed.synthesis.services import Evidence, product_evidence
from testbed.tables import CostItem, CostSheet, Enrollment, Organization, Pilot, ProductPrice

CATEGORIES = {
    "licences": "Licences",
    "devices": "Devices",
    "training": "Training",
    "setup": "Setup",
    "staff": "Staff time",
    "other": "Other",
}
BASES = {"per_student": "per student per year", "per_site": "per site per year"}
# Site costs reach public pages only as a range or mean over at least this many sites, so no
# single district's negotiated price can be read or worked out from them.
PUBLIC_MIN_SITES = 3
MAX_AMOUNT = 100_000_000.0
MAX_STUDENTS = 2_000_000
# Plausibility ceilings (docs/costs.md): an amount above them is a typing slip, and one such
# slip would swamp every mean and interval it enters. The largest U.S. district spends about
# $30,000 per student a year on everything; no one edtech item reaches $100 million.
MAX_ITEM_TOTAL = 100_000_000.0
MAX_PER_STUDENT = 100_000.0
MAX_LIST_PRICE = {"per_student": MAX_PER_STUDENT, "per_site": MAX_ITEM_TOTAL}


# --- reading input -------------------------------------------------------------------------


class FieldReader:
    """Reads one form or JSON body, collecting every problem by field."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.errors: list[dict[str, str]] = []

    def problem(self, name: str, message: str) -> None:
        self.errors.append({"field": name, "message": message})

    def text(self, name: str, what: str, *, max_length: int, required: bool = True) -> str:
        value = str(self.values.get(name) or "").strip()
        if required and not value:
            self.problem(name, f"Give {what}.")
        elif len(value) > max_length:
            self.problem(name, f"Keep {what} within {max_length} characters.")
        elif "\n" in value or "\r" in value:
            self.problem(name, f"Write {what} on one line.")
        return value

    def number(
        self, name: str, what: str, *, maximum: float, whole: bool = False, minimum: float = 0
    ) -> float:
        raw = self.values.get(name)
        text = "" if raw is None else str(raw).strip().replace(",", "").lstrip("$")
        try:
            value = float(text)
        except ValueError:
            self.problem(name, f"Give {what} as a number.")
            return 0.0
        if not math.isfinite(value):
            self.problem(name, f"Give {what} as a number.")
        elif value < 0 <= minimum:
            self.problem(name, f"{what.capitalize()} must not be negative.")
        elif value < minimum or value > maximum:
            self.problem(name, f"Give {what} between {minimum:g} and {maximum:,.0f}.")
        elif whole and not value.is_integer():
            self.problem(name, f"Give {what} as a whole number.")
        else:
            return value
        return 0.0

    def choice(self, name: str, what: str, allowed: dict[str, str]) -> str:
        value = str(self.values.get(name) or "")
        if value not in allowed:
            self.problem(name, f"Choose {what}: {', '.join(allowed.values()).lower()}.")
        return value

    def check(self, message: str) -> None:
        if self.errors:
            raise InvalidInput(message, errors=self.errors)


def _year(reader: FieldReader, name: str, today: datetime.date) -> int:
    raw = str(reader.values.get(name) or "").strip()
    first = cpi.first_year()
    if not raw.isdigit() or not first <= int(raw) <= today.year:
        reader.problem(
            name,
            f"Give the year of the price as a year from {first} (the price index's first "
            f"year) to {today.year} (this year).",
        )
        return first
    return int(raw)


# --- list prices ---------------------------------------------------------------------------


def _outward(low: float, high: float) -> tuple[float, float]:
    """The public range of site costs, widened to two significant figures, so neither end is
    one site's exact cost (with the mean, two exact ends would give a third site's cost)."""

    def rounded(value: float, up: bool) -> float:
        if value <= 0:
            return 0.0
        step = 10.0 ** (math.floor(math.log10(value)) - 1)
        # Rounded first to six places, so a stored 39.99999999 is not floored to 39.
        return (math.ceil if up else math.floor)(round(value / step, 6)) * step

    return rounded(low, up=False), rounded(high, up=True)


async def list_prices(product_id: int) -> list[dict[str, Any]]:
    """The product's list prices, newest first, each with its amount in dollars of the
    dollar year (`constant`, for a per-student price)."""
    rows = (
        await ProductPrice.select(
            ProductPrice.id,
            ProductPrice.basis,
            ProductPrice.amount,
            ProductPrice.includes,
            ProductPrice.effective_on,
            ProductPrice.recorded_at,
        )
        .where(ProductPrice.product == product_id)
        .order_by(ProductPrice.effective_on, ascending=False)
        .order_by(ProductPrice.id, ascending=False)
    )
    for row in rows:
        row["constant"] = cpi.in_dollar_year(row["amount"], row["effective_on"].year)
    return rows


def current_price(prices: list[dict[str, Any]], today: datetime.date) -> dict[str, Any] | None:
    return next((row for row in prices if row["effective_on"] <= today), None)


async def add_price(
    principal: Principal,
    product_id: int,
    values: dict[str, Any],
    today: datetime.date | None = None,
) -> int:
    """A new list price from the product's vendor (or an admin); older ones stay as history."""
    await require_product_editor(principal, product_id)
    today = today or datetime.date.today()
    reader = FieldReader(values)
    basis = reader.choice("basis", "what the price is for", BASES)
    amount = reader.number("amount", "the price", maximum=MAX_AMOUNT)
    includes = reader.text("includes", "what the price includes", max_length=2000)
    effective = _date(reader, "effective_on", today)
    if basis in MAX_LIST_PRICE and amount > MAX_LIST_PRICE[basis]:
        reader.problem(
            "amount",
            f"A list price {BASES[basis]} above {_money(MAX_LIST_PRICE[basis])} is not "
            "plausible: check the amount.",
        )
    reader.check("The price needs fixing.")
    row = await ProductPrice.insert(
        ProductPrice(
            product=product_id,
            basis=basis,
            amount=amount,
            includes=includes,
            effective_on=effective,
            recorded_by=principal.user_id,
        )
    )
    await audit.record(
        "product.price",
        actor_id=principal.user_id,
        object_type="product",
        object_id=product_id,
        detail={"basis": basis, "amount": amount, "effective_on": effective.isoformat()},
    )
    return row[0]["id"]


def _date(reader: FieldReader, name: str, today: datetime.date) -> datetime.date:
    raw = reader.values.get(name)
    if raw in (None, ""):
        return today
    try:
        value = datetime.date.fromisoformat(str(raw))
    except ValueError:
        reader.problem(name, "Give the date as YYYY-MM-DD, e.g. 2026-07-01.")
        return today
    if value.year < cpi.first_year() or value.year > today.year + 1:
        reader.problem(name, f"Give a date from {cpi.first_year()} to next year.")
    return value


# --- a site's ingredients ------------------------------------------------------------------


async def site_access(principal: Principal | None, pilot_id: int, site_id: int) -> PilotAccess:
    """The principal's access to the pilot, when the path's district is one of its sites and
    the principal may read that site's costs: the site's own district, the product's vendor or
    a network admin. A pilot the principal may not see, or a district that is not its site,
    is a 404; a pilot they see but a sheet they may not is a 403."""
    access = await pilot_access(principal, pilot_id)
    is_site = await Enrollment.exists().where(
        (Enrollment.pilot == pilot_id)
        & (Enrollment.district == site_id)
        & Enrollment.status.is_in(sorted(SITE_STATUSES))
    )
    if not is_site:
        raise NotFound("That district is not a site of this pilot.")
    if not (access.is_network_admin or access.is_vendor or site_id in access.site_district_ids):
        raise Forbidden(
            "A site's costs (and the price it was offered) stay with that district, the "
            "product's vendor and network administrators."
        )
    return access


async def require_site_keeper(principal: Principal, pilot_id: int, site_id: int) -> None:
    access = await site_access(principal, pilot_id, site_id)
    if site_id not in access.site_district_ids:
        raise Forbidden("Only the site's own district enters its costs.")


async def _sheet_id(pilot_id: int, site_id: int, *, create: bool) -> int | None:
    where = (CostSheet.pilot == pilot_id) & (CostSheet.district == site_id)
    found = await CostSheet.select(CostSheet.id).where(where).first()
    if found is not None or not create:
        return found and found["id"]
    try:
        row = await CostSheet.insert(CostSheet(pilot=pilot_id, district=site_id))
        return row[0]["id"]
    except Exception as error:  # two first entries at once: the index keeps one sheet
        if not is_unique_violation(error):
            raise
        return (await CostSheet.select(CostSheet.id).where(where).first())["id"]


async def add_item(
    principal: Principal,
    pilot_id: int,
    site_id: int,
    values: dict[str, Any],
    today: datetime.date | None = None,
) -> int:
    await require_site_keeper(principal, pilot_id, site_id)
    today = today or datetime.date.today()
    reader = FieldReader(values)
    category = reader.choice("category", "a kind of cost", CATEGORIES)
    description = reader.text("description", "what it is", max_length=200)
    who = reader.text("who", "who was trained or whose time", max_length=120, required=False)
    quantity = reader.number("quantity", "the quantity", maximum=MAX_AMOUNT)
    unit = reader.text("unit", "the unit", max_length=40, required=False)
    unit_price = reader.number("unit_price", "the unit price", maximum=MAX_AMOUNT)
    price_year = _year(reader, "price_year", today)
    if not reader.errors:
        await _check_item_size(reader, pilot_id, site_id, quantity * unit_price, price_year)
    reader.check("The cost needs fixing.")
    sheet = await _sheet_id(pilot_id, site_id, create=True)
    row = await CostItem.insert(
        CostItem(
            sheet=sheet,
            category=category,
            description=description,
            who=who,
            quantity=quantity,
            unit=unit,
            unit_price=unit_price,
            price_year=price_year,
            entered_by=principal.user_id,
        )
    )
    await audit.record(
        "costs.item",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"site": site_id, "category": category},
    )
    return row[0]["id"]


def _money(value: float) -> str:
    return f"${value:,.0f}"


async def _sheet_total(pilot_id: int, site_id: int) -> tuple[float, int]:
    """The site's recorded total (dollar-year dollars) and its students in the pilot arm."""
    sheet = (
        await CostSheet.select(CostSheet.id, CostSheet.treatment_students)
        .where((CostSheet.pilot == pilot_id) & (CostSheet.district == site_id))
        .first()
    )
    if sheet is None:
        return 0.0, 0
    items = (await _items_by_sheet([sheet["id"]])).get(sheet["id"], [])
    return sum(row["cost"] for row in items), sheet["treatment_students"] or 0


async def _check_item_size(
    reader: FieldReader, pilot_id: int, site_id: int, amount: float, price_year: int
) -> None:
    if amount > MAX_ITEM_TOTAL:
        reader.problem(
            "quantity",
            f"Quantity × unit price comes to {_money(amount)}, above the {_money(MAX_ITEM_TOTAL)} "
            "one item may total: check the quantity and the unit price.",
        )
        return
    total, students = await _sheet_total(pilot_id, site_id)
    total += cpi.in_dollar_year(amount, price_year)
    if students and total / students > MAX_PER_STUDENT:
        reader.problem(
            "quantity",
            f"With this item the site's cost would be {_money(total / students)} per student, "
            f"above the {_money(MAX_PER_STUDENT)} a year that is plausible: check the quantity, "
            "the unit price and the number of students.",
        )


async def remove_item(principal: Principal, pilot_id: int, site_id: int, item_id: int) -> None:
    await require_site_keeper(principal, pilot_id, site_id)
    sheet = await _sheet_id(pilot_id, site_id, create=False)
    found = sheet and await CostItem.exists().where(
        (CostItem.id == item_id) & (CostItem.sheet == sheet)
    )
    if not found:
        raise NotFound("There is no such cost on this site's sheet.")
    await CostItem.delete().where(CostItem.id == item_id)
    await audit.record(
        "costs.item_removed",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"site": site_id, "item": item_id},
    )


async def set_students(
    principal: Principal, pilot_id: int, site_id: int, values: dict[str, Any]
) -> None:
    await require_site_keeper(principal, pilot_id, site_id)
    reader = FieldReader(values)
    students = reader.number(
        "treatment_students",
        "the number of students who used the product",
        maximum=MAX_STUDENTS,
        whole=True,
    )
    total, _ = await _sheet_total(pilot_id, site_id)
    if students and total / students > MAX_PER_STUDENT:
        reader.problem(
            "treatment_students",
            f"With {int(students):,} students the site's cost would be "
            f"{_money(total / students)} per student, above the {_money(MAX_PER_STUDENT)} a year "
            "that is plausible: check the number of students and the costs.",
        )
    reader.check("The number of students needs fixing.")
    sheet = await _sheet_id(pilot_id, site_id, create=True)
    await CostSheet.update(
        {
            CostSheet.treatment_students: int(students),
            CostSheet.updated_at: datetime.datetime.now(datetime.UTC),
        }
    ).where(CostSheet.id == sheet)


@dataclass
class SiteCosts:
    pilot: dict[str, Any]
    site: dict[str, Any]
    items: list[dict[str, Any]]
    students: int
    total: float
    per_student: float | None
    by_category: dict[str, float]
    dollar_year: int
    may_edit: bool
    price_note: str | None = None  # which prices count at face value (cpi.unadjusted_note)
    effect: Any = None  # the pilot's published primary effect (synthesis.PilotEstimate)
    ce: CostEffectiveness | None = None
    sentences: list[str] = field(default_factory=list)


async def _items_by_sheet(sheet_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = (
        await CostItem.select(
            CostItem.id,
            CostItem.sheet,
            CostItem.category,
            CostItem.description,
            CostItem.who,
            CostItem.quantity,
            CostItem.unit,
            CostItem.unit_price,
            CostItem.price_year,
        )
        .where(CostItem.sheet.is_in(sheet_ids or [-1]))
        .order_by(CostItem.id)
    )
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        row["cost"] = cpi.in_dollar_year(row["quantity"] * row["unit_price"], row["price_year"])
        grouped[row["sheet"]].append(row)
    return grouped


def _total(items: list[dict[str, Any]], students: int):
    return site_cost(
        [
            Ingredient(
                row["category"],
                row["quantity"],
                row["unit_price"],
                min(row["price_year"], cpi.dollar_year()),
            )
            for row in items
        ],
        students,
        cpi.dollar_year(),
        cpi.table(),
    )


async def site_costs(principal: Principal, pilot_id: int, site_id: int) -> SiteCosts:
    access = await site_access(principal, pilot_id, site_id)
    pilot = (
        await Pilot.select(
            Pilot.id,
            Pilot.title,
            Pilot.product.as_alias("product_id"),
            Pilot.product.name.as_alias("product"),
        )
        .where(Pilot.id == pilot_id)
        .first()
    )
    site = (
        await Organization.select(Organization.id, Organization.name)
        .where(Organization.id == site_id)
        .first()
    )
    sheet = (
        await CostSheet.select()
        .where((CostSheet.pilot == pilot_id) & (CostSheet.district == site_id))
        .first()
    )
    items = (await _items_by_sheet([sheet["id"]]))[sheet["id"]] if sheet else []
    students = sheet["treatment_students"] if sheet else 0
    total = _total(items, students)
    result = SiteCosts(
        pilot=pilot,
        site=site,
        items=items,
        students=students,
        total=total.total,
        per_student=total.per_student,
        by_category=total.by_category,
        dollar_year=cpi.dollar_year(),
        may_edit=site_id in access.site_district_ids,
        price_note=cpi.unadjusted_note(row["price_year"] for row in items),
    )
    evidence = await product_evidence(pilot["product_id"])
    result.effect = next((p for p in evidence.pilots if p.pilot_id == pilot_id), None)
    if result.per_student is not None and _usable(result.effect):
        result.ce = cost_effectiveness(
            result.effect.estimate,
            result.effect.se,
            result.per_student,
            critical=effect_critical(result.effect),
        )
        result.sentences = words.cost_effectiveness(result.ce, cpi.dollar_year())
    return result


def effect_critical(effect: Any) -> float | None:
    """The critical value the finding's own interval was built with: half its width over its
    SE (t on the analysis's degrees of freedom for a cluster trial, 1.96 otherwise), so the
    effect's interval here and the Fieller sets built on it agree with the published one."""
    if effect.ci is None or not effect.se:
        return None
    return (effect.ci[1] - effect.ci[0]) / (2 * effect.se) or None


def _usable(effect: Any) -> bool:
    return (
        effect is not None
        and effect.estimate is not None
        and bool(effect.se)
        and not effect.retracted
    )


# --- a product's costs and what they buy ---------------------------------------------------


@dataclass
class PilotCost:
    pilot_id: int
    title: str
    design_type: str
    outcome: str
    estimate: float | None
    ci: tuple[float, float] | None
    sites: int  # sites with costs entered
    cost_per_student: float | None
    basis: str  # "sites" | "list_price" | "none"
    ce: CostEffectiveness | None
    sentences: list[str]
    price_note: str | None = None


@dataclass
class ProductCosts:
    product: dict[str, Any]
    prices: list[dict[str, Any]]
    price: dict[str, Any] | None
    list_per_student: float | None  # the current list price per student, dollar-year dollars
    sites: int
    site_range: tuple[float, float] | None
    basis: str
    cost_per_student: float | None
    cost_se: float
    cost_from: str  # in words: which pilots' sites (or the list price) the cost is from
    pooled: CostEffectiveness | None
    # The pooled effect on the list price, for a chart beside the per-pilot (list price) rows
    # when `pooled` is on sites' recorded costs: one chart, one cost basis.
    pooled_at_list: CostEffectiveness | None
    sentences: list[str]
    pilots: list[PilotCost]
    evidence: Evidence
    dollar_year: int
    site_sheets: list[dict[str, Any]]  # for the vendor and admins: links to each site's sheet
    price_note: str | None = None  # which prices behind `cost_per_student` are at face value


def per_student_list_price(
    price: dict[str, Any] | None, students_per_site: float | None
) -> float | None:
    """A list price per student in dollar-year dollars: a per-site price spread over the
    students a site enrolls (the pilot's planned students per site)."""
    if price is None:
        return None
    if price["basis"] == "per_student":
        return price["constant"]
    if students_per_site:
        return price["constant"] / students_per_site
    return None


async def planned_students_per_site(product_id: int) -> float | None:
    """The students a pilot site of the product plans, averaged over its pilots: the number a
    per-site price is spread over, on every page (None when a pilot does not say)."""
    planned = [
        row["students_per_site"]
        for row in await Pilot.select(Pilot.students_per_site).where(Pilot.product == product_id)
    ]
    return sum(planned) / len(planned) if planned and all(planned) else None


async def costed_sites(product_id: int) -> list[dict[str, Any]]:
    """Every site of the product's pilots with costs and students entered: pilot, district,
    students and cost per student (dollar-year dollars). Confidential rows: callers show them
    only to whoever may see them, or aggregated over PUBLIC_MIN_SITES."""
    sheets = await CostSheet.select(
        CostSheet.id,
        CostSheet.pilot,
        CostSheet.district,
        CostSheet.district.name.as_alias("district_name"),
        CostSheet.pilot.title.as_alias("title"),
        CostSheet.treatment_students,
    ).where((CostSheet.pilot.product == product_id) & (CostSheet.treatment_students > 0))
    items = await _items_by_sheet([sheet["id"] for sheet in sheets])
    rows = []
    for sheet in sheets:
        if not items.get(sheet["id"]):
            continue
        total = _total(items[sheet["id"]], sheet["treatment_students"])
        years = {row["price_year"] for row in items[sheet["id"]]}
        rows.append(
            {**sheet, "total": total.total, "per_student": total.per_student, "years": years}
        )
    return sorted(rows, key=lambda row: (row["pilot"], row["district_name"]))


async def product_costs(
    principal: Principal | None,
    product_id: int,
    today: datetime.date | None = None,
    evidence: Evidence | None = None,
) -> ProductCosts:
    """`evidence`: the product's evidence when the caller has it already (the evidence page)."""
    today = today or datetime.date.today()
    product = await get_product(product_id)
    prices = await list_prices(product_id)
    price = current_price(prices, today)
    evidence = evidence or await product_evidence(product_id)
    sites = await costed_sites(product_id)
    planned = {
        row["id"]: row["students_per_site"]
        for row in await Pilot.select(Pilot.id, Pilot.students_per_site).where(
            Pilot.product == product_id
        )
    }
    by_pilot: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for site in sites:
        by_pilot[site["pilot"]].append(site)

    price_year = price["effective_on"].year if price else None
    pilots = []
    for effect in evidence.pilots:
        own = by_pilot.get(effect.pilot_id, [])
        # A pilot's own costs stay off public pages even across three sites: beside the
        # product's mean over all sites, a pilot's mean would let the others' be worked out by
        # subtraction. Public per-pilot rows use the list price.
        cost, se, basis, _ = pooled_cost(
            [], per_student_list_price(price, planned.get(effect.pilot_id)), []
        )
        ce = None
        sentences: list[str] = []
        if cost is not None and _usable(effect) and effect.pooled:
            ce = cost_effectiveness(
                effect.estimate, effect.se, cost, se, critical=effect_critical(effect)
            )
            sentences = words.cost_effectiveness(ce, cpi.dollar_year())
        elif not effect.pooled:
            sentences = [words.not_pooled(effect.not_pooled_because)]
        pilots.append(
            PilotCost(
                pilot_id=effect.pilot_id,
                title=effect.title,
                design_type=effect.design_type,
                outcome=effect.outcome,
                estimate=effect.estimate,
                ci=effect.ci,
                sites=len(own),
                cost_per_student=cost,
                basis=basis,
                ce=ce,
                sentences=sentences,
                price_note=cpi.unadjusted_note([price_year]) if basis == "list_price" else None,
            )
        )

    list_per_student = per_student_list_price(price, await planned_students_per_site(product_id))
    # The cost comes from the same pilots as the effect it is divided into.
    pooled_ids = [pilot.pilot_id for pilot in evidence.pooled_pilots]
    in_effect = [site for site in sites if site["pilot"] in pooled_ids]
    cost, se, basis, cost_from = pooled_cost(in_effect, list_per_student, evidence.pooled_pilots)
    pooled = pooled_at_list = None
    sentences = []
    effect = _pooled_effect(evidence)
    if effect is not None and cost is not None:
        estimate, effect_se, df, critical = effect
        pooled = cost_effectiveness(estimate, effect_se, cost, se, df=df, critical=critical)
        if basis == "sites" and list_per_student is not None:
            pooled_at_list = cost_effectiveness(
                estimate, effect_se, list_per_student, df=df, critical=critical
            )
        sentences = words.cost_effectiveness(pooled, cpi.dollar_year())
    elif effect is None:
        sentences = [words.no_pooled_effect()]
    else:
        sentences = [words.no_cost()]
    years = (
        {year for site in in_effect for year in site["years"]} if basis == "sites" else {price_year}
    )
    site_range = None
    if len(sites) >= PUBLIC_MIN_SITES:
        per_student = [site["per_student"] for site in sites]
        site_range = _outward(min(per_student), max(per_student))
    may_see_sheets = principal is not None and (
        principal.is_network_admin or principal.is_member_of(product["vendor_id"])
    )
    return ProductCosts(
        product=product,
        prices=prices,
        price=price,
        list_per_student=list_per_student,
        sites=len(sites),
        site_range=site_range,
        basis=basis,
        cost_per_student=cost,
        cost_se=se,
        cost_from=cost_from,
        pooled=pooled,
        pooled_at_list=pooled if basis == "list_price" else pooled_at_list,
        sentences=sentences,
        pilots=pilots,
        evidence=evidence,
        dollar_year=cpi.dollar_year(),
        site_sheets=sites if may_see_sheets else [],
        price_note=cpi.unadjusted_note(years) if basis != "none" else None,
    )


def pooled_cost(
    sites: list[dict[str, Any]], list_per_student: float | None, pilots: list[Any]
) -> tuple[float | None, float, str, str]:
    """The cost per student a public page may divide the effect of `pilots` by: the
    student-weighted mean of at least PUBLIC_MIN_SITES of their sites (SE over pilots), else
    the list price, else none; with the words saying where it comes from."""
    if len(sites) >= PUBLIC_MIN_SITES:
        mean, se = clustered_mean_cost(
            [site["per_student"] for site in sites],
            [site["treatment_students"] for site in sites],
            [site["pilot"] for site in sites],
        )
        costed = {site["pilot"] for site in sites}
        titles = ", ".join(pilot.title for pilot in pilots if pilot.pilot_id in costed)
        words_from = (
            f"Cost: the average over the {len(sites)} sites of the {len(costed)} "
            f"pilot{'' if len(costed) == 1 else 's'} in the effect that entered their costs "
            f"({titles}), weighted by their students."
        )
        if se is None:
            words_from += (
                " Its uncertainty cannot be estimated from one pilot (its sites share a "
                "negotiated price and a design), so the intervals treat the cost as known."
            )
        return mean, se or 0.0, "sites", words_from
    if list_per_student is not None:
        return list_per_student, 0.0, "list_price", "Cost: the current list price."
    return None, 0.0, "none", ""


def _pooled_effect(
    evidence: Evidence,
) -> tuple[float, float, float | None, float | None] | None:
    """The product's effect as the evidence page states it: the pooled random-effects estimate
    (Knapp-Hartung t on its degrees of freedom), or the single pooled pilot's (with the critical
    value of its own interval)."""
    if evidence.pooled:
        pooled = evidence.pooled
        return pooled["estimate"], pooled["se"], pooled["df"], None
    pooled = evidence.pooled_pilots
    if len(pooled) == 1 and _usable(pooled[0]):
        return pooled[0].estimate, pooled[0].se, None, effect_critical(pooled[0])
    return None


async def evidence_section(evidence: Evidence) -> list[str]:
    """The costs part of a product's evidence page: what the pooled effect costs, in words."""
    costs = await product_costs(None, evidence.product["id"], evidence=evidence)
    return costs.sentences
