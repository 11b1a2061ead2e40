"""Every route of the app, for every kind of user: who gets in and who is kept out.

The routes are read from the app's own route table, so a new route without an access rule
(`**guarded(guard)` or `opt=PUBLIC` on its handler, `opt = access_rule(guard)` on its
controller: testbed/auth.py) fails `test_every_route_has_a_known_rule`. A rule is named after
the guard that enforces it.
Each rule says which of the people below are let in; the others must get 401 (API), a redirect
to the sign-in page (HTML), 403 or 404, and never the page itself.

Two of the people hold a researcher role on the active pilot that must count for nothing (issue
20, "grant yourself a role, then read"): an administrator of the pilot's vendor who also joined a
verified research organization, and a district member of the pilot's other site. The first is
let in exactly where the vendor is; the second only where any site district of the pilot is,
never to the named site's student rows (`site_rows_reader`) or its uploads.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import pytest

from tests import factories
from tests.web.conftest import PASSWORD, People, csrf_token, post_form, sign_in
from tests.web.test_security_headers import missing_security_headers

ROLES = (
    "anonymous",
    "district",
    "vendor",
    "researcher",
    "admin",
    "other_vendor",
    "vendor_with_role",
    "other_site_with_role",
)

# Who is let in, per rule. The object-level rules are about the objects the path names below:
# the vendor's organization and the vendor's active pilot (the district is one of its sites,
# the researcher has a role on it; "other_vendor" is a competing vendor), the district and its
# need, and the vendor's product.
ALLOWED = {
    "public": set(ROLES),
    "signed_in": set(ROLES) - {"anonymous"},
    "network_admin": {"admin"},
    "organization_member": {"vendor", "admin"},
    "organization_admin": {"vendor", "admin"},
    "pilot_manager": {"vendor", "admin"},
    "pilot_viewer": {"vendor", "admin", "district", "researcher"},
    "district_member": {"district", "admin"},
    "verified_vendor": {"vendor", "admin", "other_vendor"},
    "product_editor": {"vendor", "admin"},
    # Designs: the pilot's writers; its site's district; who may see a site's unit-level
    # assignment. (Reading a design is "pilot_viewer".)
    "design_editor": {"vendor", "researcher", "admin"},
    "site_district": {"district", "admin"},
    "site_rows_reader": {"district", "researcher", "admin"},
    # Outcome data: a site's uploads; their progress pages are the uploader's and whoever may see
    # the site's student rows (access.may_see_student_rows).
    "site_uploader": {"district", "admin"},
    "upload_job_viewer": {"district", "researcher", "admin"},
    "pilot_analyst": {"vendor", "researcher", "admin"},
    "pilot_site_district": {"district"},
    "finding_reader": {"district", "vendor", "researcher", "admin"},
    "finding_party": {"vendor", "district"},
    "finding_manager": {"vendor", "admin"},
    # Volunteering: members of a verified district (admins do not act for a district).
    "verified_district": {"district"},
    "district_coordinator": {"district"},
    # Either side of the enrollment the path names: the district or the pilot's vendor.
    "enrollment_party": {"district", "vendor"},
    # A matching round that includes the vendor's call.
    "round_viewer": {"vendor", "admin"},
    # Costs: list prices are the product's vendor's; a site's costs (the price it was offered)
    # are read by the site's district, the vendor and admins, and entered by the district.
    "price_keeper": {"vendor", "admin"},
    "site_cost_reader": {"district", "vendor", "admin"},
    "site_cost_keeper": {"district"},
    # Accepting an invitation: only its address (the matrix's is none of these people's).
    "invited_address": set(),
}
# A role never widens what a vendor's member may do.
for _allowed in ALLOWED.values():
    if "vendor" in _allowed:
        _allowed.add("vendor_with_role")
# The other site's district: a participant of the active pilot, nothing of the named site's.
for _rule in ("public", "signed_in", "pilot_viewer", "pilot_site_district", "finding_reader",
              "finding_party", "verified_district", "district_coordinator"):  # fmt: skip
    ALLOWED[_rule].add("other_site_with_role")

# The role holders' sign-in addresses (the others are conftest.EMAILS).
ROLE_HOLDER_EMAILS = {
    "vendor_with_role": "partner@brightpath.example",
    "other_site_with_role": "coordinator@pine-ridge.example",
}

# Routes that change who is signed in or take away what later checks rely on run last.
RUN_LAST = ("/revoke", "DELETE", "/accept", "/logout")


async def _role_holder(people: People, role: str) -> int:
    """The role holder's account, with the memberships and the (legacy) role row it needs."""
    user_id = await factories.user(ROLE_HOLDER_EMAILS[role], role)
    if role == "vendor_with_role":
        organizations = [people.vendor, people.research_org]
    else:
        pine = await factories.organization("district", "Pine Ridge", "pine-ridge")
        organizations = [pine]
        await factories.enrollment(people.active_pilot, pine, capacity_students=50)
    for organization in organizations:
        await factories.membership(user_id, organization)
    await factories.pilot_role(people.active_pilot, user_id)
    return user_id


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    access: str | None


