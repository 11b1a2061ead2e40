"""Pages for the catalog: districts and their needs, products, and pilot calls. The same in
JSON: api.py."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed import vocabulary
from testbed.access import pilot_manager, pilot_viewer
from testbed.auth import PUBLIC, Principal, SignedIn, Viewer, guarded
from testbed.catalog import services
from testbed.catalog.filters import (
    Filters,
    PageNumber,
    district_filters,
    need_filters,
    pilot_filters,
    product_filters,
)
from testbed.catalog.guards import district_member, product_editor, verified_vendor
from testbed.catalog.services import ListFilters
from testbed.errors import TestbedError
from testbed.web import client_address, form_errors, form_page

# Form fields that hold several checkbox values.
LIST_FIELDS = frozenset(
    {"grades_served", "platforms", "pillars", "grade_bands", "subjects", "grades"}
)


async def read_form(request: Request) -> dict[str, Any]:
    """The posted form, with every value of the checkbox groups (a plain dict body would keep
    only one value per name)."""
    form = await request.form()
    values: dict[str, Any] = {name: [] for name in LIST_FIELDS}
    for name in form:
        values[name] = form.getall(name) if name in LIST_FIELDS else form.get(name)
    return values


def _list_page(template: str, result: services.Page, **extra: Any) -> Template:
    return Template(template, context={"result": result, "filters": result.filters, **extra})


STATE_OPTIONS = [("", "Choose a state"), *((state, state) for state in vocabulary.US_STATES)]


def _percent_text(share: float | None) -> str:
    return "" if share is None else f"{round(100 * share, 2):g}"


def _profile_form_values(district: dict[str, Any]) -> dict[str, Any]:
    profile = district["profile"] or {}
    values = {
        **profile,
        "state": district["state"] or "",
        "max_concurrent_pilots": profile.get("max_concurrent_pilots", 2),
    }
    for name in ("frl_share", "el_share", "swd_share"):
        values[name] = _percent_text(profile.get(name))
    return values


class DistrictController(Controller):
    path = "/districts"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(district_filters)})
    async def districts(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_districts(viewer, filters, page)
        return _list_page("catalog/districts.html.j2", result)

    @get("/{district_id:int}")
    async def district(self, viewer: Viewer, district_id: FromPath[int]) -> Template:
        district = await services.get_district(viewer, district_id)
        return Template(
            "catalog/district.html.j2",
            context={
                "district": district,
                "needs": await services.open_needs(viewer, district_id),
                "is_member": viewer is not None
                and (viewer.is_network_admin or viewer.is_member_of(district_id)),
            },
        )

    @get("/{district_id:int}/profile", **guarded(district_member))
    async def profile_form(self, principal: SignedIn, district_id: FromPath[int]) -> Template:
        district = await services.get_district(principal, district_id)
        return form_page(
            "catalog/profile_form.html.j2",
            values=_profile_form_values(district),
            extra={"district": district, "state_options": STATE_OPTIONS},
        )

    @post("/{district_id:int}/profile", **guarded(district_member))
    async def save_profile(
        self, request: Request, principal: SignedIn, district_id: FromPath[int]
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.save_district_profile(principal, district_id, values)
        if outcome.error:
            return form_page(
                "catalog/profile_form.html.j2",
                values=values,
                error=outcome.error,
                extra={
                    "district": await services.get_district(principal, district_id),
                    "state_options": STATE_OPTIONS,
                },
            )
        flash(request, "Your district's profile is saved.", category="saved")
        return Redirect(f"/districts/{district_id}")

    @get("/{district_id:int}/needs", **guarded(district_member))
    async def needs(self, principal: SignedIn, district_id: FromPath[int]) -> Template:
        filters = ListFilters(district=district_id, per_page=services.MAX_PER_PAGE)
        return Template(
            "catalog/needs.html.j2",
            context={
                "district": await services.get_district(principal, district_id),
                "needs": (await services.list_needs(principal, filters, 1)).items,
            },
        )

    @get("/{district_id:int}/needs/new", **guarded(district_member))
    async def new_need(self, principal: SignedIn, district_id: FromPath[int]) -> Template:
        district = await services.get_district(principal, district_id)
        return form_page(
            "catalog/need_form.html.j2", values={}, extra={"district": district, "need": None}
        )

    @post("/{district_id:int}/needs", **guarded(district_member))
    async def create_need(
        self, request: Request, principal: SignedIn, district_id: FromPath[int]
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.create_need(principal, district_id, values)
        if outcome.error:
            return form_page(
                "catalog/need_form.html.j2",
                values=values,
                error=outcome.error,
                extra={
                    "district": await services.get_district(principal, district_id),
                    "need": None,
                },
            )
        flash(request, "The need is saved.", category="saved")
        return Redirect(f"/districts/{district_id}/needs")

    @get(
        "/{district_id:int}/needs/{need_id:int}/edit",
        **guarded(district_member),
    )
    async def edit_need(
        self, principal: SignedIn, district_id: FromPath[int], need_id: FromPath[int]
    ) -> Template:
        need = await services.get_need(principal, district_id, need_id)
        return form_page(
            "catalog/need_form.html.j2",
            values=need,
            extra={"district": await services.get_district(principal, district_id), "need": need},
        )

    @post(
        "/{district_id:int}/needs/{need_id:int}/edit",
        **guarded(district_member),
    )
    async def update_need(
        self,
        request: Request,
        principal: SignedIn,
        district_id: FromPath[int],
        need_id: FromPath[int],
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.update_need(principal, district_id, need_id, values)
        if outcome.error:
            return form_page(
                "catalog/need_form.html.j2",
                values=values,
                error=outcome.error,
                extra={
                    "district": await services.get_district(principal, district_id),
                    "need": await services.get_need(principal, district_id, need_id),
                },
            )
        flash(request, "The need is saved.", category="saved")
        return Redirect(f"/districts/{district_id}/needs")

    @post(
        "/{district_id:int}/needs/{need_id:int}/status",
        **guarded(district_member),
    )
    async def need_status(
        self,
        request: Request,
        principal: SignedIn,
        district_id: FromPath[int],
        need_id: FromPath[int],
    ) -> Redirect:
        values = await read_form(request)
        is_open = values.get("status") == "open"
        await services.set_need_open(principal, district_id, need_id, is_open)
        flash(request, "The need's status is changed.", category="saved")
        return Redirect(f"/districts/{district_id}/needs")


class NeedController(Controller):
    path = "/needs"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(need_filters)})
    async def needs(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_needs(viewer, filters, page)
        return _list_page("catalog/needs_list.html.j2", result)


class ProductController(Controller):
    path = "/products"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(product_filters)})
    async def products(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_products(filters, page)
        can_propose = viewer is not None and (
            viewer.is_network_admin or bool(viewer.organizations_of_kind("vendor"))
        )
        return _list_page("catalog/products.html.j2", result, can_propose=can_propose)

    @get("/new", **guarded(verified_vendor))
    async def new_product(self, principal: SignedIn) -> Template:
        return await _product_form(principal, values={})

    @post("/", **guarded(verified_vendor))
    async def create_product(self, request: Request, principal: SignedIn) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            product_id = await services.create_product(principal, values)
        if outcome.error:
            return await _product_form(principal, values=values, error=outcome.error)
        flash(request, "The product is saved.", category="saved")
        return Redirect(f"/products/{product_id}")

    @get("/{product_id:int}")
    async def product(self, viewer: Viewer, product_id: FromPath[int]) -> Template:
        product = await services.get_product(product_id)
        calls = await services.list_pilots(
            viewer, ListFilters(product=product_id, per_page=services.MAX_PER_PAGE), 1
        )
        return Template(
            "catalog/product.html.j2",
            context={
                "product": product,
                "calls": calls.items,
                "can_edit": viewer is not None
                and (viewer.is_network_admin or viewer.is_member_of(product["vendor_id"])),
            },
        )

    @get("/{product_id:int}/edit", **guarded(product_editor))
    async def edit_product(self, principal: SignedIn, product_id: FromPath[int]) -> Template:
        product = await services.get_product(product_id)
        return await _product_form(principal, values=product, product=product)

    @post("/{product_id:int}/edit", **guarded(product_editor))
    async def update_product(
        self,
        request: Request,
        principal: SignedIn,
        product_id: FromPath[int],
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.update_product(principal, product_id, values)
        if outcome.error:
            product = await services.get_product(product_id)
            return await _product_form(
                principal, values=values, error=outcome.error, product=product
            )
        flash(request, "The product is saved.", category="saved")
        return Redirect(f"/products/{product_id}")


TIER_OPTIONS = [
    ("", "None"),
    ("1", "Tier 1: strong evidence"),
    ("2", "Tier 2: moderate evidence"),
    ("3", "Tier 3: promising evidence"),
    ("4", "Tier 4: demonstrates a rationale"),
]


def _select_values(values: dict[str, Any], *names: str) -> dict[str, Any]:
    """Form values with the chosen options as text, as the select boxes compare them."""
    return {**values, **{name: str(values.get(name) or "") for name in names}}


async def _product_form(
    principal: Principal,
    *,
    values: dict[str, Any],
    error: TestbedError | None = None,
    product: dict[str, Any] | None = None,
) -> Template:
    vendors = await services.vendor_options(principal)
    return form_page(
        "catalog/product_form.html.j2",
        values=_select_values(values, "essa_tier_claimed", "vendor"),
        error=error,
        extra={
            "product": product,
            "vendors": vendors,
            "vendor_options": [("", "Choose the vendor"), *((str(i), n) for i, n in vendors)],
            "tier_options": TIER_OPTIONS,
        },
    )


class PilotController(Controller):
    path = "/pilots"
    tags = ["catalog"]
    include_in_schema = False
    opt = PUBLIC

    @get("/", dependencies={"filters": Provide(pilot_filters)})
    async def pilots(self, viewer: Viewer, filters: Filters, page: PageNumber = 1) -> Template:
        result = await services.list_pilots(viewer, filters, page)
        return _list_page("catalog/pilots.html.j2", result)

    @get("/new", **guarded(verified_vendor))
    async def new_pilot(
        self, principal: SignedIn, product: FromQuery[int | None] = None
    ) -> Template:
        return await _pilot_form(principal, values={"product": product or ""})

    @post("/", **guarded(verified_vendor))
    async def create_pilot(self, request: Request, principal: SignedIn) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            pilot_id = await services.create_pilot(principal, values)
        if outcome.error:
            return await _pilot_form(principal, values=values, error=outcome.error)
        flash(request, "The pilot call is saved as a draft.", category="saved")
        return Redirect(f"/pilots/{pilot_id}")

    @get("/{pilot_id:int}", **guarded(pilot_viewer))
    async def pilot(self, viewer: Viewer, pilot_id: FromPath[int]) -> Template:
        pilot, access = await services.get_pilot(viewer, pilot_id)
        return Template(
            "catalog/pilot.html.j2",
            context={"pilot": pilot, **asdict(services.pilot_actions(viewer, access))},
        )

    @get("/{pilot_id:int}/edit", **guarded(pilot_manager))
    async def edit_pilot(self, principal: SignedIn, pilot_id: FromPath[int]) -> Template:
        pilot, _ = await services.get_pilot(principal, pilot_id)
        return await _pilot_form(principal, values=pilot, pilot=pilot)

    @post("/{pilot_id:int}/edit", **guarded(pilot_manager))
    async def update_pilot(
        self, request: Request, principal: SignedIn, pilot_id: FromPath[int]
    ) -> Template | Redirect:
        values = await read_form(request)
        with form_errors() as outcome:
            await services.update_pilot(principal, pilot_id, values)
        if outcome.error:
            pilot, _ = await services.get_pilot(principal, pilot_id)
            return await _pilot_form(principal, values=values, error=outcome.error, pilot=pilot)
        flash(request, "The pilot call is saved.", category="saved")
        return Redirect(f"/pilots/{pilot_id}")

    @post("/{pilot_id:int}/status", **guarded(pilot_manager))
    async def change_status(
        self, request: Request, principal: SignedIn, pilot_id: FromPath[int]
    ) -> Redirect:
        values = await read_form(request)
        await services.change_pilot_status(
            principal,
            pilot_id,
            str(values.get("status") or ""),
            ip_address=client_address(request),
        )
        flash(request, "The pilot's status is changed.", category="saved")
        return Redirect(f"/pilots/{pilot_id}")


async def _pilot_form(
    principal: Principal,
    *,
    values: dict[str, Any],
    error: TestbedError | None = None,
    pilot: dict[str, Any] | None = None,
) -> Template:
    products = [] if pilot else await services.product_options(principal)
    return form_page(
        "catalog/pilot_form.html.j2",
        values=_select_values(values, "product"),
        error=error,
        extra={
            "pilot": pilot,
            "product_options": [("", "Choose the product"), *((str(i), n) for i, n in products)],
        },
    )


ROUTE_HANDLERS = [DistrictController, NeedController, ProductController, PilotController]
