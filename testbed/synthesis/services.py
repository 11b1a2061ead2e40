"""Network synthesis: what the whole network learned about a product, districts like yours,
the network dashboard and the researchers' export.

Everything here is public and reads only published findings as the public reads them: the
published row of each pilot (the public variant when a district withheld its site), with
small cells suppressed by `testbed.findings.disclosure` exactly as on the findings pages.
"""

from __future__ import annotations

import datetime
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis import evidence
from analysis.meta import random_effects, subgroup_difference
from analysis.suppression import suppress_small_cells
from testbed.auth import Principal
from testbed.catalog.services import enrollment_band, get_district, get_product
from testbed.errors import NotFound
from testbed.findings import disclosure, plot_store
from testbed.findings.services import results_of
from testbed.findings.words import better, number, primary_outcome
from testbed.synthesis import words
from testbed.synthesis.plots import forest
from testbed.tables import (
    DistrictProfile,
    Finding,
)
from testbed.vocabulary import LOCALE_WORDS, LOCALES

RANDOMIZED = frozenset({"rct", "cluster_rct"})
NOT_POOLED_DESIGNS = {
    "pre_post": "no comparison group: a before/after change is not an effect",
}


# --- reading published findings -------------------------------------------------------------


async def _published_rows(where: Any = None) -> list[dict[str, Any]]:
    """The latest published row of each pilot (older published rows are superseded)."""
    query = Finding.select(
        Finding.id,
        Finding.pilot.as_alias("pilot_id"),
        Finding.results,
        Finding.published_at,
        Finding.retracted_at,
        Finding.retraction_reason,
        Finding.pilot.title.as_alias("title"),
        Finding.pilot.product.as_alias("product_id"),
        Finding.pilot.product.name.as_alias("product"),
        Finding.pilot.product.vendor.name.as_alias("vendor"),
    ).where(Finding.published_at.is_not_null())
    if where is not None:
        query = query.where(where)
    rows = await query.order_by(Finding.published_at).order_by(Finding.id)
    latest = {row["pilot_id"]: row for row in rows}
    return sorted(latest.values(), key=lambda row: row["pilot_id"])


@dataclass
class PilotEstimate:
    """One pilot's primary effect as the public may see it (positive = better)."""

    pilot_id: int
    finding_id: int
    title: str
    outcome: str
    design_type: str
    estimate: float | None
    se: float | None
    ci: tuple[float, float] | None
    p: float | None
    students: int | None  # None when a small cell is suppressed
    site_ids: list[int]
    attrition: str | None
    baseline: str | None
    retracted: bool
    retraction_reason: str
    published_at: datetime.datetime
    not_pooled_because: str | None = None
    shrunken: float | None = None
    weight: float | None = None
    locale: str | None = None
    frl: float | None = None

    @property
    def pooled(self) -> bool:
        return self.not_pooled_because is None


def _estimate(row: dict[str, Any]) -> PilotEstimate:
    results = disclosure.disclose(results_of(row), frozenset())
    primary = primary_outcome(results)
    headline = primary and primary["headline"]
    design_type = results["design"]["design_type"]
    estimate = se = ci = p = None
    if headline is not None:
        estimate, low, high = better(primary["direction"], headline["g"], headline["ci"])
        se, p, ci = headline["se"], headline["p"], (low, high)
    students = results["students_analyzed"] if primary else None
    reason = None
    if row["retracted_at"] is not None:
        reason = "retracted"
    elif design_type in NOT_POOLED_DESIGNS:
        reason = NOT_POOLED_DESIGNS[design_type]
    elif estimate is None or not se:
        reason = "no effect estimate on the primary outcome"
    attrition = primary and primary.get("attrition")
    baseline = results.get("baseline")
    return PilotEstimate(
        pilot_id=row["pilot_id"],
        finding_id=row["id"],
        title=row["title"],
        outcome=primary["label"] if primary else "",
        design_type=design_type,
        estimate=estimate,
        se=se,
        ci=ci,
        p=p,
        students=students,
        # The districts whose students are in the estimate (every district, in results stored
        # before a totals-only district was told apart).
        site_ids=results["data"].get("estimate_sites")
        or [site["site_id"] for site in results.get("site_counts", [])],
        attrition=attrition["rating"] if attrition else None,
        baseline=baseline["rating"] if baseline else None,
        retracted=row["retracted_at"] is not None,
        retraction_reason=row["retraction_reason"] or "",
        published_at=row["published_at"],
        not_pooled_because=reason,
    )