def app_routes(app) -> list[Route]:
    routes = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                routes.append(Route(method, route.path, handler.opt.get("access")))
    return sorted(routes, key=_order)


def _order(route: Route) -> tuple:
    last = next(
        (i for i, marker in enumerate(RUN_LAST) if marker in route.path or marker == route.method),
        -1,
    )
    return (last, route.method != "GET", route.path)


def test_every_route_has_a_known_rule(app):
    missing = [
        f"{r.method} {r.path}"
        for r in app_routes(app)
        if r.access not in ALLOWED and not _is_framework_route(r)
    ]
    assert missing == [], "routes without an access rule: " + ", ".join(missing)


def _is_framework_route(route: Route) -> bool:
    # The OpenAPI document and its viewers are public by design.
    return route.path.startswith("/schema")


def test_route_table_is_not_empty(app):
    paths = {r.path for r in app_routes(app)}
    assert {"/", "/login", "/account", "/admin", "/api/v1/me"} <= paths


USER_OF_ROLE = {
    "district": "district_user",
    "vendor": "vendor_user",
    "researcher": "researcher",
    "admin": "admin",
    "other_vendor": "other_vendor_user",
}


async def _path_values(people: People, role: str) -> dict[str, str]:
    """Fresh objects for one request, so routes that revoke or accept don't affect the next."""
    from testbed.accounts.services import create_access_token, create_invitation
    from testbed.auth import load_principal
    from testbed.notifications.mailing import unsubscribe_token
    from testbed.settings import Settings
    from testbed.tables import (
        MatchingRound,
        Membership,
        UploadJob,
        User,
    )
    from tests.web.findings_data import finding_for_matrix

    vendor_admin = await load_principal(people.vendor_user)
    membership = (
        await Membership.select(Membership.id).where(Membership.user == people.vendor_user).first()
    )
    observer = await factories.user(
        f"observer-{secrets.token_hex(6)}@x.example", "Observer", password_hash="-"
    )
    pilot_role = await factories.pilot_role(people.active_pilot, observer, "observer")
    await _registered_design_and_assignment(people)
    call = await factories.pilot(
        people.product, "open", title=f"Matrix call {secrets.token_hex(4)}"
    )
    proposal = await factories.enrollment(call, people.district, "proposed")
    matching_round = await factories.insert(
        MatchingRound(scope="vendor", pilot_ids=[people.active_pilot], status="empty")
    )
    upload_job = await factories.insert(
        UploadJob(pilot=people.active_pilot, site=people.district, created_by=people.district_user)
    )
    token_id = 999999
    if role in USER_OF_ROLE or role in ROLE_HOLDER_EMAILS:
        if role in USER_OF_ROLE:
            user_id = getattr(people, USER_OF_ROLE[role])
        else:
            holder = await User.select(User.id).where(User.email == ROLE_HOLDER_EMAILS[role])
            user_id = holder[0]["id"]
        token_id, _ = await create_access_token(await load_principal(user_id), "matrix")
    return {
        "organization_id": str(people.vendor),
        "membership_id": str(membership["id"]),
        "pilot_id": str(people.active_pilot),
        "role_id": str(pilot_role),
        "job_id": str(upload_job),
        "token_id": str(token_id),
        "district_id": str(people.district),
        "need_id": str(people.need),
        "product_id": str(people.product),
        "finding_id": str(await finding_for_matrix(people)),
        "enrollment_id": str(proposal),
        "round_id": str(matching_round),
        "token": await create_invitation(
            vendor_admin,
            organization_id=people.vendor,
            email="someone@x.example",
            settings=Settings.from_env(),
        ),
        "version": "1",
        "site_id": str(people.district),
        "reset_token": await _password_reset_token(people),
        "verify_token": await _verification_token(people),
        "change_token": await _address_change_token(),
        "unsubscribe_token": unsubscribe_token(people.district_user, Settings.from_env()),
    }


async def _address_change_token() -> str:
    """A usable address change link of a person of its own (following it moves them)."""
    from testbed.accounts.tokens import new_token
    from tests import factories

    mover = await factories.user(email=f"mover-{secrets.token_hex(6)}@x.example")
    return await new_token(
        user_id=mover, purpose="change_email", email=f"moved-{secrets.token_hex(6)}@x.example"
    )


