"""An independent oracle: every number of a finding, recomputed from the rows the service used.

The finding is run and read through HTTP (as the network admin, who sees every cell); the rows
are read back from the database; the numbers are recomputed here with statsmodels (a test-only
dependency, never imported by testbed or analysis), scipy's distributions and the published
formulas, without calling anything in analysis/:

- OLS coefficients, their SE, residual df, p and CI: statsmodels `ols` (site fixed effects as
  C(site) dummies). Welch's t test: statsmodels `ttest_ind(usevar="unequal")`.
- Hedges' g and its variance, the Cox index, the ANCOVA-adjusted g: WWC Procedures Handbook
  4.1 / Procedures and Standards Handbook 5.0, Appendix E (omega = 1 - 3/(4N - 9);
  var g = N/(n_t n_c) + g^2/(2N); Cox = omega (logit p_t - logit p_c)/1.65 with the log odds
  ratio's SE from statsmodels `Table2x2`).
- Cluster designs with student rows: CR2 and Satterthwaite df written out in
  tests/cr2_formula.py (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018); the WWC cluster g
  omega * gamma * b / S with gamma = sqrt(1 - 2 (n - 1) ICC / (N - 2)) (Hedges 2007); the ICC by
  the one-way ANOVA estimator (Donner & Koval 1980); binary: the design effect 1 + (n0 - 1) ICC.
- Sites that sent only totals: the arms pooled exactly from (n, mean, SD) and Hedges' g on them.

Designs: a two-site student RCT with a baseline (continuous and binary outcomes), a cluster RCT
with student rows, a student site beside a site that sent totals, and totals only.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.weightstats import ttest_ind

from tests import factories
from tests.cr2_formula import cr2
from tests.web.conftest import People, post_form, sign_in
from tests.web.findings_data import design_document, seed_study

REL = 1e-9
Z = stats.norm.ppf(0.975)


def omega(n: int) -> float:
    return 1 - 3 / (4 * n - 9)


def pooled_sd(t: np.ndarray, c: np.ndarray) -> float:
    return math.sqrt(
        ((t.size - 1) * t.var(ddof=1) + (c.size - 1) * c.var(ddof=1)) / (t.size + c.size - 2)
    )


def close(actual: Any, expected: Any) -> None:
    assert actual == pytest.approx(expected, rel=REL, abs=1e-12)


# --- the service's side ----------------------------------------------------------------------


def run_finding(client, call, pilot_id: int) -> dict[str, Any]:
    """Run through HTTP; the stored results (every number, before any suppression for a
    viewer) and the finding's page."""
    from testbed.tables import Finding

    sign_in(client, "admin")
    response = post_form(client, f"/pilots/{pilot_id}/findings/run")
    assert response.status_code in (302, 303), response.text
    finding_id = int(re.fullmatch(r"/findings/(\d+)", response.headers["location"]).group(1))
    assert client.get(f"/api/v1/findings/{finding_id}").status_code == 200
    page = client.get(f"/findings/{finding_id}")
    assert page.status_code == 200
    stored = call(
        lambda: (
            Finding.select(Finding.results)
            .where(Finding.id == finding_id)
            .first()
            .output(load_json=True)
        )
    )
    return {"results": stored["results"], "page": page.text}


