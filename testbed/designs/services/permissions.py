"""Who may do what with a pilot's design (checked here as well as in the guards).

- see the design: anyone who may see the pilot; drafts only the pilot's team (vendor,
  researchers with a role, site districts, network admins). Registered versions are what the
  public sees of a published pilot.
- write a draft, register, amend: the vendor's members, the pilot's researchers, admins.
- upload a site's roster or baseline groups: that site's district, admins.
- download a site's key-by-arm list (and see which keys a re-draw disagrees on): whoever
  `testbed.access.may_see_student_rows` lets see the site's student rows.
"""

from __future__ import annotations

from testbed.access import (
    PilotAccess,
)
from testbed.errors import Forbidden


def can_edit_design(access: PilotAccess) -> bool:
    return access.is_network_admin or access.is_vendor or access.is_researcher


def require_edit_design(access: PilotAccess) -> None:
    if not can_edit_design(access):
        raise Forbidden(
            "Only the pilot's vendor, its researchers and network administrators can write, "
            "register or amend its design."
        )


def can_see_drafts(access: PilotAccess) -> bool:
    return can_edit_design(access) or access.has_role or access.is_site_district


def can_upload_for_site(access: PilotAccess, site_id: int) -> bool:
    return access.is_network_admin or site_id in access.site_district_ids


def require_upload_for_site(access: PilotAccess, site_id: int) -> None:
    if not can_upload_for_site(access, site_id):
        raise Forbidden("Only this site's district (or a network administrator) can upload here.")