# The primary effect of each published finding, as the public sees it, by (finding id, when it
# was computed): results are frozen once computed, so each is read and disclosed once per worker.
_effects: dict[tuple[int, str], tuple[float | None, float | None]] = {}
EFFECTS_SQL = """
SELECT id, pilot, computed_at, published_at, retracted_at FROM finding
WHERE published_at IS NOT NULL ORDER BY published_at, id
"""


async def primary_effects() -> list[tuple[float | None, float | None]]:
    """(effect, p) on the primary outcome (positive = better; None without an estimate) of each
    pilot's latest published finding, retracted ones left out."""
    latest: dict[int, dict[str, Any]] = {}
    for row in await Finding.raw(EFFECTS_SQL):
        latest[row["pilot"]] = row
    rows = [row for row in latest.values() if row["retracted_at"] is None]
    keys = {row["id"]: (row["id"], str(row["computed_at"])) for row in rows}
    missing = [key for key in keys.values() if key not in _effects]
    for start in range(0, len(missing), 200):
        chunk = dict(missing[start : start + 200])
        for found in await _published_rows(Finding.id.is_in(list(chunk))):
            estimate = _estimate(found)
            _effects[(found["id"], chunk[found["id"]])] = (estimate.estimate, estimate.p)
    return [_effects[keys[row["id"]]] for row in rows if keys[row["id"]] in _effects]


