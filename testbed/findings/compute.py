"""The registered analysis, from rows to a results document: pure (no database, no clock).

`compute_results` takes what the database holds (the registered design, its history, the
current datasets with their rows or aggregates) and returns plain JSON data. Every number
comes from analysis/; this module only chooses which function applies, in the order the
registration planned, and records what it could not do and why. The same inputs give the same
document, byte for byte (`canonical_json`): rows arrive sorted, every list is built in a fixed
order, and nothing here reads the time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from analysis import bayes, evidence, multiplicity, wwc
from analysis.cluster_robust import intraclass_correlation
from analysis.comparisons import compare_binary, compare_continuous, compare_paired
from analysis.effect_sizes import cox_index, hedges_g, improvement_index, with_design_effect
from analysis.regression import ancova, clustered_impact, interaction_test
from testbed.vocabulary import SUBGROUP_WORDS

RESULTS_VERSION = 1
ARMS = ("treatment", "control")
RANDOMIZED_DESIGNS = ("rct", "cluster_rct")
HISTOGRAM_BINS = 20


@dataclass(frozen=True)
class DesignInput:
    id: int
    version: int
    document: dict[str, Any]
    registered_at: str  # ISO date-time, for the deviation sentences
    amendment_reason: str = ""


@dataclass(frozen=True)
class DatasetInput:
    id: int
    site_id: int
    kind: str  # students | aggregates
    uploaded_at: str


@dataclass
class StudentTable:
    """Student rows column by column (NaN where a number is missing)."""

    site: np.ndarray
    cluster: list[str]
    arm: np.ndarray
    baseline: np.ndarray
    dosage: np.ndarray
    subgroups: dict[str, list[str]]  # column -> label per student ("" when unknown)
    outcomes: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.arm)


@dataclass(frozen=True)
class Inputs:
    design: DesignInput
    history: Sequence[DesignInput]  # every registered version, oldest first
    datasets: Sequence[DatasetInput]
    students: StudentTable
    summaries: Sequence[dict[str, Any]]  # SummaryRow fields plus site_id
    # Site -> arm -> students randomized (the site's randomization, else its uploaded rows).
    randomized_by_site: dict[int, dict[str, int]] = field(default_factory=dict)
    # Site -> clusters it randomized through Testbed (cluster designs; for sites sending totals).
    clusters_by_site: dict[int, int] = field(default_factory=dict)


def canonical_json(results: dict[str, Any]) -> str:
    return json.dumps(results, sort_keys=True, separators=(",", ":"), allow_nan=False)


def student_table(rows: Sequence[dict[str, Any]], site_of_dataset: dict[int, int]) -> StudentTable:
    """Observation rows (already sorted) as columns."""
    names = sorted({name for row in rows for name in (row["outcomes"] or {})})

    def number(value: Any) -> float:
        return math.nan if value is None else float(value)

    def label(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    return StudentTable(
        site=np.array([site_of_dataset[row["dataset"]] for row in rows], dtype=np.int64),
        cluster=[f"{site_of_dataset[row['dataset']]}/{row['cluster']}" for row in rows],
        arm=np.array([row["arm"] for row in rows], dtype=object),
        baseline=np.array([number(row["baseline"]) for row in rows]),
        dosage=np.array([number(row["dosage"]) for row in rows]),
        subgroups={column: [label(row[column]) for row in rows] for column in SUBGROUP_WORDS},
        outcomes={
            name: np.array([number((row["outcomes"] or {}).get(name)) for row in rows])
            for name in names
        },
    )


# --- small helpers ------------------------------------------------------------------------


def _attempt(notes: list[str], what: str, function: Callable[[], Any]) -> Any:
    """Run one analysis step; an impossible input becomes a sentence, never an error page."""
    try:
        return function()
    except ValueError as error:
        notes.append(f"{what} could not be computed: {error}.")
        return None


def _effect(effect: Any) -> dict[str, Any] | None:
    if effect is None:
        return None
    return {
        "g": effect.g,
        "se": effect.se,
        "variance": effect.variance,
        "ci": list(effect.ci),
        "n_t": effect.n_t,
        "n_c": effect.n_c,
        "method": effect.method,
    }


def _test(test: Any) -> dict[str, Any] | None:
    if test is None:
        return None
    return {"name": test.name, "statistic": test.statistic, "df": test.df, "p": test.p}


def _describe(values: np.ndarray) -> dict[str, Any]:
    if values.size == 0:
        return {"n": 0, "mean": None, "sd": None, "median": None, "min": None, "max": None}
    sd = float(values.std(ddof=1)) if values.size > 1 else None
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "sd": sd,
        "median": float(np.median(values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _pool_arm(parts: Sequence[tuple[int, float, float]]) -> tuple[int, float, float]:
    """Combine (n, mean, sd) of several groups into one (exact, from the group moments)."""
    n = sum(part[0] for part in parts)
    mean = sum(part[0] * part[1] for part in parts) / n
    squares = sum((k - 1) * sd**2 + k * (m - mean) ** 2 for k, m, sd in parts)
    return n, mean, math.sqrt(squares / (n - 1))


def _normal_p(estimate: float, se: float) -> float:
    return 2.0 * float(stats.norm.sf(abs(estimate) / se))


def _histogram(treatment: np.ndarray, control: np.ndarray) -> dict[str, Any] | None:
    both = np.concatenate([treatment, control])
    if both.size == 0 or float(both.min()) == float(both.max()):
        return None
    edges = np.linspace(float(both.min()), float(both.max()), HISTOGRAM_BINS + 1)
    return {
        "edges": [float(edge) for edge in edges],
        "treatment": [int(count) for count in np.histogram(treatment, edges)[0]],
        "control": [int(count) for count in np.histogram(control, edges)[0]],
    }


# --- the analysis ---------------------------------------------------------------------------


class _Analysis:
    def __init__(self, inputs: Inputs):
        self.inputs = inputs
        self.document = inputs.design.document
        self.design_type = self.document.get("design_type", "rct")
        self.students = inputs.students
        self.notes: list[str] = []
        self.deviations: list[str] = []
        plan = self.document.get("analysis_plan") or {}
        self.alpha = float(plan.get("alpha", 0.05))
        self.mme = float(self.document.get("minimum_meaningful_effect") or 0.1)
        self.icc = float(self.document.get("icc") or 0.2)
        self.boundary = plan.get("attrition_boundary", "cautious")
        self.uses_baseline = bool(self.document.get("baseline_measure"))
        # Outcomes whose headline estimate adjusted for the baseline (its sample needs both).
        self.baseline_adjusted: set[str] = set()
        self.n_sites = len({dataset.site_id for dataset in inputs.datasets})
        self.aggregate_sites = sorted(
            {dataset.site_id for dataset in inputs.datasets if dataset.kind == "aggregates"}
        )
        self.student_sites = sorted(
            {dataset.site_id for dataset in inputs.datasets if dataset.kind != "aggregates"}
        )

    # outcomes planned and found
    def outcome_specs(self) -> list[dict[str, Any]]:
        planned = [dict(outcome, planned=True) for outcome in self.document.get("outcomes", [])]
        planned_names = {outcome["name"] for outcome in planned}
        found = set(self.students.outcomes) | {row["outcome"] for row in self.inputs.summaries}
        for name in sorted(found - planned_names):
            values = self.students.outcomes.get(name, np.array([]))
            observed = values[~np.isnan(values)]
            binary = observed.size > 0 and bool(np.isin(observed, (0.0, 1.0)).all())
            planned.append(
                {
                    "name": name,
                    "label": name.replace("_", " "),
                    "kind": "binary" if binary else "continuous",
                    "primary": False,
                    "direction": "higher_is_better",
                    "planned": False,
                }
            )
            self.deviations.append(
                f"The data include an outcome, “{name}”, that the registered design does not "
                "list; it was analyzed as exploratory, outside the plan."
            )
        for outcome in planned:
            if outcome["planned"] and outcome["name"] not in found:
                self.deviations.append(
                    f"The registered outcome “{outcome['label']}” has no data, so it could not "
                    "be analyzed as planned."
                )
        return [outcome for outcome in planned if outcome["name"] in found]

    def design_deviations(self) -> None:
        history = list(self.inputs.history)
        first, used = history[0], self.inputs.design
        primary_of = {
            version.version: next(
                (o["name"] for o in version.document.get("outcomes", []) if o.get("primary")),
                None,
            )
            for version in history
        }
        if primary_of[first.version] != primary_of[used.version]:
            self.deviations.append(
                f"The primary outcome was changed from “{primary_of[first.version]}” "
                f"(version {first.version}) to “{primary_of[used.version]}” (version "
                f"{used.version})"
                + (f": {used.amendment_reason}" if used.amendment_reason else ".")
            )
        first_upload = min((dataset.uploaded_at for dataset in self.inputs.datasets), default="")
        for version in history[1:]:
            if first_upload and version.registered_at > first_upload:
                self.deviations.append(
                    f"Version {version.version} of the design was registered on "
                    f"{version.registered_at[:10]}, after outcome data arrived "
                    f"({first_upload[:10]})."
                )
        covariates = (self.document.get("analysis_plan") or {}).get("covariates") or []
        for covariate in covariates:
            if covariate != "baseline":
                self.deviations.append(
                    f"The plan lists the covariate “{covariate}”, which the data do not carry; "
                    "the model was fitted without it."
                )
        if self.uses_baseline and np.isnan(self.students.baseline).all() and len(self.students):
            self.deviations.append(
                "The plan adjusts for a baseline, but the data have no baseline scores, so the "
                "impact estimate is unadjusted."
            )

    # one outcome
    def arm_values(self, name: str, arm: str, mask: np.ndarray | None = None) -> np.ndarray:
        values = self.students.outcomes.get(name)
        if values is None:
            return np.array([])
        keep = (self.students.arm == arm) & ~np.isnan(values)
        if mask is not None:
            keep &= mask
        return values[keep]

    def randomized(self) -> dict[str, int]:
        counts = {arm: 0 for arm in ARMS}
        for by_arm in self.inputs.randomized_by_site.values():
            for arm in ARMS:
                counts[arm] += by_arm.get(arm, 0)
        return counts

    def analyzed_by_site(self, name: str) -> dict[int, dict[str, int]]:
        """Site -> arm -> students in this outcome's analytic sample: student rows with a value
        (and a baseline, when the estimate adjusted for it: the ANCOVA leaves the others out),
        or the n of a site's totals. Every site that counts in `randomized` counts here (WWC:
        the analytic sample is measured against the sample randomized, from the same sites).
        Data pages count the same way (testbed.uploads.services.counts.site_arm_counts)."""
        values = self.students.outcomes.get(name)
        if values is not None and name in self.baseline_adjusted:
            values = np.where(np.isnan(self.students.baseline), np.nan, values)
        counts: dict[int, dict[str, int]] = {}
        for dataset in sorted(self.inputs.datasets, key=lambda d: d.site_id):
            by_arm = {arm: 0 for arm in ARMS}
            if dataset.kind == "aggregates":
                for row in self.inputs.summaries:
                    mine = row["site_id"] == dataset.site_id and row["outcome"] == name
                    if mine and row["arm"] in by_arm:
                        by_arm[row["arm"]] += int(row["n"])
            elif values is not None:
                in_site = (self.students.site == dataset.site_id) & ~np.isnan(values)
                for arm in ARMS:
                    by_arm[arm] = int(np.count_nonzero(in_site & (self.students.arm == arm)))
            counts[dataset.site_id] = by_arm
        return counts

    def analyzed(self, name: str) -> dict[str, int]:
        return {
            arm: sum(by_arm[arm] for by_arm in self.analyzed_by_site(name).values()) for arm in ARMS
        }

    def summaries_for(self, name: str) -> dict[str, list[dict[str, Any]]]:
        by_arm: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
        for row in self.inputs.summaries:
            if row["outcome"] == name and row["arm"] in by_arm:
                by_arm[row["arm"]].append(row)
        return by_arm

    def analyze_outcome(self, spec: dict[str, Any]) -> dict[str, Any]:
        name, kind = spec["name"], spec["kind"]
        notes: list[str] = []
        sign = -1.0 if spec.get("direction") == "lower_is_better" else 1.0
        result: dict[str, Any] = {
            "name": name,
            "label": spec.get("label") or name,
            "kind": kind,
            "primary": bool(spec.get("primary")),
            "planned": bool(spec.get("planned")),
            "direction": spec.get("direction", "higher_is_better"),
            "unit": spec.get("unit", ""),
            "analyzed_as": None,
            "arms": {},
            "randomized": self.randomized(),
            "test": None,
            "sensitivity": None,
            "difference": None,
            "difference_ci": None,
            "effect": None,
            "ancova": None,
            "cluster": None,
            "all_sites_effect": None,
            "headline": None,
            "attrition": None,
            "posterior": None,
            "improvement_index": None,
            "bh_p": None,
            "histogram": None,
            "notes": notes,
        }
        if self.design_type == "pre_post":
            self.analyze_paired(spec, result, notes)
        elif not self.student_sites:
            self.analyze_aggregates(spec, result, notes)
        elif kind == "binary":
            self.analyze_binary(spec, result, notes)
        else:
            if kind == "count":
                notes.append(
                    "A count (such as days absent) is compared as a continuous score: the "
                    "difference in means, with Welch's t test."
                )
            self.analyze_continuous(spec, result, notes)
        if self.student_sites and self.aggregate_sites and self.design_type != "pre_post":
            self.add_all_sites_effect(spec, result, notes)
        headline = result["headline"]
        if headline is not None:
            favourable = sign * headline["g"]
            headline["favourable_g"] = favourable
            result["improvement_index"] = improvement_index(favourable)
            posterior = _attempt(
                notes,
                "The probability reading",
                lambda: bayes.posterior(estimate=favourable, se=headline["se"], threshold=self.mme),
            )
            if posterior is not None:
                result["posterior"] = {
                    "mean": posterior.mean,
                    "sd": posterior.sd,
                    "ci": list(posterior.ci),
                    "prob_positive": posterior.prob_positive,
                    "prob_above_threshold": posterior.prob_above_threshold,
                    "prob_below_negative_threshold": posterior.prob_below_negative_threshold,
                    "threshold": posterior.threshold,
                    "prior_mean": posterior.prior_mean,
                    "prior_sd": posterior.prior_sd,
                }
        if self.design_type in RANDOMIZED_DESIGNS:
            self.add_attrition(result, notes)
        return result

    def analyze_continuous(
        self, spec: dict[str, Any], result: dict[str, Any], notes: list[str]
    ) -> None:
        name = spec["name"]
        treatment = self.arm_values(name, "treatment")
        control = self.arm_values(name, "control")
        result["analyzed_as"] = "continuous"
        result["arms"] = {"treatment": _describe(treatment), "control": _describe(control)}
        result["histogram"] = _histogram(treatment, control)
        comparison = _attempt(
            notes, "The comparison", lambda: compare_continuous(treatment, control)
        )
        if comparison is None:
            return
        result["test"] = _test(comparison.test)
        result["sensitivity"] = _test(comparison.sensitivity)
        result["difference"] = comparison.difference
        result["difference_ci"] = list(comparison.ci)
        result["effect"] = _effect(comparison.effect_size)
        if (comparison.test.p < self.alpha) != (comparison.sensitivity.p < self.alpha):
            notes.append(
                "Welch's t test and the rank-sum test disagree about statistical significance: "
                "read the effect with care (skewed scores or outliers)."
            )
        effect = comparison.effect_size
        headline = {
            "g": effect.g,
            "se": effect.se,
            "ci": list(effect.ci),
            "p": comparison.test.p,
            "source": "unadjusted",
        }
        if self.design_type == "cluster_rct":
            result["headline"] = self.clustered_continuous(name, result, notes)
            return
        adjusted = self.run_ancova(name, notes)
        if adjusted is not None:
            result["ancova"] = adjusted
            self.baseline_adjusted.add(name)
            headline = {
                "g": adjusted["g"],
                "se": adjusted["g_se"],
                "ci": adjusted["g_ci"],
                "p": adjusted["p"],
                "source": "ancova",
            }
        result["headline"] = headline

    def run_ancova(self, name: str, notes: list[str]) -> dict[str, Any] | None:
        if not self.uses_baseline:
            return None
        values = self.students.outcomes[name]
        keep = (
            ~np.isnan(values) & ~np.isnan(self.students.baseline) & np.isin(self.students.arm, ARMS)
        )
        if not keep.any():
            return None
        treated = (self.students.arm[keep] == "treatment").astype(np.float64)
        sites = self.students.site[keep] if len(self.student_sites) > 1 else None
        fitted = _attempt(
            notes,
            "The ANCOVA adjusted for the baseline",
            lambda: ancova(
                values[keep], treated, {"baseline": self.students.baseline[keep]}, sites=sites
            ),
        )
        if fitted is None:
            return None
        return {
            "coefficient": fitted.coefficient,
            "se": fitted.se,
            "t": fitted.t,
            "df": fitted.df,
            "p": fitted.p,
            "ci": list(fitted.ci),
            "g": fitted.effect_size.g,
            "g_se": fitted.effect_size.se,
            "g_ci": list(fitted.effect_size.ci),
            "baseline_coefficient": fitted.covariate_coefficients["baseline"],
            "n": fitted.n,
            "n_sites": fitted.n_sites,
            "site_fixed_effects": sites is not None,
            "r_squared": fitted.r_squared,
        }

    def cluster_groups(self, keep: np.ndarray) -> np.ndarray | None:
        """Site of each kept student when several sites sent rows (their fixed effects)."""
        return self.students.site[keep] if len(self.student_sites) > 1 else None

    def clustered_continuous(
        self, name: str, result: dict[str, Any], notes: list[str]
    ) -> dict[str, Any] | None:
        """Clusters assigned, student rows at hand: OLS with the baseline (when registered)
        and site fixed effects, CR2 cluster-robust SE with Satterthwaite df, WWC cluster g."""
        values = self.students.outcomes[name]
        keep = ~np.isnan(values) & np.isin(self.students.arm, ARMS)
        with_baseline = self.uses_baseline and not np.isnan(self.students.baseline[keep]).all()
        if with_baseline:
            keep &= ~np.isnan(self.students.baseline)
            self.baseline_adjusted.add(name)
        clusters = np.array(self.students.cluster, dtype=object)[keep]
        sites = self.cluster_groups(keep)
        fitted = _attempt(
            notes,
            "The cluster-robust analysis",
            lambda: clustered_impact(
                values[keep],
                (self.students.arm[keep] == "treatment").astype(np.float64),
                clusters,
                {"baseline": self.students.baseline[keep]} if with_baseline else None,
                sites=sites,
            ),
        )
        if fitted is None:
            return None
        effect = fitted.effect_size
        if with_baseline:
            result["ancova"] = {
                "coefficient": fitted.coefficient,
                "se": fitted.se,
                "t": fitted.t,
                "df": fitted.df,
                "p": fitted.p,
                "ci": list(fitted.ci),
                "g": effect.g,
                "g_se": effect.se,
                "g_ci": list(effect.ci),
                "baseline_coefficient": fitted.covariate_coefficients["baseline"],
                "n": fitted.n,
                "n_sites": fitted.n_sites,
                "site_fixed_effects": sites is not None,
                "r_squared": fitted.r_squared,
                "se_method": "CR2",
            }
        result["cluster"] = {
            "method": "cr2",
            "t": fitted.t,
            "df": fitted.df,
            "p": fitted.p,
            "se": fitted.se,
            "coefficient": fitted.coefficient,
            "ci": list(fitted.ci),
            "n_clusters": fitted.n_clusters,
            "average_cluster_size": fitted.average_cluster_size,
            "icc": fitted.icc,
            "icc_source": "estimated",
            "gamma": fitted.gamma,
            "adjusted_for_baseline": with_baseline,
        }
        return {
            "g": effect.g,
            "se": effect.se,
            "ci": list(effect.ci),
            "p": fitted.p,
            "source": ("ancova" if with_baseline else "ols") + "+cr2",
        }

    def clustered_binary(
        self, name: str, effect: Any, result: dict[str, Any], notes: list[str]
    ) -> dict[str, Any] | None:
        """Clusters assigned, a binary outcome: the Cox index with its variance times the
        design effect 1 + (n0 - 1) ICC, the ICC estimated from the outcome within arm."""
        values = self.students.outcomes[name]
        keep = ~np.isnan(values) & np.isin(self.students.arm, ARMS)
        arms = self.students.arm[keep]
        sites = self.cluster_groups(keep)
        groups = arms if sites is None else np.char.add(arms.astype(str), sites.astype(str))
        estimated = _attempt(
            notes,
            "The intraclass correlation",
            lambda: intraclass_correlation(
                values[keep], np.array(self.students.cluster, dtype=object)[keep], groups
            ),
        )
        if estimated is None:
            return None
        design_effect = 1.0 + (estimated.average_cluster_size - 1.0) * estimated.icc
        adjusted = with_design_effect(effect, max(1.0, design_effect))
        p = _normal_p(adjusted.g, adjusted.se)
        result["cluster"] = {
            "method": "design_effect",
            "t": adjusted.g / adjusted.se,
            "df": None,
            "p": p,
            "se": adjusted.se,
            "n_clusters": estimated.n_clusters,
            "average_cluster_size": estimated.average_cluster_size,
            "icc": estimated.icc,
            "icc_source": "estimated",
            "design_effect": max(1.0, design_effect),
        }
        return {
            "g": adjusted.g,
            "se": adjusted.se,
            "ci": list(adjusted.ci),
            "p": p,
            "source": "cox+design_effect",
        }

    def cluster_correct(
        self, headline: dict[str, Any], result: dict[str, Any], n_t: int, n_c: int
    ) -> dict[str, Any]:
        """Cluster-randomized, but only totals per group arrived: the WWC (Hedges 2007)
        correction with the registered ICC and the clusters the sites randomized.

        The correction shrinks t by a factor that does not depend on g and sets the degrees of
        freedom h; the interval uses the same factor and h, so it agrees with the p-value."""
        counts = [self.inputs.clusters_by_site.get(site) for site in self.aggregate_sites]
        if None in counts:
            result["notes"].append(
                "Whole classrooms or schools were assigned, but the sites that sent totals did "
                "not randomize through Testbed, so their number of clusters is unknown and the "
                "clustering correction could not be applied: the interval is too narrow."
            )
            return headline
        n_clusters = sum(count for count in counts if count is not None)
        corrected = _attempt(
            result["notes"],
            "The clustering correction",
            lambda: wwc.cluster_adjusted(headline["g"], n_t, n_c, n_clusters, icc=self.icc),
        )
        if corrected is None:
            return headline
        unit = wwc.cluster_adjusted(1.0, n_t, n_c, n_clusters, icc=self.icc)
        factor = unit.t / unit.t_unadjusted
        se = math.sqrt((n_t + n_c) / (n_t * n_c)) / factor
        half_width = float(stats.t.ppf(0.975, corrected.df)) * se
        result["cluster"] = {
            "method": "wwc",
            "t": corrected.t,
            "df": corrected.df,
            "p": corrected.p,
            "t_unadjusted": corrected.t_unadjusted,
            "average_cluster_size": corrected.average_cluster_size,
            "icc": corrected.icc,
            "icc_source": "registered",
            "n_clusters": n_clusters,
            "se": se,
        }
        return {
            "g": headline["g"],
            "se": se,
            "ci": [headline["g"] - half_width, headline["g"] + half_width],
            "p": corrected.p,
            "source": headline["source"] + "+cluster",
        }

    def analyze_binary(
        self, spec: dict[str, Any], result: dict[str, Any], notes: list[str]
    ) -> None:
        name = spec["name"]
        treatment = self.arm_values(name, "treatment")
        control = self.arm_values(name, "control")
        result["analyzed_as"] = "binary"
        result["arms"] = {
            arm: {"n": int(values.size), "successes": int(values.sum()),
                  "proportion": float(values.mean()) if values.size else None}
            for arm, values in (("treatment", treatment), ("control", control))
        }  # fmt: skip
        comparison = _attempt(
            notes,
            "The comparison",
            lambda: compare_binary(
                int(treatment.sum()), int(treatment.size), int(control.sum()), int(control.size)
            ),
        )
        if comparison is None:
            return
        notes.extend(comparison.notes)
        result["test"] = _test(comparison.test)
        result["difference"] = comparison.difference
        result["difference_ci"] = list(comparison.ci)
        result["effect"] = _effect(comparison.effect_size)
        if comparison.effect_size is not None:
            effect = comparison.effect_size
            headline = {
                "g": effect.g,
                "se": effect.se,
                "ci": list(effect.ci),
                "p": comparison.test.p,
                "source": "cox",
            }
            if self.design_type == "cluster_rct":
                headline = self.clustered_binary(name, effect, result, notes)
            result["headline"] = headline

    def analyze_aggregates(
        self, spec: dict[str, Any], result: dict[str, Any], notes: list[str]
    ) -> None:
        by_arm = self.summaries_for(spec["name"])
        notes.append(
            "Every site shared only totals per group (no student rows), so the effect size comes "
            "from those totals; there is no adjustment for the baseline, no subgroup result and "
            "no rank-sum test."
        )
        if not all(by_arm[arm] for arm in ARMS):
            notes.append("Totals are missing for one group, so nothing could be compared.")
            return
        effect = None
        if spec["kind"] == "binary":
            n = {arm: sum(row["n"] for row in by_arm[arm]) for arm in ARMS}
            hits = {arm: sum(row["successes"] or 0 for row in by_arm[arm]) for arm in ARMS}
            result["analyzed_as"] = "binary (totals)"
            result["arms"] = {
                arm: {"n": n[arm], "successes": hits[arm], "proportion": hits[arm] / n[arm]}
                for arm in ARMS
                if n[arm]
            }
            comparison = _attempt(
                notes,
                "The comparison",
                lambda: compare_binary(
                    hits["treatment"], n["treatment"], hits["control"], n["control"]
                ),
            )
            if comparison is not None:
                result["test"] = _test(comparison.test)
                result["difference"] = comparison.difference
                result["difference_ci"] = list(comparison.ci)
                effect = comparison.effect_size
                if effect is not None:
                    effect = _attempt(
                        notes,
                        "The Cox index",
                        lambda: cox_index(
                            hits["treatment"] / n["treatment"],
                            hits["control"] / n["control"],
                            n["treatment"],
                            n["control"],
                        ),
                    )
                p = comparison.test.p
        else:
            pooled = {
                arm: _pool_arm([(row["n"], row["mean"], row["sd"]) for row in by_arm[arm]])
                for arm in ARMS
            }
            result["analyzed_as"] = "continuous (totals)"
            result["arms"] = {
                arm: {"n": pooled[arm][0], "mean": pooled[arm][1], "sd": pooled[arm][2]}
                for arm in ARMS
            }
            effect = _attempt(
                notes,
                "Hedges' g",
                lambda: hedges_g(
                    pooled["treatment"][1], pooled["treatment"][2], pooled["treatment"][0],
                    pooled["control"][1], pooled["control"][2], pooled["control"][0],
                ),
            )  # fmt: skip
            if effect is not None:
                p = _normal_p(effect.g, effect.se)
                result["test"] = {
                    "name": "normal test of the effect size (totals only)",
                    "statistic": effect.g / effect.se,
                    "df": None,
                    "p": p,
                }
                result["difference"] = pooled["treatment"][1] - pooled["control"][1]
        result["effect"] = _effect(effect)
        if effect is not None:
            headline = {
                "g": effect.g,
                "se": effect.se,
                "ci": list(effect.ci),
                "p": p,
                "source": "totals",
            }
            if self.design_type == "cluster_rct":
                headline = self.cluster_correct(headline, result, effect.n_t, effect.n_c)
            result["headline"] = headline

    def add_all_sites_effect(
        self, spec: dict[str, Any], result: dict[str, Any], notes: list[str]
    ) -> None:
        """Some sites sent only totals: one effect size over every site, from group totals."""
        by_arm = self.summaries_for(spec["name"])
        if spec["kind"] == "binary":
            notes.append(
                f"{len(self.aggregate_sites)} site(s) shared only totals per group: a yes/no "
                "outcome is compared on student rows only, so they are not in its results."
            )
            return
        if not all(by_arm[arm] for arm in ARMS):
            return
        parts: dict[str, list[tuple[int, float, float]]] = {}
        for arm in ARMS:
            values = self.arm_values(spec["name"], arm)
            rows = [(row["n"], row["mean"], row["sd"]) for row in by_arm[arm]]
            own = [(int(values.size), float(values.mean()), float(values.std(ddof=1)))]
            parts[arm] = own + rows if values.size > 1 else rows
        pooled = {arm: _pool_arm(parts[arm]) for arm in ARMS}
        effect = _attempt(
            notes,
            "The effect size over every site",
            lambda: hedges_g(
                pooled["treatment"][1], pooled["treatment"][2], pooled["treatment"][0],
                pooled["control"][1], pooled["control"][2], pooled["control"][0],
            ),
        )  # fmt: skip
        result["all_sites_effect"] = _effect(effect)
        notes.append(
            f"{len(self.aggregate_sites)} site(s) shared only totals per group: they are in the "
            "effect size over every site, but not in the tests, the ANCOVA or the subgroups."
        )

    def analyze_paired(
        self, spec: dict[str, Any], result: dict[str, Any], notes: list[str]
    ) -> None:
        name = spec["name"]
        values = self.students.outcomes.get(name, np.array([]))
        keep = ~np.isnan(values) & ~np.isnan(self.students.baseline)
        result["arms"] = {"treatment": _describe(values[~np.isnan(values)])}
        if spec["kind"] == "binary" or not spec.get("primary") or not keep.any():
            result["analyzed_as"] = "descriptive"
            notes.append("Without a comparison group this outcome is described, not tested.")
            return
        result["analyzed_as"] = "paired"
        paired = _attempt(
            notes,
            "The before/after comparison",
            lambda: compare_paired(self.students.baseline[keep], values[keep]),
        )
        if paired is None:
            return
        result["arms"]["baseline"] = _describe(self.students.baseline[keep])
        result["test"] = _test(paired.test)
        result["sensitivity"] = _test(paired.sensitivity)
        result["difference"] = paired.mean_change
        result["difference_ci"] = list(paired.ci)
        result["effect"] = _effect(paired.effect_size)
        effect = paired.effect_size
        result["headline"] = {
            "g": effect.g,
            "se": effect.se,
            "ci": list(effect.ci),
            "p": paired.test.p,
            "source": "paired",
        }
        notes.append(
            "A single group measured before and after: this is change over the pilot, not an "
            "effect of the product (growth that would have happened anyway is included)."
        )

    def add_attrition(self, result: dict[str, Any], notes: list[str]) -> None:
        randomized = result["randomized"]
        analyzed = self.analyzed(result["name"])
        rated = _attempt(
            notes,
            "Attrition",
            lambda: wwc.attrition(
                randomized["treatment"],
                analyzed["treatment"],
                randomized["control"],
                analyzed["control"],
                boundary=self.boundary,
            ),
        )
        if rated is not None:
            result["attrition"] = {
                "overall": rated.overall,
                "differential": rated.differential,
                "treatment": rated.treatment,
                "control": rated.control,
                "boundary": rated.boundary,
                "max_differential": rated.max_differential,
                "rating": rated.rating,
                "randomized": randomized,
                "analyzed": analyzed,
            }

    # whole-pilot parts
    def baseline_equivalence(self, primary: dict[str, Any]) -> dict[str, Any] | None:
        if self.design_type == "pre_post" or not self.uses_baseline or not self.student_sites:
            return None
        values = self.students.outcomes.get(primary["name"])
        if values is None:
            return None
        keep = ~np.isnan(values) & ~np.isnan(self.students.baseline)
        groups = {arm: self.students.baseline[keep & (self.students.arm == arm)] for arm in ARMS}
        compared = _attempt(
            self.notes,
            "Baseline equivalence",
            lambda: compare_continuous(groups["treatment"], groups["control"]),
        )
        if compared is None:
            return None
        g = compared.effect_size.g
        return {
            "g": g,
            "rating": wwc.baseline_equivalence(g),
            "mean_t": compared.treatment.mean,
            "mean_c": compared.control.mean,
            "n_t": compared.treatment.n,
            "n_c": compared.control.n,
            "adjusted": primary["ancova"] is not None,
        }

    def subgroups(self, primary: dict[str, Any]) -> list[dict[str, Any]]:
        if self.design_type == "pre_post" or not self.student_sites:
            return []
        name = primary["name"]
        values = self.students.outcomes.get(name)
        if values is None:
            return []
        results = []
        for column in self.document.get("subgroups", []):
            if column not in SUBGROUP_WORDS:
                continue
            labels = np.array(self.students.subgroups[column], dtype=object)
            keep = ~np.isnan(values) & np.isin(self.students.arm, ARMS) & (labels != "")
            notes: list[str] = []
            levels = []
            for level in sorted(set(labels[keep].tolist())):
                in_level = keep & (labels == level)
                treatment = values[in_level & (self.students.arm == "treatment")]
                control = values[in_level & (self.students.arm == "control")]
                entry: dict[str, Any] = {
                    "level": level,
                    "treatment": _describe(treatment),
                    "control": _describe(control),
                    "g": None,
                    "ci": None,
                    "p": None,
                }
                compared = None
                if min(treatment.size, control.size) >= 2:
                    compared = _attempt(
                        notes,
                        f"The effect for “{level}”",
                        lambda t=treatment, c=control: compare_continuous(t, c),
                    )
                if compared is not None:
                    entry["g"] = compared.effect_size.g
                    entry["ci"] = list(compared.effect_size.ci)
                    entry["p"] = compared.test.p
                levels.append(entry)
            testable = [
                entry["level"]
                for entry in levels
                if min(entry["treatment"]["n"], entry["control"]["n"]) >= 2
            ]
            left_out = [entry["level"] for entry in levels if entry["level"] not in testable]
            if left_out and len(testable) >= 2:
                # Naming the levels left out would say they hold 0 or 1 students in a group.
                notes.append(
                    "The interaction test compares the groups large enough to estimate an "
                    "effect; not every group shown is in it."
                )
            tested = keep & np.isin(labels, testable)
            interaction = _attempt(
                notes,
                "The interaction test",
                lambda k=tested, lab=labels: interaction_test(
                    values[k], (self.students.arm[k] == "treatment").astype(np.float64), lab[k]
                ),
            )
            results.append(
                {
                    "name": column,
                    "label": SUBGROUP_WORDS[column],
                    "levels": levels,
                    "interaction": None
                    if interaction is None
                    else {
                        "statistic": interaction.statistic,
                        "df_numerator": interaction.df_numerator,
                        "df_denominator": interaction.df_denominator,
                        "p": interaction.p,
                        "bh_p": None,
                    },
                    "notes": notes,
                }
            )
        tested = [entry for entry in results if entry["interaction"] is not None]
        if tested:
            adjusted = multiplicity.benjamini_hochberg([e["interaction"]["p"] for e in tested])
            for entry, value in zip(tested, adjusted, strict=True):
                entry["interaction"]["bh_p"] = value
        return results

    def dosage(self, primary: dict[str, Any]) -> dict[str, Any] | None:
        values = self.students.outcomes.get(primary["name"])
        if values is None or primary["kind"] == "binary":
            return None
        keep = (
            (self.students.arm == "treatment") & ~np.isnan(self.students.dosage) & ~np.isnan(values)
        )
        if np.count_nonzero(keep) < 3:
            return None
        dose, outcome = self.students.dosage[keep], values[keep]
        low, high = (float(cut) for cut in np.quantile(dose, [1 / 3, 2 / 3]))
        bands = [
            ("lowest third of use", dose <= low, None, low),
            ("middle third of use", (dose > low) & (dose <= high), low, high),
            ("highest third of use", dose > high, high, None),
        ]
        return {
            "bands": [
                {"label": label, "from": start, "to": end, **_describe(outcome[mask])}
                for label, mask, start, end in bands
                if mask.any()
            ],
            "unit": "minutes of use",
        }

    @property
    def estimate_sites(self) -> list[int]:
        """The sites whose students are in the headline estimate: those that sent student rows
        (a site that sent only totals joins only the effect over every site), or every site
        when none did. ESSA's sample counts these students in these districts."""
        return self.student_sites or self.aggregate_sites

    def essa(self, primary: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
        headline = primary["headline"]
        attrition = primary["attrition"]
        by_site = self.analyzed_by_site(primary["name"])
        students = sum(sum(by_site[site].values()) for site in self.estimate_sites)
        if self.design_type == "pre_post":
            students = int(primary["arms"].get("treatment", {}).get("n") or 0)
        tier = evidence.essa_tier(
            design=self.design_type if self.design_type in evidence.DESIGNS else "none",
            effect_size=None if headline is None else headline["favourable_g"],
            p_value=None if headline is None else headline["p"],
            n_students=students,
            n_districts=len(self.estimate_sites),
            attrition=None if attrition is None else attrition["rating"],
            baseline_equivalence=None if baseline is None else baseline["rating"],
            adjusted_for_baseline=primary["ancova"] is not None,
            alpha=self.alpha,
        )
        return {
            "tier": tier.tier,
            "reasons": list(tier.reasons),
            "students": students,
            "districts": len(self.estimate_sites),
        }

    def site_counts(self, primary: dict[str, Any]) -> list[dict[str, Any]]:
        """Per site: students randomized and analyzed on the primary outcome, by arm."""
        analyzed = self.analyzed_by_site(primary["name"])
        kinds = {dataset.site_id: dataset.kind for dataset in self.inputs.datasets}
        return [
            {
                "site_id": site,
                "kind": kinds[site],
                "randomized": {
                    arm: int(self.inputs.randomized_by_site.get(site, {}).get(arm, 0))
                    for arm in ARMS
                },
                "analyzed": counts,
            }
            for site, counts in analyzed.items()
        ]

    def run(self) -> dict[str, Any]:
        self.design_deviations()
        outcomes = [self.analyze_outcome(spec) for spec in self.outcome_specs()]
        secondary = [o for o in outcomes if not o["primary"] and o["headline"] is not None]
        if secondary:
            adjusted = multiplicity.benjamini_hochberg([o["headline"]["p"] for o in secondary])
            for outcome, value in zip(secondary, adjusted, strict=True):
                outcome["bh_p"] = value
        primary = next((o for o in outcomes if o["primary"]), None)
        if primary is None:
            self.notes.append("The registered primary outcome has no data: nothing to conclude.")
        baseline = self.baseline_equivalence(primary) if primary else None
        document = self.document
        return {
            "results_version": RESULTS_VERSION,
            "design": {
                "design_version_id": self.inputs.design.id,
                "version": self.inputs.design.version,
                "design_type": self.design_type,
                "unit_of_assignment": document.get("unit_of_assignment"),
                "minimum_meaningful_effect": self.mme,
                "icc": self.icc,
                "alpha": self.alpha,
                "baseline_measure": document.get("baseline_measure"),
                "attrition_boundary": self.boundary,
            },
            "data": {
                "dataset_ids": sorted(dataset.id for dataset in self.inputs.datasets),
                "sites": self.n_sites,
                "aggregate_sites": self.aggregate_sites,
                "estimate_sites": self.estimate_sites,
                "student_rows": len(self.students),
            },
            "primary": None if primary is None else primary["name"],
            "outcomes": outcomes,
            "baseline": baseline,
            "subgroups": self.subgroups(primary) if primary else [],
            "dosage": self.dosage(primary) if primary else None,
            "essa": self.essa(primary, baseline) if primary else None,
            "site_counts": self.site_counts(primary) if primary else [],
            "deviations": self.deviations,
            "notes": self.notes,
        }


def compute_results(inputs: Inputs) -> dict[str, Any]:
    """The registered analysis of the current data, as plain JSON data (see module doc)."""
    return _Analysis(inputs).run()