async def _verification_token(people: People) -> str:
    """A usable address verification link's token (following it uses it up)."""
    from testbed.accounts.tokens import new_token

    return await new_token(
        user_id=people.district_user, purpose="verify", email="coordinator@cedar.example"
    )


async def _password_reset_token(people: People) -> str:
    """A usable password reset link's token (a fresh one: a reset uses it up)."""
    from datetime import UTC, datetime, timedelta

    from testbed.auth import hash_token
    from testbed.tables import PasswordReset

    token = secrets.token_urlsafe(16)
    await PasswordReset.insert(
        PasswordReset(
            user=people.district_user,
            token_hash=hash_token(token),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    return token


async def _registered_design_and_assignment(people: People) -> None:
    """Version 1 of the active pilot's design, registered, and its site randomized, so the
    design routes have something to show (and writes to refuse)."""

    from analysis.randomization import assign
    from testbed.tables import DesignVersion

    if await DesignVersion.exists().where(DesignVersion.pilot == people.active_pilot):
        return
    document = {
        "design_type": "rct",
        "unit_of_assignment": "student",
        "arms": ["treatment", "control"],
        "research_questions": ["Does it help?"],
        "outcomes": [
            {
                "name": "math_scale_score",
                "label": "Spring math scale score",
                "kind": "continuous",
                "primary": True,
                "direction": "higher_is_better",
                "instrument": "Interim",
                "unit": "points",
                "min": None,
                "max": None,
            }
        ],
        "baseline_measure": None,
        "subgroups": [],
        "minimum_meaningful_effect": 0.2,
        "icc": 0.2,
        "planned_sites": 2,
        "planned_students_per_site": 100,
        "analysis_plan": {"covariates": [], "missing_data": "complete cases", "alpha": 0.05},
    }
    await factories.design(people.active_pilot, document)
    drawn = assign(["a", "b", "c", "d"], document["arms"], 7)
    await factories.assignment(people.active_pilot, people.district, drawn)


async def _api_token(people: People, role: str) -> str | None:
    from testbed.accounts.services import create_access_token
    from testbed.auth import load_principal
    from testbed.tables import User

    if role in ROLE_HOLDER_EMAILS:
        holder = await User.select(User.id).where(User.email == ROLE_HOLDER_EMAILS[role]).first()
        return (await create_access_token(await load_principal(holder["id"]), "matrix-api"))[1]
    user_id = {
        "district": people.district_user,
        "vendor": people.vendor_user,
        "researcher": people.researcher,
        "admin": people.admin,
        "other_vendor": people.other_vendor_user,
    }.get(role)
    if user_id is None:
        return None
    return (await create_access_token(await load_principal(user_id), "matrix-api"))[1]


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def _kept_out(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code in (302, 303) and response.headers["location"].startswith("/login")


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(client, app, people, role):
    if role in ROLE_HOLDER_EMAILS:
        client.blocking_portal.call(_role_holder, people, role)
    token = client.blocking_portal.call(_api_token, people, role)
    if role in ROLE_HOLDER_EMAILS:
        signed_in = post_form(
            client, "/login", {"email": ROLE_HOLDER_EMAILS[role], "password": PASSWORD}
        )
        assert signed_in.status_code in (302, 303), signed_in.text
    elif role != "anonymous":
        sign_in(client, role)
    failures = []
    for route in app_routes(app):
        if _is_framework_route(route) or route.path.startswith("/static"):
            continue
        path = _fill(route.path, client.blocking_portal.call(_path_values, people, role))
        if path.startswith("/api/"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = client.request(
                route.method,
                path,
                headers=headers,
                json={} if route.method == "POST" else None,
                follow_redirects=False,
            )
        else:
            data = {"_csrf_token": csrf_token(client)} if route.method == "POST" else None
            response = client.request(route.method, path, data=data, follow_redirects=False)
        expected_in = role in ALLOWED[route.access]
        if expected_in == _kept_out(response) or response.status_code >= 500:
            failures.append(
                f"{route.method} {route.path} as {role}: {response.status_code}"
                f" (expected {'in' if expected_in else 'out'})"
            )
        if missing_headers := missing_security_headers(response):
            failures.append(f"{route.method} {route.path} as {role}: lacks {missing_headers}")
    assert failures == []


def test_anonymous_is_told_to_sign_in_the_right_way(client, people):
    page = client.get("/account", follow_redirects=False)
    assert page.status_code in (302, 303) and page.headers["location"].startswith("/login")
    assert client.get("/api/v1/me").status_code == 401