def outcome(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(o for o in results["outcomes"] if o["name"] == name)


def student_rows(call, pilot_id: int) -> pd.DataFrame:
    """The current datasets' rows of the pilot, one column per outcome."""
    from testbed.tables import Dataset, Observation

    async def read():
        datasets = await Dataset.select(Dataset.id, Dataset.site).where(
            (Dataset.pilot == pilot_id) & Dataset.is_current.eq(True)
        )
        site_of = {row["id"]: row["site"] for row in datasets}
        rows = await (
            Observation.select(
                Observation.dataset,
                Observation.cluster,
                Observation.arm,
                Observation.baseline,
                Observation.outcomes,
            )
            .where(Observation.dataset.is_in(list(site_of) or [-1]))
            .output(load_json=True)
        )
        return [
            {
                "site": site_of[row["dataset"]],
                "cluster": f"{site_of[row['dataset']]}/{row['cluster']}",
                "arm": row["arm"],
                "treated": float(row["arm"] == "treatment"),
                "baseline": row["baseline"],
                **(row["outcomes"] or {}),
            }
            for row in rows
        ]

    return pd.DataFrame(call(read))


# --- the oracle's side -----------------------------------------------------------------------


def check_arms_and_welch(found: dict[str, Any], frame: pd.DataFrame, name: str) -> None:
    data = frame.dropna(subset=[name])
    t, c = (data.loc[data.arm == arm, name].to_numpy(float) for arm in ("treatment", "control"))
    for arm, values in (("treatment", t), ("control", c)):
        shown = found["arms"][arm]
        assert shown["n"] == values.size
        close(shown["mean"], values.mean())
        close(shown["sd"], values.std(ddof=1))
    statistic, p, df = ttest_ind(t, c, usevar="unequal")
    close(found["test"]["statistic"], statistic)
    close(found["test"]["p"], p)
    close(found["test"]["df"], df)
    close(found["difference"], t.mean() - c.mean())
    g = omega(t.size + c.size) * (t.mean() - c.mean()) / pooled_sd(t, c)
    n = t.size + c.size
    variance = n / (t.size * c.size) + g**2 / (2 * n)
    close(found["effect"]["g"], g)
    close(found["effect"]["variance"], variance)
    close(found["effect"]["ci"], [g - Z * math.sqrt(variance), g + Z * math.sqrt(variance)])


def check_ancova(found: dict[str, Any], frame: pd.DataFrame, name: str, sites: bool) -> None:
    data = frame.dropna(subset=[name, "baseline"]).rename(columns={name: "y"})
    formula = "y ~ treated + baseline" + (" + C(site)" if sites else "")
    model = smf.ols(formula, data).fit()
    ancova = found["ancova"]
    assert ancova["n"] == len(data) and ancova["site_fixed_effects"] is sites
    close(ancova["coefficient"], model.params["treated"])
    close(ancova["se"], model.bse["treated"])
    close(ancova["df"], model.df_resid)
    close(ancova["p"], model.pvalues["treated"])
    close(ancova["ci"], list(model.conf_int().loc["treated"]))
    close(ancova["baseline_coefficient"], model.params["baseline"])
    t = data.loc[data.arm == "treatment", "y"].to_numpy(float)
    c = data.loc[data.arm == "control", "y"].to_numpy(float)
    factor = omega(len(data)) / pooled_sd(t, c)
    close(ancova["g"], model.params["treated"] * factor)
    close(ancova["g_ci"], [bound * factor for bound in model.conf_int().loc["treated"]])
    headline = found["headline"]
    close(headline["g"], ancova["g"])
    close(headline["p"], model.pvalues["treated"])


def check_binary(found: dict[str, Any], frame: pd.DataFrame, name: str) -> tuple[float, float]:
    """Arms, risk difference and the Cox index; returns (index, its unclustered SE)."""
    data = frame.dropna(subset=[name])
    t, c = (data.loc[data.arm == arm, name].to_numpy(float) for arm in ("treatment", "control"))
    for arm, values in (("treatment", t), ("control", c)):
        assert found["arms"][arm]["n"] == values.size
        assert found["arms"][arm]["successes"] == int(values.sum())
    close(found["difference"], t.mean() - c.mean())
    table = Table2x2(
        np.array([[t.sum(), t.size - t.sum()], [c.sum(), c.size - c.sum()]], dtype=float)
    )
    w = omega(t.size + c.size)
    index, se = w * table.log_oddsratio / 1.65, w * table.log_oddsratio_se / 1.65
    close(found["effect"]["g"], index)
    close(found["effect"]["se"], se)
    cells = np.array([[t.sum(), t.size - t.sum()], [c.sum(), c.size - c.sum()]])
    if "Fisher" in found["test"]["name"]:
        close(found["test"]["p"], stats.fisher_exact(cells)[1])
    else:
        close(found["test"]["p"], stats.chi2_contingency(cells, correction=True)[1])
    return index, se


def anova_icc(values: np.ndarray, clusters: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """One-way ANOVA ICC within groups (Donner & Koval 1980), truncated at 0; and n0."""
    frame = pd.DataFrame({"y": values, "cluster": clusters, "group": groups})
    by_cluster = frame.groupby("cluster").agg(
        n=("y", "size"), mean=("y", "mean"), group=("group", "first")
    )
    group_mean = frame.groupby("group")["y"].mean()
    between = (
        by_cluster.n * (by_cluster["mean"] - group_mean[by_cluster.group].to_numpy()) ** 2
    ).sum()
    within = ((frame.y - frame.cluster.map(by_cluster["mean"])) ** 2).sum()
    k, n, m = len(by_cluster), len(frame), frame.group.nunique()
    msb, msw = between / (k - m), within / (n - k)
    n0 = (n - (by_cluster.n**2).sum() / n) / (k - 1)
    return max(0.0, (msb - msw) / (msb + (n0 - 1) * msw)), n0


# --- the designs -----------------------------------------------------------------------------


def test_a_two_site_student_rct_with_a_baseline(client, call, people: People):
    study = call(lambda: seed_study(people, second_site=True))
    finding = run_finding(client, call, study.pilot)
    results, frame = finding["results"], student_rows(call, study.pilot)
    score = outcome(results, "math_score")
    check_arms_and_welch(score, frame, "math_score")
    check_ancova(score, frame, "math_score", sites=True)
    assert score["headline"]["source"] == "ancova" and score["cluster"] is None

    met = outcome(results, "met_benchmark")
    index, se = check_binary(met, frame, "met_benchmark")
    close(met["headline"]["g"], index)
    close(met["headline"]["se"], se)
    assert results["data"]["sites"] == 2


def test_a_cluster_rct_with_student_rows(client, call, people: People):
    document = design_document()
    document.update(design_type="cluster_rct", unit_of_assignment="classroom")
    study = call(lambda: seed_study(people, second_site=True, document=document))
    finding = run_finding(client, call, study.pilot)
    results, frame = finding["results"], student_rows(call, study.pilot)

    score = outcome(results, "math_score")
    check_arms_and_welch(score, frame, "math_score")
    data = frame.dropna(subset=["math_score", "baseline"]).rename(columns={"math_score": "y"})
    model = smf.ols("y ~ treated + baseline + C(site)", data).fit()
    design = model.model.exog
    column = model.model.exog_names.index("treated")
    coefficient, se, df = cr2(data.y.to_numpy(float), design, data.cluster.to_numpy(), column)
    cluster = score["cluster"]
    assert cluster["method"] == "cr2" and cluster["n_clusters"] == data.cluster.nunique() == 8
    close(cluster["coefficient"], coefficient)
    close(cluster["se"], se)
    close(cluster["df"], df)
    close(cluster["p"], 2 * stats.t.sf(abs(coefficient / se), df))
    half = stats.t.ppf(0.975, df) * se
    close(cluster["ci"], [coefficient - half, coefficient + half])
    icc, _ = anova_icc(
        data.y.to_numpy(float),
        data.cluster.to_numpy(),
        (data.arm + data.site.astype(str)).to_numpy(),
    )
    close(cluster["icc"], icc)
    n = len(data)
    gamma = math.sqrt(1 - 2 * (n / 8 - 1) * icc / (n - 2))
    t = data.loc[data.arm == "treatment", "y"].to_numpy(float)
    c = data.loc[data.arm == "control", "y"].to_numpy(float)
    factor = omega(n) * gamma / pooled_sd(t, c)
    headline = score["headline"]
    close(headline["g"], coefficient * factor)
    close(headline["se"], se * factor)
    close(headline["ci"], [(coefficient - half) * factor, (coefficient + half) * factor])
    close(headline["p"], cluster["p"])
    assert headline["source"] == "ancova+cr2"
    # The ANCOVA behind it keeps the baseline adjustment: its SE is the CR2 one, not OLS's.
    close(score["ancova"]["se"], se)
    close(score["ancova"]["baseline_coefficient"], model.params["baseline"])
    page_text = re.sub(r"<[^>]+>", "", finding["page"])  # the term links to the glossary
    assert "CR2 cluster-robust SE and Satterthwaite df" in page_text

    met = outcome(results, "met_benchmark")
    index, plain_se = check_binary(met, frame, "met_benchmark")
    binary = frame.dropna(subset=["met_benchmark"])
    icc, n0 = anova_icc(
        binary.met_benchmark.to_numpy(float),
        binary.cluster.to_numpy(),
        (binary.arm + binary.site.astype(str)).to_numpy(),
    )
    design_effect = max(1.0, 1 + (n0 - 1) * icc)
    assert met["cluster"]["method"] == "design_effect"
    close(met["cluster"]["icc"], icc)
    close(met["headline"]["g"], index)
    close(met["headline"]["se"], plain_se * math.sqrt(design_effect))
    close(
        met["headline"]["p"], 2 * stats.norm.sf(abs(index) / (plain_se * math.sqrt(design_effect)))
    )


async def _replace_with_totals(pilot_id: int, site_id: int, seed: int) -> dict[str, list]:
    """The site's student upload superseded by totals per arm (n, mean, SD)."""
    from testbed.tables import Dataset, SummaryRow

    await Dataset.update({Dataset.is_current: False}).where(
        (Dataset.pilot == pilot_id) & (Dataset.site == site_id)
    )
    dataset = await factories.dataset(
        pilot_id,
        site_id,
        4,
        version=2,
        kind="aggregates",
        uploaded_at=datetime.datetime(2026, 6, 2, tzinfo=datetime.UTC),
    )
    rng = np.random.default_rng(seed)
    totals = {
        "treatment": (58, 207.0 + rng.normal(), 17.5, 36),
        "control": (61, 200.0 + rng.normal(), 18.5, 30),
    }
    for arm, (n, mean, sd, successes) in totals.items():
        await SummaryRow.insert(
            SummaryRow(dataset=dataset, arm=arm, outcome="math_score", n=n, mean=mean, sd=sd,
                       randomized=n + 1),
            SummaryRow(dataset=dataset, arm=arm, outcome="met_benchmark", n=n, successes=successes,
                       randomized=n + 1),
        )  # fmt: skip
    return totals


def _pool(parts: list[tuple[int, float, float]]) -> tuple[int, float, float]:
    n = sum(p[0] for p in parts)
    mean = sum(p[0] * p[1] for p in parts) / n
    squares = sum((k - 1) * sd**2 + k * (m - mean) ** 2 for k, m, sd in parts)
    return n, mean, math.sqrt(squares / (n - 1))


def _hedges(t: tuple[int, float, float], c: tuple[int, float, float]) -> tuple[float, float]:
    n = t[0] + c[0]
    s = math.sqrt(((t[0] - 1) * t[2] ** 2 + (c[0] - 1) * c[2] ** 2) / (n - 2))
    g = omega(n) * (t[1] - c[1]) / s
    return g, math.sqrt(n / (t[0] * c[0]) + g**2 / (2 * n))


def test_a_student_site_beside_a_site_that_sent_totals(client, call, people: People):
    study = call(lambda: seed_study(people, second_site=True))
    totals = call(lambda: _replace_with_totals(study.pilot, study.sites[1], seed=3))
    finding = run_finding(client, call, study.pilot)
    results, frame = finding["results"], student_rows(call, study.pilot)
    assert set(frame.site) == {study.sites[0]}
    score = outcome(results, "math_score")
    # Tests, ANCOVA and arms: the student rows only (one site, so no site fixed effects).
    check_arms_and_welch(score, frame, "math_score")
    check_ancova(score, frame, "math_score", sites=False)
    # The effect over every site: each arm pooled exactly with the site's totals.
    data = frame.dropna(subset=["math_score"])
    arms = {}
    for arm in ("treatment", "control"):
        values = data.loc[data.arm == arm, "math_score"].to_numpy(float)
        arms[arm] = _pool([(values.size, values.mean(), values.std(ddof=1)), totals[arm][:3]])
    g, se = _hedges(arms["treatment"], arms["control"])
    close(score["all_sites_effect"]["g"], g)
    close(score["all_sites_effect"]["se"], se)
    assert score["all_sites_effect"]["n_t"] == arms["treatment"][0]
    assert score["all_sites_effect"]["n_c"] == arms["control"][0]


def test_totals_only(client, call, people: People):
    study = call(lambda: seed_study(people, second_site=True))
    first = call(lambda: _replace_with_totals(study.pilot, study.sites[0], seed=4))
    second = call(lambda: _replace_with_totals(study.pilot, study.sites[1], seed=5))
    results = run_finding(client, call, study.pilot)["results"]
    score = outcome(results, "math_score")
    arms = {arm: _pool([first[arm][:3], second[arm][:3]]) for arm in ("treatment", "control")}
    for arm in ("treatment", "control"):
        assert score["arms"][arm]["n"] == arms[arm][0]
        close(score["arms"][arm]["mean"], arms[arm][1])
        close(score["arms"][arm]["sd"], arms[arm][2])
    g, se = _hedges(arms["treatment"], arms["control"])
    close(score["headline"]["g"], g)
    close(score["headline"]["se"], se)
    close(score["headline"]["p"], 2 * stats.norm.sf(abs(g) / se))
    close(score["headline"]["ci"], [g - Z * se, g + Z * se])

    met = outcome(results, "met_benchmark")
    hits = {arm: first[arm][3] + second[arm][3] for arm in ("treatment", "control")}
    n = {arm: first[arm][0] + second[arm][0] for arm in ("treatment", "control")}
    table = Table2x2(
        np.array(
            [[hits["treatment"], n["treatment"] - hits["treatment"]],
             [hits["control"], n["control"] - hits["control"]]], dtype=float,
        )
    )  # fmt: skip
    w = omega(n["treatment"] + n["control"])
    close(met["headline"]["g"], w * table.log_oddsratio / 1.65)
    close(met["headline"]["se"], w * table.log_oddsratio_se / 1.65)


async def _randomized_clusters(pilot_id: int, site_id: int, clusters: int) -> None:
    from testbed.tables import Assignment

    arms = {f"room-{i:02d}": ("treatment", "control")[i % 2] for i in range(clusters)}
    await Assignment.insert(
        Assignment(pilot=pilot_id, site=site_id, seed=1, algorithm="test", arms=arms)
    )


def test_a_cluster_rct_with_totals_only_keeps_the_wwc_correction(client, call, people: People):
    """WWC Procedures Handbook 4.1, "mismatched analyses" (Hedges 2007), by hand: t = g
    sqrt(n_t n_c / N); m = N / M; t_a = t sqrt(((N - 2) - 2 (m - 1) rho) / ((N - 2)(1 + (m - 1)
    rho))); h = ((N - 2) - 2 (m - 1) rho)^2 / ((N - 2)(1 - rho)^2 + m (N - 2m) rho^2 + 2 (N - 2m)
    rho (1 - rho)), with the registered ICC and the clusters the sites randomized."""
    document = design_document()
    document.update(design_type="cluster_rct", unit_of_assignment="classroom")
    study = call(lambda: seed_study(people, second_site=True, document=document))
    first = call(lambda: _replace_with_totals(study.pilot, study.sites[0], seed=6))
    second = call(lambda: _replace_with_totals(study.pilot, study.sites[1], seed=7))

    unknown = outcome(run_finding(client, call, study.pilot)["results"], "math_score")
    assert unknown["cluster"] is None
    assert any("clustering correction could not be applied" in note for note in unknown["notes"])

    call(lambda: _randomized_clusters(study.pilot, study.sites[0], 6))
    call(lambda: _randomized_clusters(study.pilot, study.sites[1], 4))
    finding = run_finding(client, call, study.pilot)
    score = outcome(finding["results"], "math_score")
    arms = {arm: _pool([first[arm][:3], second[arm][:3]]) for arm in ("treatment", "control")}
    g, _ = _hedges(arms["treatment"], arms["control"])
    n_t, n_c = arms["treatment"][0], arms["control"][0]
    n, rho, clusters = n_t + n_c, 0.2, 10
    m = n / clusters
    t = g * math.sqrt(n_t * n_c / n)
    shrunk = (n - 2) - 2 * (m - 1) * rho
    t_a = t * math.sqrt(shrunk / ((n - 2) * (1 + (m - 1) * rho)))
    h = shrunk**2 / (
        (n - 2) * (1 - rho) ** 2 + m * (n - 2 * m) * rho**2 + 2 * (n - 2 * m) * rho * (1 - rho)
    )
    cluster = score["cluster"]
    assert cluster["method"] == "wwc" and cluster["n_clusters"] == clusters
    close(cluster["t"], t_a)
    close(cluster["df"], h)
    close(cluster["p"], 2 * stats.t.sf(abs(t_a), h))
    close(score["headline"]["g"], g)
    close(score["headline"]["p"], cluster["p"])
    assert "Clustering correction for totals only" in finding["page"]
