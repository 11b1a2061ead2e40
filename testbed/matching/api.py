"""The matching API: volunteering, a call's volunteers, invitations and acceptance,
recommendations, rounds and the fit weights."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from testbed.access import pilot_manager
from testbed.auth import (
    Principal,
    SignedIn,
    access_rule,
    guarded,
    network_admin,
    signed_in,
)
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.matching import services
from testbed.matching.fit import PART_LABELS
from testbed.matching.guards import (
    district_coordinator,
    enrollment_party,
    round_viewer,
    verified_district,
)
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
    row = await services.get_enrollment(enrollment_id)
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
    VolunteerApiController,
    CallMatchingApiController,
    EnrollmentApiController,
    RecommendationApiController,
    RoundApiController,
]
