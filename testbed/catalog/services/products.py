"""Products: the public list, one product, and a vendor's edits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Combinable

from testbed import audit, vocabulary
from testbed.auth import Principal
from testbed.catalog.services.listing import ListFilters, Page, fetch_page, has_code, search_terms
from testbed.errors import Forbidden, NotFound
from testbed.inputs import InputReader
from testbed.tables import (
    Organization,
    Product,
)

PRODUCT_LIST_COLUMNS = (
    Product.id,
    Product.name,
    Product.description,
    Product.grade_bands,
    Product.subjects,
    Product.pillars,
    Product.platforms,
    Product.essa_tier_claimed,
    Product.vendor.id.as_alias("vendor_id"),
    Product.vendor.name.as_alias("vendor_name"),
)
PRODUCT_COLUMNS = (
    *PRODUCT_LIST_COLUMNS,
    Product.student_data_collected,
    Product.privacy_policy_url,
    Product.evidence_url,
)
ESSA_TIERS = (1, 2, 3, 4)


async def list_products(filters: ListFilters, page: int) -> Page:
    where: list[Combinable] = []
    if filters.vendor:
        where.append(Product.vendor == filters.vendor)
    if filters.pillar:
        where.append(has_code(Product.pillars, filters.pillar))
    if filters.grade_band:
        where.append(has_code(Product.grade_bands, filters.grade_band))
    if filters.subject:
        where.append(has_code(Product.subjects, filters.subject))
    where += search_terms(filters.words, (Product.name, Product.description, Product.vendor.name))
    return await fetch_page(
        Product, PRODUCT_LIST_COLUMNS, where, (Product.name, Product.id), filters, page
    )


async def get_product(product_id: int) -> dict[str, Any]:
    product = await Product.select(*PRODUCT_COLUMNS).where(Product.id == product_id).first()
    if product is None:
        raise NotFound("There is no such product.")
    return product


async def vendor_options(principal: Principal) -> list[tuple[int, str]]:
    """The vendors this principal may list products and open calls for: its verified vendors,
    or every vendor for a network admin."""
    if principal.is_network_admin:
        rows = await (
            Organization.select(Organization.id, Organization.name)
            .where(Organization.kind == "vendor")
            .order_by(Organization.name, Organization.id)
        )
        return [(row["id"], row["name"]) for row in rows]
    return [
        (m.organization_id, m.name)
        for m in principal.memberships
        if m.kind == "vendor" and m.verified
    ]


async def product_options(principal: Principal) -> list[tuple[int, str]]:
    """The products this principal may open a call for."""
    query = Product.select(Product.id, Product.name, Product.vendor.name.as_alias("vendor"))
    if not principal.is_network_admin:
        vendor_ids = [vendor_id for vendor_id, _ in await vendor_options(principal)]
        query = query.where(Product.vendor.is_in(vendor_ids or [-1]))
    rows = await query.order_by(Product.name, Product.id)
    return [(row["id"], f"{row['name']} ({row['vendor']})") for row in rows]


async def _choose_vendor(principal: Principal, reader: InputReader) -> int | None:
    options = [vendor_id for vendor_id, _ in await vendor_options(principal)]
    if not options:
        raise Forbidden(
            "Your organization has not been verified by the network yet. "
            "You can browse, but not volunteer, propose or upload until it is."
        )
    if reader.values.get("vendor") in (None, "") and len(options) == 1:
        return options[0]
    return reader.choice("vendor", "the vendor", options)


def _read_product(reader: InputReader) -> dict[Column, Any]:
    tier = reader.choice("essa_tier_claimed", "an ESSA tier", ESSA_TIERS, required=False)
    evidence_url = reader.url("evidence_url", "the link to the study")
    if tier is not None and not evidence_url:
        reader.problem("evidence_url", "Link the study behind the ESSA tier you claim.")
    return {
        Product.name: reader.text("name", "the product's name"),
        Product.description: reader.text("description", "a description", max_length=5000),
        Product.grade_bands: reader.codes("grade_bands", "grade bands", vocabulary.GRADE_BANDS),
        Product.subjects: reader.codes("subjects", "subjects", vocabulary.SUBJECTS),
        Product.pillars: reader.codes("pillars", "pillars", vocabulary.PILLARS),
        Product.platforms: reader.codes(
            "platforms", "platforms", vocabulary.PLATFORMS, at_least_one=False
        ),
        Product.student_data_collected: reader.text(
            "student_data_collected", "the student data collected", max_length=5000
        ),
        Product.privacy_policy_url: reader.url("privacy_policy_url", "the privacy policy link"),
        Product.essa_tier_claimed: tier,
        Product.evidence_url: evidence_url,
    }


async def create_product(principal: Principal, values: Mapping[str, Any]) -> int:
    reader = InputReader(values)
    vendor_id = await _choose_vendor(principal, reader)
    product = _read_product(reader)
    reader.raise_problems()
    rows = await Product.insert(
        Product(vendor=vendor_id, **{column._meta.name: value for column, value in product.items()})
    )
    await audit.record(
        "product_created",
        actor_id=principal.user_id,
        object_type="product",
        object_id=rows[0]["id"],
        detail={"vendor": vendor_id},
    )
    return rows[0]["id"]


async def require_product_editor(principal: Principal, product_id: int) -> dict[str, Any]:
    """The product, when this principal may change it: its vendor's members, or an admin."""
    product = await get_product(product_id)
    if not (principal.is_network_admin or principal.is_member_of(product["vendor_id"])):
        raise Forbidden("Only the product's vendor can change it.")
    return product


async def update_product(principal: Principal, product_id: int, values: Mapping[str, Any]):
    await require_product_editor(principal, product_id)
    reader = InputReader(values)
    product = _read_product(reader)
    reader.raise_problems()
    await Product.update(product).where(Product.id == product_id)
    await audit.record(
        "product_updated", actor_id=principal.user_id, object_type="product", object_id=product_id
    )
