"""Matching rounds: the optimizer proposes sites for every call at once, with its reasons."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analysis import matching as optimizer
from testbed import audit, vocabulary
from testbed.access import CALL_STATUSES, pilot_access
from testbed.auth import Principal
from testbed.errors import Conflict, Forbidden, NotFound
from testbed.matching.fit import (
    DistrictFacts,
    Fit,
    explain,
    score_matrix,
)
from testbed.matching.services.enrollments import (
    CONCURRENT_PILOT_STATUSES,
    DEFAULT_MAX_CONCURRENT_PILOTS,
    HOLDING_STATUSES,
    ROUND_TIME_LIMIT_SECONDS,
    STATUS_WORDS,
)
from testbed.matching.services.facts import call_facts, call_rows, district_facts, fit_weights
from testbed.notifications.services import notify_organization
from testbed.tables import (
    DistrictProfile,
    Enrollment,
    MatchingRound,
    Pilot,
)


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _percent(share: float | None) -> str:
    return "unknown" if share is None else f"{100 * share:.0f} %"


async def run_round(principal: Principal, pilot_ids: Sequence[int] | None = None) -> int:
    """Propose sites for calls from their volunteers; store the round with its explanations.

    Network admins may include every open call (pilot_ids None); anyone else only calls they
    manage, named in pilot_ids. Returns the round's id.
    """
    started = time.perf_counter()
    if pilot_ids is None and not principal.is_network_admin:
        raise Forbidden("Only network administrators run a round over the whole network.")
    for pilot_id in pilot_ids or ():
        (await pilot_access(principal, pilot_id)).require_manage()
    calls = await call_rows(pilot_ids)
    call_ids = [row["id"] for row in calls]
    if pilot_ids is not None and set(pilot_ids) - set(call_ids):
        raise Conflict("A matching round is for calls open for volunteers; this pilot is not.")
    weights = await fit_weights()

    enrollments = await Enrollment.select(
        Enrollment.id,
        Enrollment.pilot,
        Enrollment.district,
        Enrollment.status,
        Enrollment.capacity_students,
    ).where(
        Enrollment.pilot.is_in(call_ids or [-1])
        & Enrollment.status.is_in(["volunteered", *HOLDING_STATUSES])
    )
    volunteers = [row for row in enrollments if row["status"] == "volunteered"]
    networks = await district_facts()
    frl_shares = [d.frl_share for d in networks if d.frl_share is not None]
    median_frl = statistics.median(frl_shares) if frl_shares else None
    facts_of = {d.id: d for d in networks}
    volunteer_ids = sorted({row["district"] for row in volunteers if row["district"] in facts_of})
    districts = [facts_of[d] for d in volunteer_ids]
    row_of = {d: index for index, d in enumerate(volunteer_ids)}
    column_of = {pilot_id: index for index, pilot_id in enumerate(call_ids)}

    offered = np.full((len(districts), len(calls)), np.nan)
    enrollment_of: dict[tuple[int, int], int] = {}
    for row in volunteers:
        if row["district"] in row_of:
            key = (row_of[row["district"]], column_of[row["pilot"]])
            offered[key] = row["capacity_students"]
            enrollment_of[key] = row["id"]
    call_facts_list = [call_facts(row) for row in calls]
    fit = score_matrix(districts, call_facts_list, weights, offered)
    fit[np.isnan(offered)] = np.nan

    holding = [row for row in enrollments if row["status"] in HOLDING_STATUSES]
    held_sites = {
        pilot_id: [r["district"] for r in holding if r["pilot"] == pilot_id]
        for pilot_id in call_ids
    }
    sites_wanted = [max(0, row["sites_wanted"] - len(held_sites[row["id"]])) for row in calls]
    capacity = await _remaining_capacity(volunteer_ids)

    def high(district: DistrictFacts | None) -> bool:
        return bool(
            district
            and median_frl is not None
            and district.frl_share is not None
            and district.frl_share > median_frl
        )

    result = optimizer.assign_sites(
        fit,
        sites_wanted,
        [capacity[d] for d in volunteer_ids],
        [d.locale for d in districts],
        [high(d) for d in districts],
        call_locales_held=[
            {
                facts_of[d].locale
                for d in held_sites[pilot_id]
                if d in facts_of and facts_of[d].locale
            }
            for pilot_id in call_ids
        ],
        call_has_high_frl=[
            any(high(facts_of.get(d)) for d in held_sites[pilot_id]) for pilot_id in call_ids
        ],
        time_limit=ROUND_TIME_LIMIT_SECONDS,
    )

    sites_proposed = Counter(proposal.call for proposal in result.proposals)
    proposals = []
    for proposal in result.proposals:
        district, row = districts[proposal.district], calls[proposal.call]
        explained = explain(
            district,
            call_facts_list[proposal.call],
            weights,
            int(offered[proposal.district, proposal.call]),
        )
        proposals.append(
            {
                "enrollment_id": enrollment_of[(proposal.district, proposal.call)],
                "pilot_id": row["id"],
                "title": row["title"],
                "vendor_id": row["vendor_id"],
                "district_id": district.id,
                "district_name": district.name,
                "locale": district.locale,
                "frl_share": district.frl_share,
                "score": explained.score,
                "out_of": explained.out_of,
                "parts": explained.explanation(),
                "reasons": _reasons(
                    proposal, district, explained, median_frl, sites_proposed[proposal.call]
                ),
            }
        )
    shortfalls = [
        {
            "pilot_id": calls[s.call]["id"],
            "title": calls[s.call]["title"],
            "vendor_id": calls[s.call]["vendor_id"],
            "code": s.code,
            "numbers": s.numbers,
            "words": _shortfall_words(s, calls[s.call]["title"], median_frl),
        }
        for s in result.shortfalls
    ]
    message = result.message
    if not calls:
        message = "No call was open for volunteers, so there was nothing to match."
    elif not volunteers:
        message = "No call had volunteers waiting for a round, so there was nothing to match."
    vendors = {row["vendor_id"] for row in calls}
    summary = {
        "calls": len(calls),
        "volunteers": len(volunteers),
        "districts": len(districts),
        "eligible_pairs": result.eligible_pairs,
        "sites_wanted": int(sum(sites_wanted)),
        "proposals": len(proposals),
        "median_frl_share": median_frl,
        "weights": weights,
        "diversity_penalty": result.diversity_penalty,
        "penalty": result.penalty,
    }
    async with MatchingRound._meta.db.transaction():
        rows = await MatchingRound.insert(
            MatchingRound(
                run_by=principal.user_id,
                scope="network" if principal.is_network_admin else "vendor",
                vendor=next(iter(vendors)) if len(vendors) == 1 else None,
                pilot_ids=call_ids,
                status=result.status,
                message=message,
                summary=summary,
                proposals=proposals,
                shortfalls=shortfalls,
                objective=result.objective,
                lp_bound=None if np.isnan(result.lp_bound) else result.lp_bound,
                gap=None if np.isnan(result.gap) else result.gap,
                seconds=round(time.perf_counter() - started, 3),
            )
        )
        round_id = rows[0]["id"]
        for item in proposals:
            await Enrollment.update(
                {
                    Enrollment.status: "proposed",
                    Enrollment.fit_score: item["score"],
                    Enrollment.fit_explanation: item["parts"],
                    Enrollment.updated_at: datetime.now(UTC),
                }
            ).where((Enrollment.id == item["enrollment_id"]) & (Enrollment.status == "volunteered"))
            text = (
                f"A matching round proposes that {item['district_name']} host "
                f"“{item['title']}” (fit {item['score']:g} of {item['out_of']:g}). "
                "Both sides must accept."
            )
            await notify_organization(
                item["district_id"], kind="proposal", message=text, link="/matching"
            )
            await notify_organization(
                item["vendor_id"],
                kind="proposal",
                message=text,
                link=f"/pilots/{item['pilot_id']}/volunteers",
            )
        await audit.record(
            "matching_round_run",
            actor_id=principal.user_id,
            object_type="matching_round",
            object_id=round_id,
            detail={"calls": len(calls), "proposals": len(proposals), "status": result.status},
        )
    return round_id


async def _remaining_capacity(district_ids: Sequence[int]) -> dict[int, int]:
    """How many more pilots each district may take: its limit minus what it holds."""
    limits = {
        row["organization"]: row["max_concurrent_pilots"]
        for row in await DistrictProfile.select(
            DistrictProfile.organization, DistrictProfile.max_concurrent_pilots
        ).where(DistrictProfile.organization.is_in(list(district_ids) or [-1]))
    }
    held = await Enrollment.select(Enrollment.district).where(
        Enrollment.district.is_in(list(district_ids) or [-1])
        & Enrollment.status.is_in(list(HOLDING_STATUSES))
        & Enrollment.pilot.status.is_in(list(CONCURRENT_PILOT_STATUSES))
    )
    counts: dict[int, int] = {}
    for row in held:
        counts[row["district"]] = counts.get(row["district"], 0) + 1
    return {
        d: max(0, limits.get(d, DEFAULT_MAX_CONCURRENT_PILOTS) - counts.get(d, 0))
        for d in district_ids
    }


def _reasons(
    proposal: optimizer.Proposal,
    district: DistrictFacts,
    fit: Fit,
    median_frl: float | None,
    sites_proposed: int,
) -> list[str]:
    """Why the round proposed this pair, in sentences."""
    best = sorted(fit.parts, key=lambda part: -part.points)[:2]
    rank = proposal.rank_among_volunteers
    if proposal.volunteers == 1:
        standing = "the call's only eligible volunteer"
    else:
        place = "best" if rank == 1 else f"{_ordinal(rank)} best"
        standing = f"the {place} of the call's {proposal.volunteers} eligible volunteers"
    reasons = [
        f"Fit {fit.score:g} of {fit.out_of:g}, {standing}; strongest parts: "
        + "; ".join(f"{part.why} ({part.points:g} points)" for part in best)
        + "."
    ]
    if rank > sites_proposed:
        reasons.append(
            "A better-fitting volunteer of this call was proposed to another call it fits "
            "better, had reached its limit of concurrent pilots, or this district brings "
            "the diversity below."
        )
    if proposal.only_site_in_its_locale and district.locale:
        reasons.append(
            f"The call's only {vocabulary.LOCALE_WORDS[district.locale].lower()} site, so "
            "its sites span more than one locale."
        )
    if proposal.high_frl:
        reasons.append(
            f"Its FRL share ({_percent(district.frl_share)}) is above the network's "
            f"median ({_percent(median_frl)})."
        )
    return reasons


def _shortfall_words(shortfall: optimizer.Shortfall, title: str, median_frl: float | None) -> str:
    n = shortfall.numbers
    code = shortfall.code
    if code == optimizer.TOO_FEW_VOLUNTEERS:
        words = (
            f"“{title}” wanted {n['wanted']} more site(s); only {n['eligible']} volunteer(s) "
            f"were eligible, so the round proposed {n['assigned']}."
        )
        unable = n["volunteers"] - n["eligible"]
        if unable > 0:
            words += f" {unable} other volunteer(s) had reached their limit of concurrent pilots."
        return words
    if code == optimizer.VOLUNTEERS_TAKEN:
        return (
            f"“{title}” wanted {n['wanted']} more site(s) and had {n['eligible']} eligible "
            f"volunteer(s), but only {n['assigned']} could be proposed: the others reached "
            "their limit of concurrent pilots with calls they fit better."
        )
    if code == optimizer.ONE_LOCALE_ONLY:
        return (
            f"“{title}”: its eligible volunteers (and sites) are all in one locale, so its "
            "sites cannot span two locales."
        )
    if code == optimizer.LOCALES_NOT_MET:
        return (
            f"“{title}”: volunteers came from {n['locales_available']} locales, but the "
            f"round's proposals span only {n['locales_assigned']}: the others were needed "
            "elsewhere."
        )
    if code == optimizer.NO_HIGH_FRL_VOLUNTEER:
        return (
            f"“{title}”: no volunteer above the network's median FRL share "
            f"({_percent(median_frl)})."
        )
    return (
        f"“{title}”: a volunteer above the network's median FRL share "
        f"({_percent(median_frl)}) was eligible but could not be placed here."
    )


async def round_viewable(principal: Principal, round_id: int) -> bool:
    """Admins see every round; vendors see rounds that include a call of theirs."""
    row = (
        await MatchingRound.select(MatchingRound.pilot_ids)
        .where(MatchingRound.id == round_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        return False
    if principal.is_network_admin:
        return True
    vendors = set(principal.organizations_of_kind("vendor"))
    return bool(vendors) and await Pilot.exists().where(
        Pilot.id.is_in(list(row["pilot_ids"]) or [-1]) & Pilot.product.vendor.is_in(list(vendors))
    )


async def round_detail(principal: Principal, round_id: int) -> dict[str, Any]:
    """A round's result; a vendor sees only the proposals and shortfalls of its own calls."""
    if not await round_viewable(principal, round_id):
        raise NotFound("There is no such matching round.")
    row = (
        await MatchingRound.select(
            *MatchingRound.all_columns(),
            MatchingRound.run_by.name.as_alias("run_by_name"),
        )
        .where(MatchingRound.id == round_id)
        .output(load_json=True)
        .first()
    )
    if not principal.is_network_admin:
        mine = set(principal.organizations_of_kind("vendor"))
        row["proposals"] = [p for p in row["proposals"] if p["vendor_id"] in mine]
        row["shortfalls"] = [s for s in row["shortfalls"] if s["vendor_id"] in mine]
        row["filtered"] = True
    else:
        row["filtered"] = False
    status = await Enrollment.select(Enrollment.id, Enrollment.status).where(
        Enrollment.id.is_in([p["enrollment_id"] for p in row["proposals"]] or [-1])
    )
    now = {item["id"]: item["status"] for item in status}
    for proposal in row["proposals"]:
        current = now.get(proposal["enrollment_id"], "")
        proposal["status_words"] = STATUS_WORDS.get(current, current)
    return row


async def list_rounds(limit: int = 50) -> list[dict[str, Any]]:
    return (
        await MatchingRound.select(
            MatchingRound.id,
            MatchingRound.created_at,
            MatchingRound.scope,
            MatchingRound.status,
            MatchingRound.objective,
            MatchingRound.gap,
            MatchingRound.seconds,
            MatchingRound.summary,
            MatchingRound.run_by.name.as_alias("run_by_name"),
        )
        .order_by(MatchingRound.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )


async def admin_overview() -> dict[str, Any]:
    calls = await call_rows()
    waiting = await Enrollment.count().where(
        Enrollment.pilot.status.is_in(list(CALL_STATUSES)) & (Enrollment.status == "volunteered")
    )
    return {
        "calls": calls,
        "volunteers_waiting": waiting,
        "rounds": await list_rounds(),
        "weights": await fit_weights(),
    }
