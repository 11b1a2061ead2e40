"""Pages and API for volunteering, the call's volunteers, acceptance, recommendations and
matching rounds. Thin: parse, call a service, render."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from testbed import vocabulary
from testbed.access import CALL_STATUSES, pilot_access, pilot_manager
from testbed.auth import (
    Principal,
    SignedIn,
    access_rule,
    guarded,
    network_admin,
    require_principal,
    signed_in,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound, TestbedError
from testbed.matching import services
from testbed.matching.fit import PART_LABELS, PARTS, DistrictFacts, explain, grade_phrase
from testbed.matching.schemas import (
    CallMatchingOut,
    DecisionOut,
    EnrollmentOut,
    FitPartOut,
    InviteIn,
    InviteOut,
    RecommendationOut,
    RoundIn,
    RoundOut,
    SuggestionOut,
    VolunteerIn,
    VolunteerOut,
    WeightsOut,
)
from testbed.tables import Enrollment
from testbed.web import form_errors, form_page, require_confirmation

Form = URLEncodedBody[dict[str, Any]]

UNVERIFIED_DISTRICT = (
    "Your district has not been verified by the network yet. You can browse calls, but not "
    "volunteer until it is."
)


# --- guards -----------------------------------------------------------------------------------


def _member_of_a_verified_district(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A member of a verified district (network admins do not volunteer on a district's behalf)."""
    principal = require_principal(connection)
    districts = [m for m in principal.memberships if m.kind == "district"]
    if not districts:
        raise Forbidden("Volunteering is for district coordinators.")
    if not any(m.verified for m in districts):
        raise Forbidden(UNVERIFIED_DISTRICT)


