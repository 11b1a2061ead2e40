"""Baseline equivalence of a site's groups, rated by the WWC standard."""

from __future__ import annotations

import hashlib
import statistics
from typing import Any

from analysis.effect_sizes import hedges_g
from analysis.wwc import baseline_equivalence
from testbed import audit
from testbed.access import (
    pilot_access,
)
from testbed.auth import Principal
from testbed.designs.rosters import parse_baseline_groups
from testbed.designs.services.permissions import require_upload_for_site
from testbed.designs.services.registered import require_registered_design
from testbed.designs.services.sites import require_site
from testbed.errors import Conflict, InvalidInput
from testbed.tables import (
    BaselineCheck,
)

RATING_WORDS = {
    "satisfied": "equivalence is satisfied (WWC)",
    "requires_adjustment": (
        "equivalence requires statistical adjustment (WWC): the impact analysis must adjust "
        "for the baseline"
    ),
    "not_satisfied": (
        "the groups are not equivalent (WWC): this comparison cannot support a causal claim"
    ),
}


def baseline_sentence(g: float, rating: str) -> str:
    higher = "treatment" if g > 0 else "comparison"
    lead = (
        f"The groups differ by {abs(g):.2f} SD at baseline (the {higher} group is higher)"
        if round(abs(g), 2) > 0
        else "The groups do not differ at baseline (0.00 SD)"
    )
    return f"{lead}: {RATING_WORDS[rating]}."


async def latest_baseline_check(pilot_id: int, site: dict[str, Any]) -> dict[str, Any] | None:
    row = (
        await BaselineCheck.select()
        .where((BaselineCheck.pilot == pilot_id) & (BaselineCheck.site == site["site_id"]))
        .order_by(BaselineCheck.id, ascending=False)
        .first()
    )
    if row is None:
        return None
    return {
        "site_id": site["site_id"],
        "site_name": site["name"],
        **{
            name: row[name]
            for name in (
                "n_treatment",
                "n_comparison",
                "mean_treatment",
                "sd_treatment",
                "mean_comparison",
                "sd_comparison",
                "hedges_g",
                "rating",
                "created_at",
            )
        },
        "sentence": baseline_sentence(row["hedges_g"], row["rating"]),
    }


async def check_baseline(
    principal: Principal, pilot_id: int, site_id: int, data: bytes
) -> dict[str, Any]:
    """A quasi-experiment's baseline equivalence for one site, from the district's groups:
    Hedges' g on the baseline and the WWC rating. Only the summary is stored, not the rows."""
    access = await pilot_access(principal, pilot_id)
    require_upload_for_site(access, site_id)
    site = await require_site(pilot_id, site_id)
    design = await require_registered_design(pilot_id, before="uploading baseline data")
    if design["document"]["design_type"] != "quasi_experiment":
        raise Conflict(
            "Baseline equivalence is checked here for quasi-experiments; this pilot's registered "
            "design assigns its groups at random."
        )
    groups = parse_baseline_groups(data)
    summary = {
        "n_treatment": len(groups.treatment),
        "n_comparison": len(groups.comparison),
        "mean_treatment": statistics.fmean(groups.treatment),
        "sd_treatment": statistics.stdev(groups.treatment),
        "mean_comparison": statistics.fmean(groups.comparison),
        "sd_comparison": statistics.stdev(groups.comparison),
    }
    try:
        g = hedges_g(
            summary["mean_treatment"],
            summary["sd_treatment"],
            summary["n_treatment"],
            summary["mean_comparison"],
            summary["sd_comparison"],
            summary["n_comparison"],
        ).g
    except ValueError as error:
        raise InvalidInput(f"The baseline difference cannot be computed: {error}.") from None
    rating = baseline_equivalence(g)
    await BaselineCheck.insert(
        BaselineCheck(
            pilot=pilot_id,
            site=site_id,
            design_version=design["id"],
            sha256=hashlib.sha256(data).hexdigest(),
            hedges_g=g,
            rating=rating,
            created_by=principal.user_id,
            **summary,
        )
    )
    await audit.record(
        "baseline_checked",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"site": site_id, "hedges_g": g, "rating": rating},
    )
    found = await latest_baseline_check(pilot_id, site)
    assert found is not None
    return found
