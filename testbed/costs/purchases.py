"""The purchase: a site district that decided to adopt records what it paid, with the evidence
page as it read that day, frozen; and the network's decisions counted by evidence strength.

Decisions themselves are recorded on the pilot's findings page (testbed/findings, PilotDecision);
a purchase belongs to one "adopt" decision. The negotiated price stays with the district, the
product's vendor and network admins (it is shown on the site's cost page only).
"""

from __future__ import annotations

import datetime
from typing import Any

from analysis.suppression import DEFAULT_THRESHOLD, suppress_small_cells
from testbed import audit
from testbed.auth import Principal
from testbed.costs import services
from testbed.db import is_unique_violation
from testbed.errors import Conflict
from testbed.synthesis.services import Evidence, product_evidence
from testbed.tables import Pilot, PilotDecision, Purchase

# Strength of the evidence as the evidence page's ESSA indicator states it.
STRENGTHS = {
    "strong": "Strong (tier 1 indicated)",
    "moderate": "Moderate (tier 2 indicated)",
    "promising": "Promising (tier 3 indicated)",
    "weak": "Published pilots, no tier indicated",
    "none": "No published pilot",
}
DECISION_WORDS = {"adopt": "Adopt", "extend": "Extend the pilot", "stop": "Stop"}


def strength(evidence: Evidence) -> str:
    if not evidence.pilots:
        return "none"
    tier = evidence.essa["tier"] if evidence.essa else None
    return {1: "strong", 2: "moderate", 3: "promising"}.get(tier, "weak")


def snapshot(evidence: Evidence, today: datetime.date) -> dict[str, Any]:
    """What the evidence page said, in the words and numbers it showed, on `today`."""
    pooled = evidence.pooled
    return {
        "as_of": today.isoformat(),
        "headline": evidence.headline,
        "pilots": evidence.k,
        "districts": evidence.districts,
        "students": evidence.students,
        "pooled_estimate": pooled["estimate"] if pooled else None,
        "pooled_ci": list(pooled["ci"]) if pooled else None,
        "prediction_interval": list(pooled["prediction_interval"]) if pooled else None,
        "prediction": evidence.prediction,
        "heterogeneity": evidence.heterogeneity,
        "essa_tier": evidence.essa["tier"] if evidence.essa else None,
        "strength": strength(evidence),
        "finding_ids": [pilot.finding_id for pilot in evidence.pilots],
    }


async def latest_decision(pilot_id: int, district_id: int) -> dict[str, Any] | None:
    return (
        await PilotDecision.select(PilotDecision.id, PilotDecision.decision)
        .where((PilotDecision.pilot == pilot_id) & (PilotDecision.district == district_id))
        .order_by(PilotDecision.id, ascending=False)
        .first()
    )


async def purchase_of(pilot_id: int, district_id: int) -> dict[str, Any] | None:
    """The purchase recorded for the site's latest decision, if that decision is to adopt."""
    decision = await latest_decision(pilot_id, district_id)
    if decision is None or decision["decision"] != "adopt":
        return None
    found = (
        await Purchase.select(
            Purchase.id,
            Purchase.price_per_student,
            Purchase.students,
            Purchase.total,
            Purchase.evidence_snapshot,
            Purchase.evidence_strength,
            Purchase.recorded_at,
        )
        .where(Purchase.decision == decision["id"])
        .output(load_json=True)
        .first()
    )
    return found or {"pending": True}


async def record_purchase(
    principal: Principal,
    pilot_id: int,
    site_id: int,
    values: dict[str, Any],
    today: datetime.date | None = None,
) -> int:
    await services.require_site_keeper(principal, pilot_id, site_id)
    today = today or datetime.date.today()
    decision = await latest_decision(pilot_id, site_id)
    if decision is None or decision["decision"] != "adopt":
        raise Conflict(
            "Record the decision to adopt on the pilot's findings page first: a purchase "
            "belongs to a decision to adopt.",
            link=(f"/pilots/{pilot_id}/findings#decision", "Record the decision"),
        )
    reader = services.FieldReader(values)
    price = reader.number("price_per_student", "the price per student", maximum=1_000_000)
    students = reader.number(
        "students", "the number of students", minimum=1, maximum=services.MAX_STUDENTS, whole=True
    )
    reader.check("The purchase needs fixing.")
    product_id = (await Pilot.select(Pilot.product).where(Pilot.id == pilot_id).first())["product"]
    evidence = await product_evidence(product_id)
    frozen = snapshot(evidence, today)
    try:
        row = await Purchase.insert(
            Purchase(
                decision=decision["id"],
                product=product_id,
                district=site_id,
                price_per_student=price,
                students=int(students),
                total=price * students,
                evidence_snapshot=frozen,
                evidence_strength=frozen["strength"],
                recorded_by=principal.user_id,
            )
        )
    except Exception as error:
        if not is_unique_violation(error):
            raise
        raise Conflict("This decision's purchase is already recorded.") from None
    await audit.record(
        "costs.purchase",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"site": site_id, "strength": frozen["strength"]},
    )
    return row[0]["id"]


async def decisions_by_strength() -> dict[str, Any]:
    """Each site district's latest decision, counted by the strength of the product's evidence
    (for an adoption with a recorded purchase, as the evidence page said that day; otherwise
    as it says today). Counts of 1-9 are hidden, with whatever would give them away."""
    rows = await PilotDecision.select(
        PilotDecision.id,
        PilotDecision.pilot,
        PilotDecision.district,
        PilotDecision.decision,
        PilotDecision.pilot.product.as_alias("product"),
    ).order_by(PilotDecision.id)
    latest = {(row["pilot"], row["district"]): row for row in rows}
    decided = [row for row in latest.values() if row["decision"] in DECISION_WORDS]
    frozen = {
        row["decision"]: row["evidence_strength"]
        for row in await Purchase.select(Purchase.decision, Purchase.evidence_strength).where(
            Purchase.decision.is_in([row["id"] for row in decided] or [-1])
        )
    }
    today: dict[int, str] = {}
    for product in sorted({row["product"] for row in decided}):
        today[product] = strength(await product_evidence(product))
    counts = {(d, s): 0 for d in DECISION_WORDS for s in STRENGTHS}
    for row in decided:
        counts[(row["decision"], frozen.get(row["id"]) or today[row["product"]])] += 1
    table = suppress_small_cells(
        [[counts[(d, s)] for s in STRENGTHS] for d in DECISION_WORDS], zero_is_small=False
    )
    return {
        "decisions": list(DECISION_WORDS),
        "strengths": list(STRENGTHS),
        "cells": table.cells,
        "row_totals": table.row_totals,
        "column_totals": table.column_totals,
        "total": table.total,
        "threshold": DEFAULT_THRESHOLD,
    }
