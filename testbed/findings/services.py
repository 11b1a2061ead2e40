"""Findings: run the registered analysis, store it, and carry it through approval to
publication (or retraction). Every function checks who is asking, even behind a guard."""

from __future__ import annotations

import csv
import datetime
import functools
import hashlib
import io
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from testbed import audit
from testbed.access import PilotAccess, access_to_pilot, pilot_access
from testbed.auth import Principal
from testbed.catalog.services import change_pilot_status
from testbed.designs.services import registered_design
from testbed.errors import Conflict, Forbidden, InvalidInput, NotFound
from testbed.findings import disclosure, plot_store, plots, words
from testbed.findings.compute import (
    DatasetInput,
    DesignInput,
    Inputs,
    canonical_json,
    compute_results,
    student_table,
)
from testbed.inputs import InputReader
from testbed.tables import (
    Assignment,
    Dataset,
    DesignVersion,
    Enrollment,
    Finding,
    FindingApproval,
    Observation,
    Organization,
    Pilot,
    PilotDecision,
    SummaryRow,
)
from testbed.uploads.services import site_arm_counts

RUN_STATUSES = frozenset({"active", "analysis"})
DECISIONS = {
    "adopt": "Adopt it",
    "extend": "Extend the pilot",
    "stop": "Stop",
    "undecided": "Not decided yet",
}
APPROVAL_DECISIONS = ("approve", "withhold")


# --- who may do what ------------------------------------------------------------------------


def may_run(access: PilotAccess) -> bool:
    return access.is_network_admin or access.is_vendor or access.is_researcher


def is_participant(access: PilotAccess) -> bool:
    return may_run(access) or access.is_site_district


# The finding with the pilot's columns its access check and page need, in one statement (raw
# SQL: this runs on every view of a finding, and building the joined select with the ORM costs
# more than running it).
FINDING_WITH_PILOT_SQL = """
SELECT finding.*, pilot.status AS pilot_status, product.vendor AS pilot_vendor_id,
       pilot.title AS pilot_title, product.name AS pilot_product
  FROM finding
  JOIN pilot ON pilot.id = finding.pilot
  JOIN product ON product.id = pilot.product
 WHERE finding.id = {}
"""


FindingRead = tuple[dict, PilotAccess, dict[str, str]]


async def read_finding(principal: Principal | None, finding_id: int) -> FindingRead:
    """`finding_access`, plus the pilot's title and product name (read in the same query)."""
    rows = await Finding.raw(FINDING_WITH_PILOT_SQL, finding_id)
    if not rows:
        raise NotFound("There is no such finding.")
    finding = rows[0]
    status, vendor_id = finding.pop("pilot_status"), finding.pop("pilot_vendor_id")
    pilot = {"title": finding.pop("pilot_title"), "product": finding.pop("pilot_product")}
    try:
        access = await access_to_pilot(principal, finding["pilot"], status, vendor_id)
    except NotFound:
        access = None
    if finding["published_at"] is not None:
        if access is None:
            # A published finding is public even if its pilot's page is not (yet).
            access = PilotAccess(pilot_id=finding["pilot"], status=status, vendor_id=vendor_id)
        return finding, access, pilot
    if access is None or not is_participant(access):
        raise NotFound("There is no such finding.")
    return finding, access, pilot


async def finding_access(principal: Principal | None, finding_id: int) -> tuple[dict, PilotAccess]:
    """The finding and the viewer's access to its pilot; 404 for anyone who may not read it.

    Published findings are public; before publication only the pilot's participants read them.
    """
    finding, access, _ = await read_finding(principal, finding_id)
    return finding, access


# --- inputs ---------------------------------------------------------------------------------


async def _registered_history(pilot_id: int) -> list[DesignInput]:
    rows = (
        await DesignVersion.select()
        .where((DesignVersion.pilot == pilot_id) & DesignVersion.registered_at.is_not_null())
        .order_by(DesignVersion.version)
        .output(load_json=True)
    )
    return [_design_input(row) for row in rows]


def _design_input(row: dict[str, Any]) -> DesignInput:
    return DesignInput(
        id=row["id"],
        version=row["version"],
        document=row["document"],
        registered_at=row["registered_at"].isoformat(),
        amendment_reason=row["amendment_reason"] or "",
    )


