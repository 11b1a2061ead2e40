"""The fit score's inputs: the network's weights, and the facts of districts and calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from testbed import audit
from testbed.access import CALL_STATUSES
from testbed.auth import Principal
from testbed.errors import Forbidden, InvalidInput
from testbed.inputs import InputReader
from testbed.matching.fit import (
    DEFAULT_WEIGHTS,
    PART_LABELS,
    PARTS,
    CallFacts,
    DistrictFacts,
    Fit,
    NeedFacts,
    check_weights,
)
from testbed.tables import (
    DistrictProfile,
    FitWeight,
    Need,
    Organization,
    Pilot,
)


async def fit_weights() -> dict[str, float]:
    stored = await FitWeight.select(FitWeight.part, FitWeight.points)
    return {
        **DEFAULT_WEIGHTS,
        **{row["part"]: row["points"] for row in stored if row["part"] in DEFAULT_WEIGHTS},
    }


async def set_fit_weights(principal: Principal, values: Mapping[str, object]) -> dict[str, float]:
    """Network admins change the weights; every change is audited with before and after."""
    if not principal.is_network_admin:
        raise Forbidden("Only network administrators can change the fit weights.")
    reader, parsed = InputReader(values), {}
    for part in PARTS:
        raw = values.get(part, DEFAULT_WEIGHTS[part])
        try:
            number = float(str(raw).strip())
        except ValueError:
            reader.problem(part, "Enter a number from 0 to 100.")
            continue
        if not 0 <= number <= 100:
            reader.problem(part, "Enter a number from 0 to 100.")
        parsed[part] = number
    reader.raise_problems(message="Some weights need fixing.")
    try:
        weights = check_weights(parsed)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    before = await fit_weights()
    now = datetime.now(UTC)
    async with FitWeight._meta.db.transaction():
        await FitWeight.delete().where(FitWeight.part.is_in(list(PARTS)))
        await FitWeight.insert(
            *(
                FitWeight(part=part, points=points, updated_by=principal.user_id, updated_at=now)
                for part, points in weights.items()
            )
        )
        await audit.record(
            "fit_weights_changed",
            actor_id=principal.user_id,
            object_type="fit_weights",
            detail={"before": before, "after": weights},
        )
    return weights


# --- facts for the fit score ------------------------------------------------------------------


async def district_facts(district_ids: Sequence[int] | None = None) -> list[DistrictFacts]:
    """Verified districts with their profiles and open needs, in three queries."""
    where = (Organization.kind == "district") & Organization.verified.eq(True)
    if district_ids is not None:
        where = where & Organization.id.is_in(list(district_ids) or [-1])
    organizations = (
        await Organization.select(Organization.id, Organization.name)
        .where(where)
        .order_by(Organization.id)
    )
    ids = [row["id"] for row in organizations]
    profile_where = DistrictProfile.organization.is_in(ids or [-1])
    need_where = Need.district.is_in(ids or [-1]) & Need.is_open.eq(True)
    if district_ids is None:
        profile_where = DistrictProfile.organization.kind == "district"
        need_where = Need.is_open.eq(True)
    profiles = {
        row["organization"]: row for row in await DistrictProfile.select().where(profile_where)
    }
    needs: dict[int, list[NeedFacts]] = {}
    for row in (
        await Need.select(Need.district, Need.title, Need.subject, Need.pillars, Need.grade_band)
        .where(need_where)
        .order_by(Need.id)
    ):
        needs.setdefault(row["district"], []).append(
            NeedFacts(
                title=row["title"],
                subject=row["subject"],
                pillars=tuple(row["pillars"] or ()),
                grade_band=row["grade_band"],
            )
        )
    facts = []
    for row in organizations:
        profile = profiles.get(row["id"])
        district_needs = tuple(needs.get(row["id"], ()))
        if profile is None:
            facts.append(DistrictFacts(id=row["id"], name=row["name"], needs=district_needs))
            continue
        facts.append(
            DistrictFacts(
                id=row["id"],
                name=row["name"],
                has_profile=True,
                grades_served=tuple(profile["grades_served"] or ()),
                platforms=tuple(profile["platforms"] or ()),
                device_ratio=float(profile["device_ratio"]),
                signed_ndpa=bool(profile["signed_ndpa"]),
                enrollment=int(profile["enrollment"]),
                locale=profile["locale"],
                frl_share=float(profile["frl_share"]),
                needs=district_needs,
            )
        )
    return facts


async def call_rows(
    pilot_ids: Sequence[int] | None = None, statuses: Sequence[str] = tuple(CALL_STATUSES)
) -> list[dict[str, Any]]:
    """Calls with their product's platforms, vendor and name, in one query."""
    where = Pilot.status.is_in(list(statuses))
    if pilot_ids is not None:
        where = where & Pilot.id.is_in(list(pilot_ids) or [-1])
    return (
        await Pilot.select(
            Pilot.id,
            Pilot.title,
            Pilot.status,
            Pilot.grades,
            Pilot.subjects,
            Pilot.pillars,
            Pilot.sites_wanted,
            Pilot.students_per_site,
            Pilot.product.name.as_alias("product_name"),
            Pilot.product.platforms.as_alias("platforms"),
            Pilot.product.vendor.id.as_alias("vendor_id"),
            Pilot.product.vendor.name.as_alias("vendor_name"),
        )
        .where(where)
        .order_by(Pilot.id)
    )


def call_facts(row: Mapping[str, Any]) -> CallFacts:
    return CallFacts(
        id=row["id"],
        title=row["title"],
        grades=tuple(row["grades"] or ()),
        subjects=tuple(row["subjects"] or ()),
        pillars=tuple(row["pillars"] or ()),
        platforms=tuple(row["platforms"] or ()),
        students_per_site=int(row["students_per_site"]),
    )


def fit_out(fit: Fit) -> dict[str, Any]:
    return {
        "score": fit.score,
        "out_of": fit.out_of,
        "parts": [{**part.as_dict(), "label": PART_LABELS[part.part]} for part in fit.parts],
    }