def district_coordinator(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    if not principal.organizations_of_kind("district"):
        raise Forbidden("This page is for district coordinators.")


async def verified_district(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A member of a verified district, on a pilot they may see (others: 404)."""
    _member_of_a_verified_district(connection, handler)
    await pilot_access(require_principal(connection), int(connection.path_params["pilot_id"]))


async def enrollment_party(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The district's members or the vendor's members of this enrollment; 404 for others."""
    await services.enrollment_party(
        require_principal(connection), int(connection.path_params["enrollment_id"])
    )


async def round_viewer(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = require_principal(connection)
    if not await services.round_viewable(principal, int(connection.path_params["round_id"])):
        raise NotFound("There is no such matching round.")


def _safe_next(target: object, fallback: str) -> str:
    text = str(target or "")
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return fallback


# --- the district's side of a call ------------------------------------------------------------


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


# --- the vendor's side of a call --------------------------------------------------------------


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


# --- the district dashboard, rounds and the admin page ----------------------------------------


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


# --- JSON API -----------------------------------------------------------------------------------


def _parts(parts: list[dict[str, Any]]) -> list[FitPartOut]:
    return [
        FitPartOut(
            part=p["part"],
            label=PART_LABELS[p["part"]],
            points=p["points"],
            max=p["max"],
            why=p["why"],
        )
        for p in parts
    ]


async def _enrollment_out(enrollment_id: int) -> EnrollmentOut:
    row = await Enrollment.select().where(Enrollment.id == enrollment_id).first()
    return EnrollmentOut(
        id=row["id"],
        pilot_id=row["pilot"],
        district_id=row["district"],
        status=row["status"],
        capacity_students=row["capacity_students"],
        capacity_classrooms=row["capacity_classrooms"],
        grades=list(row["grades"] or []),
        note=row["note"],
        fit_score=row["fit_score"],
    )


async def _round_out(principal: Principal, round_id: int) -> RoundOut:
    row = await services.round_detail(principal, round_id)
    return RoundOut(
        id=row["id"],
        created_at=row["created_at"],
        scope=row["scope"],
        status=row["status"],
        message=row["message"],
        pilot_ids=list(row["pilot_ids"]),
        objective=row["objective"],
        lp_bound=row["lp_bound"],
        gap=row["gap"],
        seconds=row["seconds"],
        summary=row["summary"],
        proposals=row["proposals"],
        shortfalls=row["shortfalls"],
    )


class VolunteerApiController(Controller):
    path = "/api/v1/pilots/{pilot_id:int}"
    tags = ["matching"]
    guards = [verified_district]
    opt = access_rule(verified_district)

    @post(
        "/volunteer",
        summary="Volunteer my district for an open call",
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def volunteer(
        self, principal: SignedIn, pilot_id: FromPath[int], data: JSONBody[VolunteerIn]
    ) -> EnrollmentOut:
        enrollment_id = await services.volunteer(
            principal,
            pilot_id,
            {
                "capacity_students": data.capacity_students,
                "capacity_classrooms": data.capacity_classrooms,
                "grades": data.grades,
                "note": data.note,
                "district_id": data.district_id,
            },
        )
        return await _enrollment_out(enrollment_id)

    @post(
        "/withdraw",
        summary="Withdraw my district's volunteering",
        status_code=200,
        raises=[Forbidden, NotFound, Conflict],
    )
    async def withdraw(self, principal: SignedIn, pilot_id: FromPath[int]) -> EnrollmentOut:
        return await _enrollment_out(await services.withdraw(principal, pilot_id))


class CallMatchingApiController(Controller):
    path = "/api/v1/pilots/{pilot_id:int}"
    tags = ["matching"]
    guards = [pilot_manager]
    opt = access_rule(pilot_manager)

    @get(
        "/volunteers",
        summary="A call's volunteers and best-fitting non-volunteers",
        raises=[Forbidden, NotFound],
    )
    async def volunteers(self, principal: SignedIn, pilot_id: FromPath[int]) -> CallMatchingOut:
        found = await services.call_matching(principal, pilot_id)
        return CallMatchingOut(
            pilot_id=pilot_id,
            title=found["pilot"]["title"],
            status=found["pilot"]["status"],
            sites_wanted=found["pilot"]["sites_wanted"],
            sites=found["sites"],
            volunteers=[
                VolunteerOut(
                    enrollment_id=v["id"],
                    district_id=v["district"],
                    district_name=v["district_name"],
                    status=v["status"],
                    capacity_students=v["capacity_students"],
                    capacity_classrooms=v["capacity_classrooms"],
                    grades=list(v["grades"] or []),
                    note=v["note"],
                    locale=v["locale"],
                    frl_share=v["frl_share"],
                    score=v["score"],
                    out_of=v["out_of"],
                    parts=_parts(v["parts"]),
                )
                for v in found["volunteers"]
            ],
            not_yet_volunteered=[
                SuggestionOut(
                    district_id=s["district_id"],
                    name=s["name"],
                    locale=s["locale"],
                    frl_share=s["frl_share"],
                    score=s["score"],
                    out_of=s["out_of"],
                    parts=_parts(s["parts"]),
                )
                for s in found["suggestions"]
            ],
        )

    @post(
        "/invitations",
        summary="Invite a district to volunteer",
        status_code=201,
        raises=[Forbidden, NotFound, Conflict, InvalidInput],
    )
    async def invite(
        self, principal: SignedIn, pilot_id: FromPath[int], data: JSONBody[InviteIn]
    ) -> InviteOut:
        told = await services.invite(principal, pilot_id, data.district_id)
        return InviteOut(district_id=data.district_id, members_notified=told)

    @post(
        "/rounds",
        summary="Run a matching round for this call",
        status_code=201,
        raises=[Forbidden, NotFound, Conflict],
    )
    async def run_round(self, principal: SignedIn, pilot_id: FromPath[int]) -> RoundOut:
        round_id = await services.run_round(principal, [pilot_id])
        return await _round_out(principal, round_id)


class EnrollmentApiController(Controller):
    path = "/api/v1/enrollments/{enrollment_id:int}"
    tags = ["matching"]
    guards = [enrollment_party]
    opt = access_rule(enrollment_party)

    @post(
        "/accept",
        summary="Accept a proposal for my side",
        status_code=200,
        raises=[NotFound, Conflict],
    )
    async def accept(self, principal: SignedIn, enrollment_id: FromPath[int]) -> DecisionOut:
        status = await services.accept(principal, enrollment_id)
        return DecisionOut(enrollment_id=enrollment_id, status=status)

    @post("/decline", summary="Decline a proposal", status_code=200, raises=[NotFound, Conflict])
    async def decline(self, principal: SignedIn, enrollment_id: FromPath[int]) -> DecisionOut:
        status = await services.decline(principal, enrollment_id)
        return DecisionOut(enrollment_id=enrollment_id, status=status)


class RecommendationApiController(Controller):
    path = "/api/v1/matching"
    tags = ["matching"]
    guards = [district_coordinator]
    opt = access_rule(district_coordinator)

    @get("/recommendations", summary="Open calls that fit my district best", raises=[Forbidden])
    async def recommendations(
        self, principal: SignedIn, district_id: FromQuery[int | None] = None
    ) -> list[RecommendationOut]:
        found = await services.recommendations(principal, district_id)
        return [RecommendationOut(**{**r, "parts": _parts(r["parts"])}) for r in found]


class RoundApiController(Controller):
    path = "/api/v1/matching"
    tags = ["matching"]

    @post(
        "/rounds",
        summary="Run a network matching round",
        status_code=201,
        raises=[Forbidden, NotFound, Conflict],
        **guarded(network_admin),
    )
    async def run_round(self, principal: SignedIn, data: JSONBody[RoundIn]) -> RoundOut:
        round_id = await services.run_round(principal, data.pilot_ids)
        return await _round_out(principal, round_id)

    @get(
        "/rounds/{round_id:int}",
        summary="A matching round's result",
        raises=[NotFound],
        **guarded(round_viewer),
    )
    async def round_result(self, principal: SignedIn, round_id: FromPath[int]) -> RoundOut:
        return await _round_out(principal, round_id)

    @get(
        "/weights",
        summary="The fit score's weights",
        **guarded(signed_in),
    )
    async def weights(self) -> WeightsOut:
        return WeightsOut(weights=await services.fit_weights(), labels=PART_LABELS)

    @post(
        "/weights",
        summary="Change the fit score's weights",
        status_code=200,
        raises=[Forbidden, InvalidInput],
        **guarded(network_admin),
    )
    async def set_weights(
        self, principal: SignedIn, data: JSONBody[dict[str, float]]
    ) -> WeightsOut:
        weights = await services.set_fit_weights(principal, data)
        return WeightsOut(weights=weights, labels=PART_LABELS)


ROUTE_HANDLERS = [
    VolunteerController,
    CallVolunteersController,
    EnrollmentController,
    DistrictMatchingController,
    RoundController,
    AdminMatchingController,
    VolunteerApiController,
    CallMatchingApiController,
    EnrollmentApiController,
    RecommendationApiController,
    RoundApiController,
]
