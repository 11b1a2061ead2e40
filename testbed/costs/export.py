"""The network's cost-effectiveness as CSV, with its data dictionary: public numbers only (list
prices, or site costs averaged over at least three sites), one row per published pilot and one
per product pooled."""

from __future__ import annotations

import csv
import io
from typing import Any

from analysis.cost_effectiveness import CostEffectiveness
from testbed.costs import services
from testbed.findings.services import neutralize
from testbed.tables import Finding

DICTIONARY = (
    ("level", "text", "pilot (one published pilot) or pooled (all the product's pooled pilots)."),
    ("product_id", "integer", "The product's id (/products/{product_id}/costs)."),
    ("product", "text", "The product's name."),
    ("pilot_id", "integer", "The pilot's id; empty on a pooled row."),
    ("pilot_title", "text", "The pilot's title; empty on a pooled row."),
    ("outcome", "text", "The primary outcome's name; empty on a pooled row."),
    ("design_type", "text", "rct, cluster_rct, quasi_experiment or pre_post; empty when pooled."),
    (
        "effect",
        "number",
        "Effect in standard deviations, positive = better (pooled: random "
        "effects, REML with the truncated Knapp-Hartung adjustment, as on the evidence page).",
    ),
    ("effect_ci_low", "number", "Lower end of the effect's 95 % confidence interval."),
    ("effect_ci_high", "number", "Upper end of the effect's 95 % confidence interval."),
    (
        "dollar_year",
        "integer",
        "The year whose dollars every cost is in (CPI-U, /costs/price-index).",
    ),
    (
        "cost_per_student",
        "number",
        "Cost per student a year: the student-weighted mean of at "
        "least three sites' own costs, else the list price; empty when neither is known.",
    ),
    ("cost_basis", "text", "sites, list_price or none: where cost_per_student comes from."),
    ("effect_per_1000", "number", "Effect (SD) per $1,000 spent per student; empty at zero cost."),
    (
        "effect_per_1000_set",
        "text",
        "interval, exclusive or unbounded: the shape of its Fieller "
        "95 % confidence set (exclusive: everything outside low-high).",
    ),
    ("effect_per_1000_low", "number", "Lower end of that set (empty when unbounded)."),
    ("effect_per_1000_high", "number", "Upper end of that set (empty when unbounded)."),
    (
        "cost_for_gain",
        "number",
        "Cost per student for a 0.1 SD gain; empty unless the effect's interval lies above zero.",
    ),
    ("cost_for_gain_low", "number", "Lower end of its Fieller 95 % confidence interval."),
    ("cost_for_gain_high", "number", "Upper end of its Fieller 95 % confidence interval."),
    ("withheld", "text", "Why cost_for_gain is empty: effect_may_be_zero or effect_negative."),
    (
        "price_note",
        "text",
        "Which prices behind cost_per_student are dated after the price index's last year and "
        "so count at face value (no index value is guessed); empty when all are adjusted.",
    ),
)
COLUMNS = tuple(name for name, _, _ in DICTIONARY)


def _ce_columns(ce: CostEffectiveness | None) -> dict[str, Any]:
    if ce is None:
        return {}
    per = ce.effect_per_1000_set
    gain = ce.cost_for_gain_set
    return {
        "effect_per_1000": ce.effect_per_1000,
        "effect_per_1000_set": per.kind if per else None,
        "effect_per_1000_low": per.low if per else None,
        "effect_per_1000_high": per.high if per else None,
        "cost_for_gain": ce.cost_for_gain,
        "cost_for_gain_low": gain.low if gain else None,
        "cost_for_gain_high": gain.high if gain else None,
        "withheld": ce.withheld,
    }


async def rows() -> list[dict[str, Any]]:
    products = sorted(
        {
            row["product"]
            for row in await Finding.select(Finding.pilot.product.as_alias("product")).where(
                Finding.published_at.is_not_null()
            )
        }
    )
    found = []
    for product_id in products:
        costs = await services.product_costs(None, product_id)
        name = costs.product["name"]
        for pilot in costs.pilots:
            found.append(
                {
                    "level": "pilot",
                    "product_id": product_id,
                    "product": name,
                    "pilot_id": pilot.pilot_id,
                    "pilot_title": pilot.title,
                    "outcome": pilot.outcome,
                    "design_type": pilot.design_type,
                    "effect": pilot.estimate,
                    "effect_ci_low": pilot.ci[0] if pilot.ci else None,
                    "effect_ci_high": pilot.ci[1] if pilot.ci else None,
                    "dollar_year": costs.dollar_year,
                    "cost_per_student": pilot.cost_per_student,
                    "cost_basis": pilot.basis,
                    "price_note": pilot.price_note,
                    **_ce_columns(pilot.ce),
                }
            )
        pooled = costs.pooled
        found.append(
            {
                "level": "pooled",
                "product_id": product_id,
                "product": name,
                "effect": pooled.effect if pooled else None,
                "effect_ci_low": pooled.effect_ci[0] if pooled else None,
                "effect_ci_high": pooled.effect_ci[1] if pooled else None,
                "dollar_year": costs.dollar_year,
                "cost_per_student": costs.cost_per_student,
                "cost_basis": costs.basis,
                "price_note": costs.price_note,
                **_ce_columns(pooled),
            }
        )
    return found


def as_csv(found: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in found:
        writer.writerow([neutralize("" if row.get(c) is None else row[c]) for c in COLUMNS])
    return buffer.getvalue()
