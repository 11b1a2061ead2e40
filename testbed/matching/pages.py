"""Pages for matching: volunteering, a call's volunteers and invitations, acceptance, a
district's recommendations, rounds and the administrator's matching page. The same in JSON:
api.py."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed import vocabulary
from testbed.access import CALL_STATUSES, pilot_manager
from testbed.auth import (
    Principal,
    SignedIn,
    access_rule,
    network_admin,
)
from testbed.errors import TestbedError
from testbed.matching import services
from testbed.matching.fit import PART_LABELS, PARTS, DistrictFacts, explain, grade_phrase
from testbed.matching.guards import (
    district_coordinator,
    enrollment_party,
    round_viewer,
    verified_district,
)
from testbed.web import form_errors, form_page, require_confirmation

Form = URLEncodedBody[dict[str, Any]]


def _safe_next(target: object, fallback: str) -> str:
    text = str(target or "")
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return fallback


async def _volunteer_page(
    principal: Principal,
    pilot_id: int,
    *,
    error: TestbedError | None = None,
    values: dict[str, Any] | None = None,
) -> Template:
    rows = await services.call_rows([pilot_id], statuses=vocabulary.PILOT_STATUSES)
    call = rows[0]
    enrollment = await services.own_enrollment(principal, pilot_id)
    verified = principal.organizations_of_kind("district", verified_only=True)
    district_id = enrollment["district"] if enrollment else verified[0]
    facts = (await services.district_facts([district_id]) or [DistrictFacts(district_id, "")])[0]
    fit = explain(
        facts,
        services.call_facts(call),
        await services.fit_weights(),
        enrollment["capacity_students"] if enrollment else None,
    )
    defaults = {
        "capacity_students": str(call["students_per_site"]),
        "capacity_classrooms": "",
        "grades": list(call["grades"] or []),
        "note": "",
    }
    return form_page(
        "matching/volunteer.html.j2",
        values={**defaults, **(values or {})},
        error=error,
        extra={
            "call": call,
            "is_open": call["status"] in CALL_STATUSES,
            "enrollment": enrollment,
            "status_words": services.STATUS_WORDS,
            "can_volunteer": enrollment is None or enrollment["status"] == "withdrawn",
            "can_withdraw": bool(enrollment)
            and enrollment["status"] in services.WITHDRAWABLE_STATUSES,
            "districts": [m for m in principal.memberships if m.kind == "district" and m.verified],
            "fit": fit,
            "part_labels": PART_LABELS,
            "grade_phrase": grade_phrase,
        },
    )


class VolunteerController(Controller):
    path = "/pilots/{pilot_id:int}"
    tags = ["matching"]
    include_in_schema = False
    guards = [verified_district]
    opt = access_rule(verified_district)

    @get("/volunteer")
    async def volunteer_page(self, principal: SignedIn, pilot_id: FromPath[int]) -> Template:
        return await _volunteer_page(principal, pilot_id)

    @post("/volunteer")
    async def volunteer(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.volunteer(principal, pilot_id, data)
        if outcome.error:
            return await _volunteer_page(principal, pilot_id, error=outcome.error, values=data)
        flash(request, "Your offer to host is saved: the vendor can see it now.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/volunteer")

    @post("/withdraw")
    async def withdraw(
        self, request: Request, principal: SignedIn, pilot_id: FromPath[int]
    ) -> Redirect:
        await services.withdraw(principal, pilot_id)
        flash(request, "Your offer to host is withdrawn.", category="saved")
        return Redirect(f"/pilots/{pilot_id}/volunteer")


async def _volunteers_page(
    principal: Principal,
    pilot_id: int,
    *,
    error: TestbedError | None = None,
) -> Template:
    return form_page(
        "matching/volunteers.html.j2",
        values={},
        error=error,
        extra={
            **await services.call_matching(principal, pilot_id),
            "part_labels": PART_LABELS,
        },
    )


class CallVolunteersController(Controller):
    path = "/pilots/{pilot_id:int}"
    tags = ["matching"]
    include_in_schema = False
    guards = [pilot_manager]
    opt = access_rule(pilot_manager)

    @get("/volunteers")
    async def volunteers_page(self, principal: SignedIn, pilot_id: FromPath[int]) -> Template:
        return await _volunteers_page(principal, pilot_id)

    @post("/invitations")
    async def invite(
        self,
        request: Request,
        principal: SignedIn,
        pilot_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.invite(principal, pilot_id, data.get("district_id"))
        if outcome.error:
            return await _volunteers_page(principal, pilot_id, error=outcome.error)
        flash(
            request,
            "Invitation sent: the district's members will see it in their notifications.",
            category="saved",
        )
        return Redirect(f"/pilots/{pilot_id}/volunteers")

    @post("/rounds")
    async def run_round(
        self, request: Request, principal: SignedIn, pilot_id: FromPath[int], data: Form
    ) -> Redirect:
        require_confirmation(data, "run a matching round")
        round_id = await services.run_round(principal, [pilot_id])
        flash(request, "The matching round ran: its proposals are below.", category="saved")
        return Redirect(f"/matching/rounds/{round_id}")


class EnrollmentController(Controller):
    path = "/enrollments/{enrollment_id:int}"
    tags = ["matching"]
    include_in_schema = False
    guards = [enrollment_party]
    opt = access_rule(enrollment_party)

    @post("/accept")
    async def accept(
        self, request: Request, principal: SignedIn, enrollment_id: FromPath[int], data: Form
    ) -> Redirect:
        await services.accept(principal, enrollment_id)
        flash(request, "Accepted. Both sides' decisions are shown below.", category="saved")
        return Redirect(_safe_next(data.get("next"), "/matching"))

    @post("/decline")
    async def decline(
        self, request: Request, principal: SignedIn, enrollment_id: FromPath[int], data: Form
    ) -> Redirect:
        await services.decline(principal, enrollment_id)
        flash(request, "Declined.", category="saved")
        return Redirect(_safe_next(data.get("next"), "/matching"))


class DistrictMatchingController(Controller):
    path = "/matching"
    tags = ["matching"]
    include_in_schema = False
    guards = [district_coordinator]
    opt = access_rule(district_coordinator)

    @get("/")
    async def dashboard(
        self, principal: SignedIn, district_id: FromQuery[int | None] = None
    ) -> Template:
        dashboard = await services.district_dashboard(principal, district_id)
        return Template(
            "matching/dashboard.html.j2", context={**dashboard, "part_labels": PART_LABELS}
        )


class RoundController(Controller):
    path = "/matching/rounds/{round_id:int}"
    tags = ["matching"]
    include_in_schema = False
    guards = [round_viewer]
    opt = access_rule(round_viewer)

    @get("/")
    async def round_page(self, principal: SignedIn, round_id: FromPath[int]) -> Template:
        detail = await services.round_detail(principal, round_id)
        return Template("matching/round.html.j2", context={"round": detail})


async def _admin_page(
    request: Request,
    *,
    error: TestbedError | None = None,
    values: dict[str, Any] | None = None,
) -> Template:
    overview = await services.admin_overview()
    return form_page(
        "matching/admin.html.j2",
        values=values or {part: f"{points:g}" for part, points in overview["weights"].items()},
        error=error,
        extra={**overview, "parts": PARTS, "part_labels": PART_LABELS},
    )


class AdminMatchingController(Controller):
    path = "/admin/matching"
    tags = ["admin"]
    include_in_schema = False
    guards = [network_admin]
    opt = access_rule(network_admin)

    @get("/")
    async def admin_page(self, request: Request) -> Template:
        return await _admin_page(request)

    @post("/rounds")
    async def run_round(self, request: Request, principal: SignedIn, data: Form) -> Redirect:
        require_confirmation(data, "run a matching round")
        round_id = await services.run_round(principal)
        flash(request, "The matching round ran: its proposals are below.", category="saved")
        return Redirect(f"/matching/rounds/{round_id}")

    @post("/weights")
    async def weights(
        self, request: Request, principal: SignedIn, data: Form
    ) -> Template | Redirect:
        with form_errors() as outcome:
            await services.set_fit_weights(principal, data)
        if outcome.error:
            return await _admin_page(request, error=outcome.error, values=data)
        flash(request, "The fit weights are saved.", category="saved")
        return Redirect("/admin/matching#weights")


ROUTE_HANDLERS = [
    VolunteerController,
    CallVolunteersController,
    EnrollmentController,
    DistrictMatchingController,
    RoundController,
    AdminMatchingController,
]
