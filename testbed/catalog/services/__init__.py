"""The catalog both sides browse: district profiles and needs, products, and pilot calls with
their lifecycle. Pages and the API call these functions; the rules live here.

One module a job (input is read by testbed/inputs.py): `listing` (filters and pages),
`districts`, `needs`, `products` and `pilots` (calls and their lifecycle). Callers import
from here.
"""

from testbed.catalog.services.districts import (
    enrollment_band,
    get_district,
    list_districts,
    require_district_member,
    save_district_profile,
)
from testbed.catalog.services.listing import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    ListFilters,
    Page,
    parse_filters,
)
from testbed.catalog.services.needs import (
    NEED_STATUSES,
    create_need,
    get_need,
    list_needs,
    open_needs,
    set_need_open,
    update_need,
)
from testbed.catalog.services.pilots import (
    EDITABLE_PILOT_STATUSES,
    change_pilot_status,
    create_pilot,
    get_pilot,
    list_pilots,
    next_statuses,
    pilot_actions,
    update_pilot,
)
from testbed.catalog.services.products import (
    create_product,
    get_product,
    list_products,
    product_options,
    require_product_editor,
    update_product,
    vendor_options,
)

__all__ = [
    "DEFAULT_PER_PAGE",
    "EDITABLE_PILOT_STATUSES",
    "ListFilters",
    "MAX_PER_PAGE",
    "NEED_STATUSES",
    "Page",
    "change_pilot_status",
    "create_need",
    "create_pilot",
    "create_product",
    "enrollment_band",
    "get_district",
    "get_need",
    "get_pilot",
    "get_product",
    "list_districts",
    "list_needs",
    "open_needs",
    "list_pilots",
    "list_products",
    "next_statuses",
    "pilot_actions",
    "parse_filters",
    "product_options",
    "require_district_member",
    "require_product_editor",
    "save_district_profile",
    "set_need_open",
    "update_need",
    "update_pilot",
    "update_product",
    "vendor_options",
]
