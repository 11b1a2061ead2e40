"""Pages for costs: a product's costs and what they buy, a pilot site's cost sheet and its
forms, and the price index with its source."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed.auth import (
    PUBLIC,
    Principal,
    SignedIn,
    Viewer,
    guarded,
)
from testbed.costs import cpi, export, planning, plots, purchases, services, words
from testbed.costs.guards import price_keeper, site_cost_keeper, site_cost_reader
from testbed.costs.schemas import Band, Outcome, Students
from testbed.errors import InvalidInput, TestbedError
from testbed.tables import MAX_ID
from testbed.vocabulary import BAND_WORDS
from testbed.web import form_errors, form_page

Form = URLEncodedBody[dict[str, str]]
HELPERS = {
    "dollars": words.dollars,
    "sd": words.sd,
    "interval": words.interval,
    "categories": services.CATEGORIES,
    "bases": services.BASES,
    "method": words.METHOD,
    "cpi_source": cpi.SOURCE,
    "min_sites": services.PUBLIC_MIN_SITES,
}


async def _product_page(
    viewer: Principal | None,
    product_id: int,
    *,
    values: dict[str, Any] | None = None,
    error: TestbedError | None = None,
) -> Template:
    costs = await services.product_costs(viewer, product_id)
    name = costs.product["name"]
    plot = plots.effect_per_1000(
        [
            (pilot.title.removeprefix(name).strip(" :–-") or pilot.title, pilot.ce)
            for pilot in costs.pilots
            if pilot.ce is not None
        ],
        # Per-pilot rows are on the list price, so the pooled row beside them is too.
        costs.pooled_at_list,
        title="Effect per $1,000 per student at list price, each pilot and pooled",
    )
    return form_page(
        "costs/product.html.j2",
        values=values or {},
        error=error,
        extra={"costs": costs, "plot": plot, **HELPERS},
    )


async def _site_page(
    principal: Principal,
    pilot_id: int,
    site_id: int,
    *,
    values: dict[str, Any] | None = None,
    error: TestbedError | None = None,
) -> Template:
    sheet = await services.site_costs(principal, pilot_id, site_id)
    return form_page(
        "costs/site.html.j2",
        values={"price_year": str(cpi.dollar_year()), **(values or {})},
        error=error,
        extra={
            "sheet": sheet,
            "purchase": await purchases.purchase_of(pilot_id, site_id),
            "strengths": purchases.STRENGTHS,
            **HELPERS,
        },
    )


class CostPages(Controller):
    tags = ["costs"]
    include_in_schema = False

    @get("/products/{product_id:int}/costs", opt=PUBLIC)
    async def product_costs(self, viewer: Viewer, product_id: FromPath[int]) -> Template:
        return await _product_page(viewer, product_id)

    @post("/products/{product_id:int}/prices", **guarded(price_keeper))
    async def add_price(
        self,
        request: Request,
        principal: SignedIn,
        product_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.add_price(principal, product_id, data)
        if outcome.error:
            return await _product_page(principal, product_id, values=data, error=outcome.error)
        flash(request, "The list price is recorded.", category="saved")
        return Redirect(f"/products/{product_id}/costs#prices")

    @get("/pilots/{pilot_id:int}/sites/{site_id:int}/costs", **guarded(site_cost_reader))
    async def site_costs(
        self, principal: SignedIn, pilot_id: FromPath[int], site_id: FromPath[int]
    ) -> Template:
        return await _site_page(principal, pilot_id, site_id)

    @post("/pilots/{pilot_id:int}/sites/{site_id:int}/costs/items", **guarded(site_cost_keeper))
    async def add_item(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.add_item(principal, pilot_id, site_id, data)
        if outcome.error:
            return await _site_page(principal, pilot_id, site_id, values=data, error=outcome.error)
        flash(request, "The cost is added.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/sites/{site_id}/costs#items")

    @post("/pilots/{pilot_id:int}/sites/{site_id:int}/costs/students", **guarded(site_cost_keeper))
    async def set_students(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.set_students(principal, pilot_id, site_id, data)
        if outcome.error:
            return await _site_page(principal, pilot_id, site_id, values=data, error=outcome.error)
        flash(request, "The number of students is saved.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/sites/{site_id}/costs")

    @post("/pilots/{pilot_id:int}/sites/{site_id:int}/costs/remove", **guarded(site_cost_keeper))
    async def remove_item(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        item = data.get("item", "")
        with form_errors() as outcome:
            if not item.isdigit():
                raise InvalidInput(
                    "Choose a cost to remove.",
                    errors=[{"field": "item", "message": "Choose a cost to remove."}],
                )
            item_id = int(item) if len(item) <= len(str(MAX_ID)) else 0
            await services.remove_item(
                principal, pilot_id, site_id, item_id if item_id <= MAX_ID else 0
            )
        if outcome.error:
            return await _site_page(principal, pilot_id, site_id, error=outcome.error)
        flash(request, "The cost is removed.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/sites/{site_id}/costs#items")

    @post("/pilots/{pilot_id:int}/sites/{site_id:int}/purchase", **guarded(site_cost_keeper))
    async def record_purchase(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        site_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await purchases.record_purchase(principal, pilot_id, site_id, data)
        if outcome.error:
            return await _site_page(principal, pilot_id, site_id, values=data, error=outcome.error)
        flash(request, "The purchase is recorded with today's evidence.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/sites/{site_id}/costs#purchase")

    @get("/network/decisions", opt=PUBLIC)
    async def decisions(self) -> Template:
        return Template(
            "costs/decisions.html.j2",
            context={
                "counts": await purchases.decisions_by_strength(),
                "strengths": purchases.STRENGTHS,
                "decision_words": purchases.DECISION_WORDS,
            },
        )

    @get("/districts/{district_id:int}/products/{product_id:int}/costs", opt=PUBLIC)
    async def district_plan(
        self,
        viewer: Viewer,
        district_id: FromPath[int],
        product_id: FromPath[int],
        students: Students = None,
    ) -> Template:
        plan = await planning.district_plan(viewer, district_id, product_id, students)
        plot = plots.likely_gain(plan.pooled, plan.prediction) if plan.prediction else None
        return Template("costs/district.html.j2", context={"plan": plan, "plot": plot, **HELPERS})

    @get("/costs/compare", opt=PUBLIC)
    async def compare(self, band: Band = None, outcome: Outcome = None) -> Template:
        found = await planning.comparison(band, outcome)
        # One chart per cost basis: list prices and sites' recorded costs are not one scale.
        charts = [
            plot
            for basis, words_basis in (("list_price", "list price"), ("sites", "sites' own costs"))
            if (
                plot := plots.effect_per_1000(
                    [
                        (row.product, row.ce)
                        for row in found.rows
                        if row.comparable and row.ce and row.cost_basis == basis
                    ],
                    None,
                    title=f"Effect per $1,000 per student on {words_basis}, each product",
                )
            )
        ]
        return Template(
            "costs/compare.html.j2",
            context={"found": found, "band_words": BAND_WORDS, "charts": charts, **HELPERS},
        )

    @get("/network/costs.csv", opt=PUBLIC)
    async def export_csv(self) -> Response[str]:
        return Response(
            export.as_csv(await export.rows()),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="network-costs.csv"'},
        )

    @get("/network/costs/data-dictionary", opt=PUBLIC)
    async def data_dictionary(self) -> Template:
        return Template(
            "costs/data_dictionary.html.j2",
            context={"columns": export.DICTIONARY, "dollar_year": cpi.dollar_year()},
        )

    @get("/costs/price-index", opt=PUBLIC)
    async def price_index(self) -> Template:
        return Template(
            "costs/price_index.html.j2",
            context={"rows": cpi.rows(), "dollar_year": cpi.dollar_year(), **HELPERS},
        )


ROUTE_HANDLERS = [CostPages]
