"""The costs API: the same services as the pages, as JSON."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from analysis.cost_effectiveness import CostEffectiveness, FiellerSet
from testbed.auth import PUBLIC, SignedIn, Viewer, guarded
from testbed.costs import cpi, planning, purchases, services, words
from testbed.costs.guards import price_keeper, site_cost_keeper, site_cost_reader
from testbed.costs.schemas import (
    Band,
    ComparedProductOut,
    ComparisonOut,
    CostEffectivenessOut,
    CostItemIn,
    CostItemOut,
    DecisionCountsOut,
    DistrictPlanOut,
    Interval,
    Outcome,
    PilotCostOut,
    Price,
    PriceIn,
    ProductCostsOut,
    PurchaseIn,
    PurchaseOut,
    SiteCostsOut,
    Students,
    StudentsIn,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound


def _interval(found: FiellerSet | None) -> Interval | None:
    if found is None:
        return None
    return Interval(kind=found.kind, low=found.low, high=found.high, level=found.level)


def ce_out(result: CostEffectiveness | None, dollar_year: int) -> CostEffectivenessOut | None:
    if result is None:
        return None
    return CostEffectivenessOut(
        cost_per_student=result.cost_per_student,
        cost_se=result.cost_se,
        effect=result.effect,
        effect_ci=list(result.effect_ci),
        effect_per_1000=result.effect_per_1000,
        effect_per_1000_interval=_interval(result.effect_per_1000_set),
        gain=result.gain,
        cost_for_gain=result.cost_for_gain,
        cost_for_gain_interval=_interval(result.cost_for_gain_set),
        withheld=result.withheld,
        sentences=words.cost_effectiveness(result, dollar_year),
    )


def _price(row: dict) -> Price:
    return Price(
        id=row["id"],
        basis=row["basis"],
        amount=row["amount"],
        amount_in_dollar_year=row["constant"],
        includes=row["includes"],
        effective_on=row["effective_on"],
    )


def _purchase_out(found: dict | None) -> PurchaseOut | None:
    if not found or found.get("pending"):
        return None
    return PurchaseOut(
        id=found["id"],
        price_per_student=found["price_per_student"],
        students=found["students"],
        total=found["total"],
        evidence_strength=found["evidence_strength"],
        evidence_snapshot=found["evidence_snapshot"],
    )


async def _site_out(sheet: services.SiteCosts) -> SiteCostsOut:
    return SiteCostsOut(
        purchase=_purchase_out(await purchases.purchase_of(sheet.pilot["id"], sheet.site["id"])),
        pilot_id=sheet.pilot["id"],
        site_id=sheet.site["id"],
        dollar_year=sheet.dollar_year,
        treatment_students=sheet.students,
        total=sheet.total,
        per_student=sheet.per_student,
        by_category=sheet.by_category,
        items=[
            CostItemOut(
                id=row["id"],
                category=row["category"],
                description=row["description"],
                who=row["who"],
                quantity=row["quantity"],
                unit=row["unit"],
                unit_price=row["unit_price"],
                price_year=row["price_year"],
                cost_in_dollar_year=row["cost"],
            )
            for row in sheet.items
        ],
        cost_effectiveness=ce_out(sheet.ce, sheet.dollar_year),
        price_note=sheet.price_note,
    )


def product_costs_out(costs: services.ProductCosts) -> ProductCostsOut:
    return ProductCostsOut(
        product_id=costs.product["id"],
        product=costs.product["name"],
        dollar_year=costs.dollar_year,
        cpi_source=cpi.SOURCE,
        prices=[_price(row) for row in costs.prices],
        list_price_per_student=costs.list_per_student,
        sites_with_costs=costs.sites,
        site_cost_range=list(costs.site_range) if costs.site_range else None,
        cost_basis=costs.basis,
        cost_per_student=costs.cost_per_student,
        pooled=ce_out(costs.pooled, costs.dollar_year),
        sentences=costs.sentences,
        pilots=[
            PilotCostOut(
                pilot_id=pilot.pilot_id,
                title=pilot.title,
                outcome=pilot.outcome,
                design_type=pilot.design_type,
                effect=pilot.estimate,
                sites_with_costs=pilot.sites,
                cost_per_student=pilot.cost_per_student,
                cost_basis=pilot.basis,
                cost_effectiveness=ce_out(pilot.ce, costs.dollar_year),
                sentences=pilot.sentences,
                price_note=pilot.price_note,
            )
            for pilot in costs.pilots
        ],
        method=words.METHOD,
        price_note=costs.price_note,
    )


def _plan_out(plan: planning.DistrictPlan) -> DistrictPlanOut:
    return DistrictPlanOut(
        district_id=plan.district["id"],
        product_id=plan.product["id"],
        students=plan.students,
        students_estimated=plan.students_estimated,
        grades=plan.grades,
        dollar_year=plan.dollar_year,
        total_at_list_price=plan.total,
        per_student=plan.per_student,
        pilots=plan.k,
        prediction_interval=list(plan.prediction) if plan.prediction else None,
        pooled_ci=list(plan.pooled) if plan.pooled else None,
        sentences=plan.sentences,
        price_note=plan.price_note,
    )


def _comparison_out(found: planning.Comparison) -> ComparisonOut:
    return ComparisonOut(
        band=found.band,
        outcome=found.outcome,
        bands=found.bands,
        outcomes=found.outcomes,
        dollar_year=found.dollar_year,
        caveats=found.caveats,
        products=[
            ComparedProductOut(
                product_id=row.product_id,
                product=row.product,
                vendor=row.vendor,
                comparable=row.comparable,
                note=row.why_not,
                pilots=row.pilots,
                designs=row.designs,
                effect=row.estimate,
                effect_ci=list(row.ci) if row.ci else None,
                cost_per_student=row.cost_per_student,
                cost_basis=row.cost_basis,
                cost_effectiveness=ce_out(row.ce, found.dollar_year),
                price_note=row.price_note,
            )
            for row in found.rows
        ],
    )


SITE = "/pilots/{pilot_id:int}/sites/{site_id:int}/costs"


class CostApi(Controller):
    path = "/api/v1"
    tags = ["costs"]

    @get(
        "/products/{product_id:int}/costs",
        summary="A product's list prices, site cost range and cost-effectiveness (public)",
        opt=PUBLIC,
        raises=[NotFound],
    )
    async def product_costs(self, viewer: Viewer, product_id: FromPath[int]) -> ProductCostsOut:
        return product_costs_out(await services.product_costs(viewer, product_id))

    @get(
        "/districts/{district_id:int}/products/{product_id:int}/costs",
        summary="What the product would cost the district at list price, and its likely gain",
        opt=PUBLIC,
        raises=[NotFound, InvalidInput],
    )
    async def district_plan(
        self,
        viewer: Viewer,
        district_id: FromPath[int],
        product_id: FromPath[int],
        students: Students = None,
    ) -> DistrictPlanOut:
        return _plan_out(await planning.district_plan(viewer, district_id, product_id, students))

    @get(
        "/costs/compare",
        summary="Products with pilots on the same outcome and grade band, side by side",
        opt=PUBLIC,
        raises=[NotFound, InvalidInput],
    )
    async def compare(self, band: Band = None, outcome: Outcome = None) -> ComparisonOut:
        return _comparison_out(await planning.comparison(band, outcome))

    @post(
        "/products/{product_id:int}/prices",
        summary="Add a list price (the product's vendor or a network admin)",
        **guarded(price_keeper),
        status_code=HTTP_201_CREATED,
        raises=[Forbidden, NotFound, InvalidInput],
    )
    async def add_price(
        self, principal: SignedIn, product_id: FromPath[int], data: JSONBody[PriceIn]
    ) -> Price:
        values = msgspec.structs.asdict(data)
        values["effective_on"] = data.effective_on and data.effective_on.isoformat()
        price_id = await services.add_price(principal, product_id, values)
        rows = await services.list_prices(product_id)
        return _price(next(row for row in rows if row["id"] == price_id))

    @get(
        SITE,
        summary="A pilot site's costs (its district, the product's vendor, network admins)",
        **guarded(site_cost_reader),
        raises=[Forbidden, NotFound],
    )
    async def site_costs(
        self, principal: SignedIn, pilot_id: FromPath[int], site_id: FromPath[int]
    ) -> SiteCostsOut:
        return await _site_out(await services.site_costs(principal, pilot_id, site_id))

    @post(
        SITE + "/items",
        summary="Add one ingredient to the site's costs (the site's district)",
        **guarded(site_cost_keeper),
        status_code=HTTP_201_CREATED,
        raises=[Forbidden, NotFound, InvalidInput],
    )
    async def add_item(
        self,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: JSONBody[CostItemIn],
    ) -> SiteCostsOut:
        await services.add_item(principal, pilot_id, site_id, msgspec.structs.asdict(data))
        return await _site_out(await services.site_costs(principal, pilot_id, site_id))

    @post(
        "/pilots/{pilot_id:int}/sites/{site_id:int}/purchase",
        summary="Record what the district paid after deciding to adopt (the site's district)",
        **guarded(site_cost_keeper),
        status_code=HTTP_201_CREATED,
        raises=[Forbidden, NotFound, InvalidInput, Conflict],
    )
    async def record_purchase(
        self,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: JSONBody[PurchaseIn],
    ) -> PurchaseOut:
        await purchases.record_purchase(principal, pilot_id, site_id, msgspec.structs.asdict(data))
        return _purchase_out(await purchases.purchase_of(pilot_id, site_id))

    @get(
        "/network/decisions",
        summary="Districts' decisions after pilots, by the strength of the evidence (public)",
        opt=PUBLIC,
    )
    async def decisions(self) -> DecisionCountsOut:
        return DecisionCountsOut(**await purchases.decisions_by_strength())

    @put(
        SITE + "/students",
        summary="Set the number of students in the site's pilot arm (the site's district)",
        **guarded(site_cost_keeper),
        raises=[Forbidden, NotFound, InvalidInput],
    )
    async def set_students(
        self,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: JSONBody[StudentsIn],
    ) -> SiteCostsOut:
        await services.set_students(principal, pilot_id, site_id, msgspec.structs.asdict(data))
        return await _site_out(await services.site_costs(principal, pilot_id, site_id))


ROUTE_HANDLERS = [CostApi]