async def site_ids(pilot_id: int) -> list[int]:
    rows = await Enrollment.select(Enrollment.district).where(
        (Enrollment.pilot == pilot_id) & (Enrollment.status == "site")
    )
    return sorted(row["district"] for row in rows)


async def current_datasets(pilot_id: int, excluded: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    sites = [site for site in await site_ids(pilot_id) if site not in excluded]
    return (
        await Dataset.select(Dataset.id, Dataset.site, Dataset.kind, Dataset.uploaded_at)
        .where(
            (Dataset.pilot == pilot_id)
            & Dataset.is_current.eq(True)
            & Dataset.site.is_in(sites or [-1])
        )
        .order_by(Dataset.id)
    )


async def analysis_inputs(pilot_id: int, design_id: int, datasets: list[dict[str, Any]]) -> Inputs:
    """Everything the analysis reads: the design version used, the registration history, the
    current datasets with their rows (sorted, so sums come out the same every time)."""
    history = await _registered_history(pilot_id)
    dataset_ids = [row["id"] for row in datasets]
    site_of = {row["id"]: row["site"] for row in datasets}
    observations = (
        await Observation.select(
            Observation.dataset,
            Observation.student_key,
            Observation.cluster,
            Observation.arm,
            Observation.frl,
            Observation.el,
            Observation.swd,
            Observation.gender,
            Observation.race_ethnicity,
            Observation.baseline,
            Observation.dosage,
            Observation.outcomes,
        )
        .where(Observation.dataset.is_in(dataset_ids or [-1]))
        .order_by(Observation.dataset)
        .order_by(Observation.student_key)
        .output(load_json=True)
    )
    summaries = (
        await SummaryRow.select()
        .where(SummaryRow.dataset.is_in(dataset_ids or [-1]))
        .order_by(SummaryRow.dataset)
        .order_by(SummaryRow.arm)
        .order_by(SummaryRow.outcome)
    )
    design = next(version for version in history if version.id == design_id)
    arm_counts = await site_arm_counts(
        pilot_id, {"document": design.document}, [{**row, "is_current": True} for row in datasets]
    )
    clusters_by_site: dict[int, int] = {}
    if design.document.get("unit_of_assignment", "student") != "student":
        for row in (
            await Assignment.select(Assignment.site, Assignment.arms)
            .where(Assignment.pilot == pilot_id)
            .order_by(Assignment.id)
            .output(load_json=True)
        ):
            clusters_by_site[row["site"]] = len(row["arms"])  # the latest draw per site
    return Inputs(
        design=design,
        history=history,
        datasets=[
            DatasetInput(
                id=row["id"],
                site_id=row["site"],
                kind=row["kind"],
                uploaded_at=row["uploaded_at"].isoformat(),
            )
            for row in datasets
        ],
        students=student_table(observations, site_of),
        summaries=[{**row, "site_id": site_of[row["dataset"]]} for row in summaries],
        randomized_by_site={
            site: {arm: counts.randomized for arm, counts in by_arm.items()}
            for site, by_arm in arm_counts.items()
        },
        clusters_by_site=clusters_by_site,
    )


# --- running --------------------------------------------------------------------------------


async def pilot_words(pilot_id: int) -> dict[str, str]:
    row = (
        await Pilot.select(Pilot.title, Pilot.product.name.as_alias("product"))
        .where(Pilot.id == pilot_id)
        .first()
    )
    return {"title": row["title"], "product": row["product"]}


async def compute_finding(pilot_id: int, design_id: int, datasets: list[dict[str, Any]]) -> Finding:
    """The finding of these datasets analyzed as this design version registered, not stored
    yet: its results document and headline, nothing about who ran or published it."""
    results = compute_results(await analysis_inputs(pilot_id, design_id, datasets))
    names = await pilot_words(pilot_id)
    return Finding(
        pilot=pilot_id,
        design_version=design_id,
        dataset_ids=json.dumps(sorted(row["id"] for row in datasets)),
        results=canonical_json(results),
        headline=words.headline(results, names["product"]),
    )


async def run_finding(principal: Principal, pilot_id: int) -> int:
    """Analyze the current data as registered; returns the finding's id.

    A finding with the same design version, datasets and numbers is returned as it is, so
    running twice on the same inputs gives one finding, not two.
    """
    access = await pilot_access(principal, pilot_id)
    if not may_run(access):
        raise Forbidden("Only the pilot's vendor, its researchers or a network admin run analyses.")
    if access.status not in RUN_STATUSES:
        raise Conflict(
            f"This pilot is {access.status}: analyses run while a pilot is active or in analysis."
        )
    design = await registered_design(pilot_id)
    if design is None:
        raise Conflict("This pilot has no registered design, so there is no plan to analyze by.")
    datasets = await current_datasets(pilot_id)
    if not datasets:
        raise Conflict("No site has uploaded outcome data yet, so there is nothing to analyze.")
    finding = await compute_finding(pilot_id, design["id"], datasets)
    dataset_ids = sorted(row["id"] for row in datasets)
    existing = (
        await Finding.select(Finding.id, Finding.results)
        .where(
            (Finding.pilot == pilot_id)
            & (Finding.design_version == design["id"])
            & (Finding.variant == "full")
            & Finding.retracted_at.is_null()
        )
        .order_by(Finding.id, ascending=False)
    )
    for row in existing:
        stored_ids = sorted(json.loads(row["results"])["data"]["dataset_ids"])
        if stored_ids == dataset_ids and row["results"] == finding.results:
            return row["id"]
    finding.run_by = principal.user_id
    created = await Finding.insert(finding)
    finding_id = created[0]["id"]
    await audit.record(
        "finding.run",
        actor_id=principal.user_id,
        object_type="finding",
        object_id=finding_id,
        detail={"pilot": pilot_id, "design_version": design["id"], "datasets": dataset_ids},
    )
    await _draw_plots(finding_id)
    return finding_id


async def _draw_plots(finding_id: int) -> None:
    """Draw and store the finding's plots and its product's evidence plot now, so no reader
    waits for them. (Imported here: testbed.drawings reads findings through this module.)"""
    from testbed import drawings

    await drawings.after_change(finding_id)


# --- reading --------------------------------------------------------------------------------


def results_of(finding: dict[str, Any]) -> dict[str, Any]:
    return json.loads(finding["results"])


async def latest_finding(pilot_id: int) -> dict[str, Any] | None:
    return (
        await Finding.select()
        .where((Finding.pilot == pilot_id) & (Finding.variant == "full"))
        .order_by(Finding.id, ascending=False)
        .first()
    )


async def public_variant_id(finding_id: int) -> int | None:
    row = await Finding.select(Finding.id).where(Finding.source == finding_id).first()
    return None if row is None else row["id"]


async def site_names(ids: list[int]) -> dict[int, str]:
    rows = await Organization.select(Organization.id, Organization.name).where(
        Organization.id.is_in(ids or [-1])
    )
    return {row["id"]: row["name"] for row in rows}


async def published_findings() -> list[dict[str, Any]]:
    """Every published finding, newest first: null, negative and retracted ones included."""
    return (
        await Finding.select(
            Finding.id,
            Finding.headline,
            Finding.published_at,
            Finding.retracted_at,
            Finding.pilot.id.as_alias("pilot_id"),
            Finding.pilot.title.as_alias("pilot_title"),
            Finding.pilot.product.name.as_alias("product"),
        )
        .where(Finding.published_at.is_not_null())
        .order_by(Finding.published_at, ascending=False)
    )


# --- approval, publication, retraction -----------------------------------------------------


@dataclass(frozen=True)
class ApprovalState:
    vendor: str | None  # approve | withhold | None (not decided)
    sites: dict[int, str | None]  # site id -> decision
    embargo_until: datetime.date | None

    @property
    def withheld_sites(self) -> list[int]:
        return sorted(site for site, decision in self.sites.items() if decision == "withhold")

    def blocking_reason(self, today: datetime.date) -> str | None:
        if self.vendor is None:
            return "The vendor has not decided yet."
        if self.vendor == "withhold":
            return "The vendor has withheld its approval."
        waiting = [site for site, decision in self.sites.items() if decision is None]
        if waiting:
            return f"{len(waiting)} site district(s) have not decided yet."
        if len(self.withheld_sites) == len(self.sites):
            return "Every district withheld its site, so there is nothing to publish."
        if self.embargo_until is not None and today < self.embargo_until:
            return f"The finding is under embargo until {self.embargo_until.isoformat()}."
        return None


SITES_WITH_DATA_SQL = """
SELECT DISTINCT dataset.site
  FROM dataset
  JOIN enrollment ON enrollment.district = dataset.site
 WHERE enrollment.pilot = {{}} AND enrollment.status = 'site' AND dataset.id IN ({ids})
"""
DECISIONS_SQL = """
SELECT site, decision FROM finding_approval WHERE finding = {} ORDER BY id
"""


async def approval_state(
    finding: dict[str, Any], dataset_ids: list[int] | None = None
) -> ApprovalState:
    """Who has decided what; the sites are those whose data the finding used (`dataset_ids`,
    the results document's, when the caller has already read them)."""
    if dataset_ids is None:
        dataset_ids = json.loads(finding["results"])["data"]["dataset_ids"]
    # The pilot's site districts that sent data the finding used, and every decision so far:
    # raw SQL, as a finding's page runs both on every view of an unpublished finding.
    ids = [int(dataset_id) for dataset_id in dataset_ids] or [-1]
    sites_with_data = await Dataset.raw(
        SITES_WITH_DATA_SQL.format(ids=", ".join("{}" for _ in ids)), finding["pilot"], *ids
    )
    data_sites = sorted({row["site"] for row in sites_with_data})
    sites: dict[int, str | None] = {site: None for site in data_sites}
    vendor = None
    rows = await FindingApproval.raw(DECISIONS_SQL, finding["id"])
    for row in rows:  # the latest decision of each party wins
        if row["site"] is None:
            vendor = row["decision"]
        elif row["site"] in sites:
            sites[row["site"]] = row["decision"]
    return ApprovalState(vendor=vendor, sites=sites, embargo_until=finding["embargo_until"])


def _require_unpublished(finding: dict[str, Any]) -> None:
    if finding["published_at"] is not None:
        raise Conflict("This finding is already published.")
    if finding["variant"] != "full":
        raise Conflict("Decisions are made on the full finding, not on its public version.")


async def decide_approval(
    principal: Principal, finding_id: int, *, decision: str, site_id: int | None
) -> None:
    """The vendor decides for the whole finding (site_id None); a district for its site."""
    finding, access = await finding_access(principal, finding_id)
    _require_unpublished(finding)
    if decision not in APPROVAL_DECISIONS:
        raise InvalidInput(
            "Choose approve or withhold.",
            errors=[{"field": "decision", "message": "Choose approve or withhold."}],
        )
    if site_id is None and not access.is_vendor and len(access.site_district_ids) == 1:
        (site_id,) = access.site_district_ids
    if site_id is None:
        if not access.is_vendor:
            raise Forbidden("Only the pilot's vendor decides for the whole finding.")
    elif site_id not in access.site_district_ids:
        raise Forbidden("Only a member of that site's district decides for it.")
    await FindingApproval.insert(
        FindingApproval(
            finding=finding_id, site=site_id, decision=decision, decided_by=principal.user_id
        )
    )
    await audit.record(
        f"finding.{decision}",
        actor_id=principal.user_id,
        object_type="finding",
        object_id=finding_id,
        detail={"site": site_id},
    )


async def set_embargo(principal: Principal, finding_id: int, embargo: str) -> None:
    finding, access = await finding_access(principal, finding_id)
    _require_unpublished(finding)
    if not access.can_manage:
        raise Forbidden("Only the pilot's vendor or a network admin sets an embargo.")
    date = None
    if embargo.strip():
        try:
            date = datetime.date.fromisoformat(embargo.strip())
        except ValueError:
            message = "Give the date as YYYY-MM-DD, or leave it empty for no embargo."
            raise InvalidInput(
                message, errors=[{"field": "embargo_until", "message": message}]
            ) from None
    await Finding.update({Finding.embargo_until: date}).where(Finding.id == finding_id)
    await audit.record(
        "finding.embargo",
        actor_id=principal.user_id,
        object_type="finding",
        object_id=finding_id,
        detail={"embargo_until": None if date is None else date.isoformat()},
    )


def publish_blocker(
    state: ApprovalState, pilot_status: str, today: datetime.date | None = None
) -> str | None:
    """Why the finding cannot be published now, in words; None when it can. The page offers the
    publish button only when this is None, and publish() refuses with the same words."""
    reason = state.blocking_reason(today or datetime.datetime.now(datetime.UTC).date())
    if reason is None and pilot_status == "active":
        reason = (
            "The pilot is still active: a network administrator moves it to analysis once the "
            "data are in; then its finding can be published."
        )
    return reason


async def publish(principal: Principal, finding_id: int, today: datetime.date | None = None) -> int:
    """Publish once the vendor and every site district decided and any embargo has passed.

    Withheld sites are left out: a public variant is computed without their data and stored.
    Returns the id of the finding the public reads.
    """
    finding, access = await finding_access(principal, finding_id)
    _require_unpublished(finding)
    if not access.can_manage:
        raise Forbidden("Only the pilot's vendor or a network admin publishes a finding.")
    state = await approval_state(finding)
    reason = publish_blocker(state, access.status, today)
    if reason is not None:
        raise Conflict(f"This finding cannot be published yet. {reason}")
    now = datetime.datetime.now(datetime.UTC)
    public_id = finding_id
    withheld = state.withheld_sites
    async with Finding._meta.db.transaction():
        if withheld:
            public_id = await _store_public_variant(principal, finding, withheld, now)
        else:
            await Finding.update({Finding.published_at: now}).where(Finding.id == finding_id)
        if access.status == "analysis":
            await change_pilot_status(principal, finding["pilot"], "published")
    await audit.record(
        "finding.publish",
        actor_id=principal.user_id,
        object_type="finding",
        object_id=public_id,
        detail={"finding": finding_id, "withheld_sites": withheld},
    )
    await _draw_plots(public_id)
    return public_id


async def _store_public_variant(
    principal: Principal, finding: dict[str, Any], withheld: list[int], now: datetime.datetime
) -> int:
    """The finding recomputed without the withheld sites' data, stored as published."""
    datasets = (
        await Dataset.select(Dataset.id, Dataset.site, Dataset.kind, Dataset.uploaded_at)
        .where(
            Dataset.id.is_in(json.loads(finding["results"])["data"]["dataset_ids"])
            & Dataset.site.not_in(withheld)
        )
        .order_by(Dataset.id)
    )
    public = await compute_finding(finding["pilot"], finding["design_version"], datasets)
    public.variant = "public"
    public.source = finding["id"]
    public.excluded_sites = json.dumps(withheld)
    public.run_by = principal.user_id
    public.published_at = now
    created = await Finding.insert(public)
    return created[0]["id"]


async def retract(principal: Principal, finding_id: int, reason: str) -> None:
    finding, access = await finding_access(principal, finding_id)
    if not access.can_manage:
        raise Forbidden("Only the pilot's vendor or a network admin retracts a finding.")
    if finding["published_at"] is None:
        raise Conflict("Only a published finding can be retracted.")
    if finding["retracted_at"] is not None:
        raise Conflict("This finding was already retracted.")
    reason = reason.strip()
    if not reason:
        message = "Say why the finding is retracted: readers will see it."
        raise InvalidInput(message, errors=[{"field": "reason", "message": message}])
    await Finding.update(
        {
            Finding.retracted_at: datetime.datetime.now(datetime.UTC),
            Finding.retraction_reason: reason,
        }
    ).where(Finding.id == finding_id)
    await audit.record(
        "finding.retract",
        actor_id=principal.user_id,
        object_type="finding",
        object_id=finding_id,
        detail={"reason": reason},
    )
    await _draw_plots(finding_id)


# --- the district's decision after the pilot -----------------------------------------------


async def record_decision(
    principal: Principal, pilot_id: int, *, district_id: int | None, decision: str, reasons: str
) -> None:
    """A site district's decision; district_id may be left out by a member of only one."""
    access = await pilot_access(principal, pilot_id)
    if district_id is None and len(access.site_district_ids) == 1:
        (district_id,) = access.site_district_ids
    if district_id not in access.site_district_ids:
        raise Forbidden("Only a site district records its decision about the product.")
    reader = InputReader({"decision": decision, "reasons": reasons})
    if decision not in DECISIONS:
        reader.problem("decision", "Choose adopt, extend, stop or undecided.")
    if decision in ("adopt", "extend", "stop") and not reasons.strip():
        reader.problem("reasons", "Give the reasons for the decision.")
    reader.raise_problems(message="The decision needs fixing.")
    await PilotDecision.insert(
        PilotDecision(
            pilot=pilot_id,
            district=district_id,
            decision=decision,
            reasons=reasons.strip(),
            decided_by=principal.user_id,
        )
    )
    await audit.record(
        "pilot.decision",
        actor_id=principal.user_id,
        object_type="pilot",
        object_id=pilot_id,
        detail={"district": district_id, "decision": decision},
    )


async def decisions(pilot_id: int) -> list[dict[str, Any]]:
    """Each site district's latest decision."""
    rows = (
        await PilotDecision.select(
            PilotDecision.id,
            PilotDecision.district,
            PilotDecision.district.name.as_alias("district_name"),
            PilotDecision.decision,
            PilotDecision.reasons,
            PilotDecision.decided_at,
        )
        .where(PilotDecision.pilot == pilot_id)
        .order_by(PilotDecision.id)
    )
    latest = {row["district"]: row for row in rows}
    return sorted(latest.values(), key=lambda row: row["district_name"])


# --- what a viewer sees ---------------------------------------------------------------------


class Shown:
    """What one audience sees of one frozen finding: the results disclosed for it, the headline,
    what weakens the result and (drawn on first use, since downloads need none) the plots.

    A finding's results never change once stored, and disclosure depends only on the viewer's
    own site districts, so one Shown serves every request of the same audience; it is shared,
    so nothing may change it.
    """

    def __init__(self, results_text: str, own_sites: frozenset[int], product: str) -> None:
        raw = json.loads(results_text)
        self.sites: list[int] = [row["site_id"] for row in raw.get("site_counts", [])]
        self.dataset_ids: list[int] = raw["data"]["dataset_ids"]
        self.results = disclosure.disclose(raw, own_sites)
        self.headline = words.headline(self.results, product)
        self.weaknesses = words.weaknesses(self.results)
        self.why_different = words.why_estimates_differ(self.results)

    @functools.cached_property
    def _plot_calls(self) -> dict[str, Any]:
        """Each plot as (drawing, arguments), drawn only when `plots` is read."""
        results = self.results
        return {
            "distributions": {
                outcome["name"]: (plots.distribution, (outcome, f"dist-{index}"))
                for index, outcome in enumerate(results["outcomes"])
            },
            "effects": (
                plots.effects,
                (results["outcomes"], results["design"]["minimum_meaningful_effect"]),
            ),
            "subgroups": (
                plots.subgroups,
                (
                    results["subgroups"],
                    (words.primary_outcome(results) or {}).get("direction", "higher_is_better"),
                ),
            ),
        }

    @functools.cached_property
    def plot_keys(self) -> list[str]:
        """The keys the plots are stored under (testbed.drawings)."""
        calls = self._plot_calls
        each = [*calls["distributions"].values(), calls["effects"], calls["subgroups"]]
        return [drawing.key(*arguments) for drawing, arguments in each]

    @functools.cached_property
    def plots(self) -> dict[str, Any]:
        calls = self._plot_calls
        return {
            "distributions": {
                name: drawing(*arguments)
                for name, (drawing, arguments) in calls["distributions"].items()
            },
            "effects": calls["effects"][0](*calls["effects"][1]),
            "subgroups": calls["subgroups"][0](*calls["subgroups"][1]),
        }


SHOWN_CACHE_SIZE = 64  # per worker: a few audiences (outsiders, each site) of the findings read
_shown_cache: OrderedDict[tuple[int, str, frozenset[int], str], Shown] = OrderedDict()


def shown_to(finding: dict[str, Any], own_sites: frozenset[int], product: str) -> Shown:
    """The finding as an audience sees it, computed once per worker and kept in a bounded cache.

    The key holds everything the result depends on: the finding's id and the hash of its
    results document (a re-used id after a database reset, or a changed document, is another
    key), the viewer's own site districts (disclosure) and the product's name (headline).
    """
    digest = hashlib.sha256(finding["results"].encode()).hexdigest()
    key = (finding["id"], digest, frozenset(own_sites), product)
    shown = _shown_cache.get(key)
    if shown is None:
        shown = Shown(finding["results"], frozenset(own_sites), product)
        _shown_cache[key] = shown
        while len(_shown_cache) > SHOWN_CACHE_SIZE:
            _shown_cache.popitem(last=False)
    else:
        _shown_cache.move_to_end(key)
    return shown


@dataclass(frozen=True)
class FindingView:
    finding: dict[str, Any]
    access: PilotAccess
    shown: Shown
    pilot: dict[str, str]
    site_names: dict[int, str]
    withheld_sites: int
    approval: ApprovalState | None
    public_id: int | None
    source_id: int | None

    @property
    def results(self) -> dict[str, Any]:
        """Disclosed for this viewer (shared between requests: read, never change)."""
        return self.shown.results

    @property
    def headline(self) -> str:
        return self.shown.headline

    @property
    def weaknesses(self) -> list[str]:
        return self.shown.weaknesses

    @property
    def primary(self) -> dict[str, Any] | None:
        return words.primary_outcome(self.results)

    @property
    def can_manage(self) -> bool:
        return self.access.can_manage

    @property
    def approvable_sites(self) -> list[int]:
        """The viewer's own site districts that can still decide on this finding."""
        if self.approval is None:
            return []
        return sorted(site for site in self.approval.sites if site in self.access.site_district_ids)

    @property
    def publish_blocker(self) -> str | None:
        if self.approval is None:
            return None
        return publish_blocker(self.approval, self.access.status)


async def view_finding(
    principal: Principal | None, finding_id: int, read: FindingRead | None = None
) -> FindingView:
    """The finding as this viewer may see it. `read` is `read_finding`'s answer for this
    viewer and finding when the request's guard has just made it (a GET: nothing changed)."""
    if read is None or read[0]["id"] != finding_id:
        read = await read_finding(principal, finding_id)
    finding, access, pilot = read
    shown = shown_to(finding, access.site_district_ids, pilot["product"])
    # Its plots were drawn when it was computed or published (testbed.drawings): read, not
    # redrawn, by a worker that has not shown them yet.
    await plot_store.load(shown.plot_keys)
    withheld = json.loads(finding["excluded_sites"]) if finding["excluded_sites"] else []
    approval = None
    public_id = None
    if finding["variant"] == "full" and finding["published_at"] is None:
        approval = await approval_state(finding, shown.dataset_ids)
        public_id = await public_variant_id(finding_id)
    names = await site_names(shown.sites + list(approval.sites if approval else []))
    return FindingView(
        finding=finding,
        access=access,
        shown=shown,
        pilot=pilot,
        site_names=names,
        withheld_sites=len(withheld),
        approval=approval,
        public_id=public_id,
        source_id=finding["source"],
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_text(view: FindingView) -> str:
    """The key numbers as a table: one row per number, every text cell neutralized."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["pilot", "outcome", "group", "measure", "value"])
    title = view.pilot["title"]

    def row(outcome: str, group: str, measure: str, value: Any) -> None:
        shown = "suppressed (fewer than 10 students)" if value is None else value
        writer.writerow([neutralize(cell) for cell in (title, outcome, group, measure, shown)])

    for outcome in view.results["outcomes"]:
        label = outcome["label"]
        for arm, cell in outcome["arms"].items():
            for measure in ("n", "mean", "sd", "successes", "proportion"):
                if measure in cell:
                    row(label, arm, measure, cell[measure])
        effect = outcome["headline"]
        if effect is not None:
            g, low, high = words.better(outcome["direction"], effect["g"], effect["ci"])
            row(label, "", "effect size (SD, positive = better)", g)
            row(label, "", "95 % CI low", low)
            row(label, "", "95 % CI high", high)
            row(label, "", "p-value", effect["p"])
        if outcome["improvement_index"] is not None:
            row(label, "", "improvement index (percentile points)", outcome["improvement_index"])
    direction = (view.primary or {}).get("direction", "higher_is_better")
    for subgroup in view.results["subgroups"]:
        for level in subgroup["levels"]:
            group = f"{subgroup['label']}: {level['level']}"
            for arm in ("treatment", "control"):
                row(view.results["primary"], group, f"n ({arm})", level[arm]["n"])
            g = None if level["g"] is None else words.better(direction, level["g"], level["ci"])[0]
            row(view.results["primary"], group, "effect size (SD, positive = better)", g)
    return buffer.getvalue()


async def readable_findings(principal: Principal | None, pilot_id: int) -> list[dict[str, Any]]:
    """A pilot's findings: all of them for its participants, the published ones for others."""
    access = await pilot_access(principal, pilot_id)
    query = Finding.select(
        Finding.id,
        Finding.pilot.as_alias("pilot_id"),
        Finding.headline,
        Finding.variant,
        Finding.computed_at,
        Finding.published_at,
        Finding.retracted_at,
    ).where(Finding.pilot == pilot_id)
    if not is_participant(access):
        query = query.where(Finding.published_at.is_not_null())
    return await query.order_by(Finding.id, ascending=False)