async def _profiles(district_ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    query = DistrictProfile.select(
        DistrictProfile.organization.as_alias("district_id"),
        DistrictProfile.organization.name.as_alias("name"),
        DistrictProfile.organization.state.as_alias("state"),
        DistrictProfile.organization.verified.as_alias("verified"),
        DistrictProfile.locale,
        DistrictProfile.enrollment,
        DistrictProfile.frl_share,
        DistrictProfile.el_share,
    )
    if district_ids is not None:
        query = query.where(DistrictProfile.organization.is_in(district_ids or [-1]))
    return {row["district_id"]: row for row in await query}


def majority_locale(locales: list[str]) -> str | None:
    """The locale of most of a pilot's districts; a tie goes to the first in LOCALES order."""
    if not locales:
        return None
    counts = Counter(locales)
    return max(LOCALES, key=lambda locale: (counts[locale], -LOCALES.index(locale)))


def frl_terciles(shares: list[float]) -> tuple[float, float]:
    """The cut points splitting the network's districts into thirds by FRL share."""
    low, high = np.quantile(np.asarray(shares, dtype=float), [1 / 3, 2 / 3])
    return float(low), float(high)


# The network's tercile cut points are kept per worker until a district profile is added, removed
# or changed: the count, the sum of the shares and the last id and edit time tell.
FRL_FINGERPRINT_SQL = """
SELECT COUNT(*) AS profiles, SUM(frl_share) AS total, MAX(id) AS last, MAX(updated_at) AS edited
FROM district_profile
"""
_terciles: dict[str, Any] = {}


async def network_frl_terciles() -> tuple[float, float]:
    """`frl_terciles` of every district profile in the network, computed once per change."""
    (row,) = await DistrictProfile.raw(FRL_FINGERPRINT_SQL)
    current = tuple(str(value) for value in row.values())
    if _terciles.get("fingerprint") != current:
        shares = await DistrictProfile.raw("SELECT frl_share FROM district_profile")
        _terciles["cuts"] = frl_terciles([share["frl_share"] for share in shares])
        _terciles["fingerprint"] = current
    return _terciles["cuts"]


def frl_group(share: float, cuts: tuple[float, float]) -> str:
    low, high = cuts
    if share < low:
        return f"lower poverty (FRL under {100 * low:.0f} %)"
    if share < high:
        return f"middle poverty (FRL {100 * low:.0f}–{100 * high:.0f} %)"
    return f"higher poverty (FRL {100 * high:.0f} % or more)"


# --- the product evidence page --------------------------------------------------------------


@dataclass
class Breakdown:
    name: str
    groups: list[dict[str, Any]]  # group, k, estimate, ci, students (None: suppressed)
    q_between: float | None
    df: int | None
    p: float | None
    note: str


@dataclass
class Evidence:
    product: dict[str, Any]
    pilots: list[PilotEstimate]
    headline: str
    k: int
    districts: int
    students: int
    students_exact: bool
    pooled: dict[str, Any] | None = None
    heterogeneity: str = ""
    prediction: str = ""
    method: str = ""
    essa: dict[str, Any] | None = None
    breakdowns: list[Breakdown] = field(default_factory=list)
    why_different: list[str] = field(default_factory=list)

    @property
    def pooled_pilots(self) -> list[PilotEstimate]:
        return [pilot for pilot in self.pilots if pilot.pooled]


def _total_students(pilots: list[PilotEstimate]) -> tuple[int, bool]:
    shown = [pilot.students for pilot in pilots if pilot.students is not None]
    return sum(shown), len(shown) == len(pilots)


def _breakdown(name: str, pilots: list[PilotEstimate], labels: list[str | None]) -> Breakdown:
    kept = [(pilot, label) for pilot, label in zip(pilots, labels, strict=True) if label]
    groups = list(dict.fromkeys(label for _, label in kept))
    if len(groups) < 2:
        return Breakdown(name, [], None, None, None, "All pooled pilots fall in one group.")
    test = subgroup_difference(
        [pilot.estimate for pilot, _ in kept],
        [pilot.se**2 for pilot, _ in kept],
        [label for _, label in kept],
    )
    students = [
        sum(pilot.students or 0 for pilot, label in kept if label == group) for group in groups
    ]
    shown = suppress_small_cells([students]).cells[0]
    rows = [
        {
            "group": subgroup.group,
            "k": subgroup.k,
            "estimate": subgroup.estimate,
            "ci": subgroup.ci,
            "students": count,
        }
        for subgroup, count in zip(test.subgroups, shown, strict=True)
    ]
    note = words.breakdown_note(test.p, min(subgroup.k for subgroup in test.subgroups))
    return Breakdown(name, rows, test.q_between, test.df, test.p, note)


def _essa(pilots: list[PilotEstimate], pooled: dict[str, Any] | None) -> dict[str, Any]:
    """The tier the pooled evidence indicates, and the distance to tiers 1 and 2."""
    estimate = pooled["estimate"] if pooled else (pilots[0].estimate if pilots else None)
    p = pooled["p"] if pooled else (pilots[0].p if pilots else None)
    significant = estimate is not None and p is not None and estimate > 0 and p < 0.05

    def sample(selected: list[PilotEstimate]) -> tuple[int, int]:
        students = sum(pilot.students or 0 for pilot in selected)
        districts = len({site for pilot in selected for site in pilot.site_ids})
        return students, districts

    strong = [p for p in pilots if p.design_type in RANDOMIZED and p.attrition == "low"]
    moderate = [
        p
        for p in pilots
        if (
            p.design_type == "quasi_experiment" or (p.design_type in RANDOMIZED and p not in strong)
        )
        and p.baseline == "satisfied"
    ]
    designs = {pilot.design_type for pilot in pilots}
    if pilots and designs <= RANDOMIZED:
        design = "rct"
    elif pilots and designs <= RANDOMIZED | {"quasi_experiment"}:
        design = "quasi_experiment"
    else:
        design = "none"
    students, districts = sample(pilots)
    tier = evidence.essa_tier(
        design=design,
        effect_size=estimate,
        p_value=p,
        n_students=students,
        n_districts=districts,
        attrition="low" if pilots and len(strong) == len(pilots) else "high",
        baseline_equivalence="satisfied" if len(moderate) == len(pilots) - len(strong) else None,
    )
    distances = []
    for target, selected in ((1, strong), (2, strong + moderate)):
        selected_students, selected_districts = sample(selected)
        distances.append(
            words.essa_distance(
                tier=tier.tier,
                target=target,
                students=selected_students,
                districts=selected_districts,
                significant_favourable=significant,
            )
        )
        if tier.tier is not None and tier.tier <= target:
            break
    return {"tier": tier.tier, "reasons": tier.reasons, "distances": distances}


async def product_evidence(product_id: int) -> Evidence:
    product = await get_product(product_id)
    rows = await _published_rows(Finding.pilot.product == product_id)
    pilots = [_estimate(row) for row in rows]
    profiles = await _profiles(sorted({site for p in pilots for site in p.site_ids}))
    for pilot in pilots:
        sites = [profiles[site] for site in pilot.site_ids if site in profiles]
        pilot.locale = majority_locale([site["locale"] for site in sites])
        pilot.frl = statistics.fmean(site["frl_share"] for site in sites) if sites else None
    pooled_pilots = [pilot for pilot in pilots if pilot.pooled]
    students, exact = _total_students(pooled_pilots)
    districts = len({site for pilot in pooled_pilots for site in pilot.site_ids})
    name = product["name"]
    result = Evidence(
        product=product,
        pilots=pilots,
        headline=words.no_evidence(name),
        k=len(pooled_pilots),
        districts=districts,
        students=students,
        students_exact=exact,
    )
    if len(pooled_pilots) == 1:
        only = pooled_pilots[0]
        result.headline = words.single_pilot(name, only.estimate, *only.ci)
    if len(pooled_pilots) >= 2:
        meta = random_effects(
            [pilot.estimate for pilot in pooled_pilots],
            [pilot.se**2 for pilot in pooled_pilots],
            method="REML",
            knapp_hartung=True,
        )
        for pilot, shrunk, weight in zip(
            pooled_pilots, meta.shrunken_estimates, meta.weights, strict=True
        ):
            pilot.shrunken, pilot.weight = shrunk, weight
        result.pooled = {
            "estimate": meta.estimate,
            "se": meta.se,
            "ci": meta.ci,
            "p": meta.p,
            "df": meta.df,
            "tau2": meta.tau2,
            "i2": meta.i2,
            "q": meta.q,
            "q_df": meta.q_df,
            "q_p": meta.q_p,
            "prediction_interval": meta.prediction_interval,
            "method": meta.method,
        }
        result.headline = words.pooled_headline(
            name,
            pilots=meta.k,
            districts=districts,
            students=students,
            students_exact=exact,
            estimate=meta.estimate,
            ci=meta.ci,
            p=meta.p,
        )
        result.method = words.pooling_method(meta.k, meta.df)
        result.heterogeneity = words.heterogeneity(meta.i2)
        result.prediction = words.prediction(meta.prediction_interval)
        cuts = await network_frl_terciles()
        result.breakdowns = [
            _breakdown(
                "Locale (of most of the pilot's districts)",
                pooled_pilots,
                [LOCALE_WORDS.get(p.locale or "") for p in pooled_pilots],
            ),
            _breakdown(
                "District poverty (average share of students eligible for free or reduced-price "
                "lunch in the pilot's districts)",
                pooled_pilots,
                [None if p.frl is None else frl_group(p.frl, cuts) for p in pooled_pilots],
            ),
        ]
        result.why_different = words.why_estimates_differ(
            meta.estimate,
            [pilot.estimate for pilot in pooled_pilots],
            [group["estimate"] for breakdown in result.breakdowns for group in breakdown.groups],
        )
    if pooled_pilots:
        result.essa = _essa(pooled_pilots, result.pooled)
    # Its forest plot was drawn when a finding was published or retracted: read, not redrawn.
    await plot_store.load([forest.key(*forest_arguments(result))])
    return result


def forest_arguments(evidence: Evidence) -> tuple[list[list[Any]], list[float] | None]:
    """What the forest plot (testbed.synthesis.plots.forest) draws: each pooled pilot's row
    and the pooled summary."""
    rows = [
        [pilot.title, pilot.estimate, *pilot.ci, pilot.shrunken] for pilot in evidence.pooled_pilots
    ]
    pooled = evidence.pooled
    summary = (
        [pooled["estimate"], *pooled["ci"], *pooled["prediction_interval"]] if pooled else None
    )
    return rows, summary


# --- districts like mine --------------------------------------------------------------------

# How much each difference counts; each is in standard deviations of the network's districts
# except the locale, which counts one unit when it differs.
SIMILARITY_WEIGHTS = {"locale": 1.0, "enrollment": 1.0, "frl": 1.0, "el": 1.0}


def _spread(values: list[float]) -> float:
    spread = float(np.std(values)) if len(values) > 1 else 0.0
    return spread if spread > 0 else 1.0


def rank_similar(
    target: dict[str, Any], candidates: list[dict[str, Any]], limit: int = 5
) -> list[tuple[float, dict[str, Any]]]:
    """The candidates closest to the target, nearest first: a weighted Euclidean distance on
    locale (same or not), log enrollment, FRL share and EL share, each standardized by its
    spread over the target and candidates. Ties go to the lower district id."""
    everyone = [target, *candidates]
    spreads = {
        "enrollment": _spread([math.log(max(d["enrollment"], 1)) for d in everyone]),
        "frl": _spread([d["frl_share"] for d in everyone]),
        "el": _spread([d["el_share"] for d in everyone]),
    }

    def distance(other: dict[str, Any]) -> float:
        parts = {
            "locale": float(other["locale"] != target["locale"]),
            "enrollment": (
                math.log(max(other["enrollment"], 1)) - math.log(max(target["enrollment"], 1))
            )
            / spreads["enrollment"],
            "frl": (other["frl_share"] - target["frl_share"]) / spreads["frl"],
            "el": (other["el_share"] - target["el_share"]) / spreads["el"],
        }
        return math.sqrt(sum(SIMILARITY_WEIGHTS[key] * value**2 for key, value in parts.items()))

    ranked = sorted(
        ((distance(d), d) for d in candidates), key=lambda x: (x[0], x[1]["district_id"])
    )
    return ranked[:limit]


@dataclass
class SimilarDistricts:
    district: dict[str, Any]
    matches: list[dict[str, Any]]  # district, distance, why, findings


async def similar_districts(
    principal: Principal | None, district_id: int, limit: int = 5
) -> SimilarDistricts:
    """Verified districts most like this one that hosted pilots with published findings."""
    district = await get_district(principal, district_id)
    if district["profile"] is None:
        raise NotFound("This district has not filled in its profile, so it cannot be compared.")
    hosted: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in await _hosted_findings():
        for site in row["sites"]:
            hosted[site].append(row)
    profiles = await _profiles(sorted(hosted))
    target = {**district["profile"], "district_id": district_id}
    candidates = [
        profile for site, profile in profiles.items() if site != district_id and profile["verified"]
    ]
    matches = []
    for distance, profile in rank_similar(target, candidates, limit):
        matches.append(
            {
                "district_id": profile["district_id"],
                "name": profile["name"],
                "state": profile["state"],
                "distance": distance,
                "why": words.likeness(
                    locale=profile["locale"],
                    your_locale=target["locale"],
                    band=enrollment_band(profile["enrollment"]),
                    your_band=enrollment_band(target["enrollment"]),
                    frl=profile["frl_share"],
                    your_frl=target["frl_share"],
                    el=profile["el_share"],
                    your_el=target["el_share"],
                ),
                "findings": [
                    {
                        "finding_id": row["id"],
                        "pilot_id": row["pilot_id"],
                        "title": row["title"],
                        "product": row["product"],
                        "product_id": row["product_id"],
                        "headline": row["headline"],
                    }
                    for row in hosted[profile["district_id"]]
                ],
            }
        )
    return SimilarDistricts(district=district, matches=matches)


# Every pilot's latest published finding without its results document, which is read only for
# findings this worker has not seen: their site districts and headline are kept by (finding id,
# when it was computed), since a computed finding never changes.
HOSTED_SQL = """
SELECT f.id, f.pilot AS pilot_id, f.computed_at, f.retracted_at, p.title,
       p.product AS product_id, product.name AS product
FROM finding f JOIN pilot p ON p.id = f.pilot JOIN product ON product.id = p.product
WHERE f.published_at IS NOT NULL ORDER BY f.published_at, f.id
"""
_hosted: dict[tuple[int, str], tuple[list[int], str]] = {}


async def _hosted_findings() -> list[dict[str, Any]]:
    """The unretracted latest published finding of each pilot, with its site districts and its
    headline on the primary outcome."""
    latest: dict[int, dict[str, Any]] = {}
    for row in await Finding.raw(HOSTED_SQL):
        latest[row["pilot_id"]] = row
    rows = [row for row in latest.values() if row["retracted_at"] is None]
    keys = {row["id"]: (row["id"], str(row["computed_at"])) for row in rows}
    missing = [row for row in rows if keys[row["id"]] not in _hosted]
    for start in range(0, len(missing), 200):
        chunk = {row["id"]: row for row in missing[start : start + 200]}
        found = await Finding.select(Finding.id, Finding.results, Finding.published_at).where(
            Finding.id.is_in(list(chunk))
        )
        for each in found:
            row = {**chunk[each["id"]], **each, "retraction_reason": ""}
            sites = [site["site_id"] for site in results_of(row).get("site_counts", [])]
            _hosted[keys[each["id"]]] = (sites, _estimate_headline(row))
    return [
        {**row, "sites": _hosted[keys[row["id"]]][0], "headline": _hosted[keys[row["id"]]][1]}
        for row in sorted(rows, key=lambda row: row["pilot_id"])
        if keys[row["id"]] in _hosted
    ]


def _estimate_headline(row: dict[str, Any]) -> str:
    pilot = _estimate(row)
    if pilot.estimate is None:
        return "No effect estimate on the primary outcome."
    low, high = pilot.ci
    return (
        f"{pilot.outcome}: {number(pilot.estimate)} SD "
        f"(95 % CI {number(low)} to {number(high)}; positive = better)"
    )
