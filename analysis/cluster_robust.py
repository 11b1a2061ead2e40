"""Cluster-robust standard errors for ordinary least squares, and the intraclass correlation.

When classrooms or schools were assigned, students of one classroom share its teacher and its
days: their outcomes are correlated, and the usual OLS standard error is too small. The
sandwich M (sum_j X_j' A_j e_j e_j' A_j X_j) M, M = (X'X)^-1, sums over clusters j, so it
allows any correlation within a cluster. Three versions:

- CR0: A_j = I (Liang & Zeger 1986).
- CR1: CR0 times G/(G - 1) (N - 1)/(N - p), Stata's and statsmodels' default small-sample
  factor (G clusters, N students, p coefficients).
- CR2: A_j = (I - X_j M X_j')^(-1/2), the bias-reduced linearization of Bell & McCaffrey
  (2002): unbiased when the errors are independent and equal in variance. Its t test uses the
  Satterthwaite degrees of freedom of Bell & McCaffrey (2002) and Pustejovsky & Tipton (2018),
  computed under that same working model, so a trial with few classrooms is judged on few
  degrees of freedom, not on its number of students. This is the default of R's clubSandwich
  (vcovCR(type = "CR2") with coef_test(test = "Satterthwaite")).

References
- Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
  regression with multi-stage samples. Survey Methodology 28(2), 169-181.
- Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for cluster-robust variance
  estimation and hypothesis testing in fixed effects models. Journal of Business & Economic
  Statistics 36(4), 672-683.
- Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
  Journal of Human Resources 50(2), 317-372 (CR1).
- Donner, A., & Koval, J. J. (1980). The estimation of intraclass correlation in the analysis of
  family data. Biometrics 36, 19-25 (the one-way ANOVA estimator of the ICC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis import _validation as check

KINDS = ("CR0", "CR1", "CR2")
# Eigenvalues of I - X_j M X_j' below this share of the largest are treated as zero (a cluster
# whose rows a fixed effect fits exactly), as clubSandwich's pseudo-inverse square root does.
_EIGEN_FLOOR = 1e-12


@dataclass(frozen=True)
class ClusterRobustFit:
    coefficients: tuple[float, ...]
    se: tuple[float, ...]
    df: tuple[float, ...]  # Satterthwaite for CR2; G - 1 for CR0 and CR1
    vcov: tuple[tuple[float, ...], ...]
    residual_ss: float
    n: int
    n_clusters: int
    kind: str


def _inverse_square_root(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    keep = values > values.max() * _EIGEN_FLOOR
    return (vectors[:, keep] * values[keep] ** -0.5) @ vectors[:, keep].T


def cluster_codes(clusters: object, n: int) -> tuple[np.ndarray, int]:
    labels = np.asarray(clusters)
    if labels.ndim != 1 or labels.size != n:
        raise ValueError(f"clusters must give one cluster per student ({n} values)")
    _, codes = np.unique(labels.astype(str), return_inverse=True)
    return codes, int(codes.max()) + 1 if codes.size else 0


def ols(y: object, design: object, clusters: object, kind: str = "CR2") -> ClusterRobustFit:
    """OLS of y on the columns of design (include the intercept) with a cluster-robust
    covariance. Returns the coefficients, their SEs and degrees of freedom, in column order."""
    outcome = check.numeric_array("y", y, minimum_size=3)
    try:
        matrix = np.asarray(design, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("design must contain only numbers") from None
    if matrix.ndim != 2 or matrix.shape[0] != outcome.size:
        raise ValueError(f"design must be a table with one row per student ({outcome.size})")
    if not np.isfinite(matrix).all():
        raise ValueError("design contains missing values")
    kind = check.choice("kind", kind, KINDS)
    n, p = matrix.shape
    codes, n_clusters = cluster_codes(clusters, n)
    if n_clusters < 2:
        raise ValueError("cluster-robust standard errors need at least 2 clusters")
    if np.linalg.matrix_rank(matrix) < p:
        raise ValueError("the design's columns are collinear, so the model cannot be fitted")
    if n_clusters <= p:
        # The clusters' scores sum to zero, so with G <= p clusters the middle of the sandwich
        # cannot pin down every coefficient (one cluster per arm gave an SE of 1e-16).
        raise ValueError(
            f"cluster-robust standard errors need more clusters ({n_clusters}) than "
            f"coefficients in the model ({p})"
        )
    bread = np.linalg.inv(matrix.T @ matrix)
    coefficients = bread @ (matrix.T @ outcome)
    residuals = outcome - matrix @ coefficients
    members = [np.flatnonzero(codes == j) for j in range(n_clusters)]
    adjustments = []
    meat = np.zeros((p, p))
    for rows in members:
        rows_x = matrix[rows]
        if kind == "CR2":
            adjustment = _inverse_square_root(np.eye(rows.size) - rows_x @ bread @ rows_x.T)
        else:
            adjustment = np.eye(rows.size)
        adjustments.append(adjustment)
        score = rows_x.T @ (adjustment @ residuals[rows])
        meat += np.outer(score, score)
    vcov = bread @ meat @ bread
    if kind == "CR1":
        vcov *= n_clusters / (n_clusters - 1) * (n - 1) / (n - p)
    if kind == "CR2":
        df = tuple(
            _satterthwaite(matrix, bread, members, adjustments, bread[:, k]) for k in range(p)
        )
    else:
        df = (float(n_clusters - 1),) * p
    return ClusterRobustFit(
        coefficients=tuple(float(b) for b in coefficients),
        se=tuple(math.sqrt(max(float(v), 0.0)) for v in np.diag(vcov)),
        df=df,
        vcov=tuple(tuple(float(v) for v in row) for row in vcov),
        residual_ss=float(residuals @ residuals),
        n=n,
        n_clusters=n_clusters,
        kind=kind,
    )


def _satterthwaite(
    matrix: np.ndarray,
    bread: np.ndarray,
    members: list[np.ndarray],
    adjustments: list[np.ndarray],
    contrast: np.ndarray,
) -> float:
    """Degrees of freedom of c'V c (c = contrast pre-multiplied by M) under independent
    errors of equal variance (Pustejovsky & Tipton 2018, section 3.1).

    With q_j = A_j X_j M c, the estimate is sum_j (g_j' y)^2 for g_j = (I - H)_[.,j] q_j, and
    g_i' g_j = q_i' (I - H)_ij q_j = [i = j] q_j' q_j - (X_i' q_i)' M (X_j' q_j): the
    G x G Gram matrix, built without any N x N matrix. df = tr(Gram)^2 / ||Gram||_F^2."""
    q = [
        adjustment @ (matrix[rows] @ contrast)
        for rows, adjustment in zip(members, adjustments, strict=True)
    ]
    z = np.column_stack([matrix[rows].T @ q_j for rows, q_j in zip(members, q, strict=True)])
    gram = np.diag([float(q_j @ q_j) for q_j in q]) - z.T @ bread @ z
    denominator = float((gram**2).sum())
    return float(np.trace(gram) ** 2 / denominator) if denominator > 0 else math.nan


@dataclass(frozen=True)
class IntraclassCorrelation:
    icc: float  # truncated at 0
    average_cluster_size: float  # n0 of the ANOVA estimator, (N - sum n_j^2 / N) / (G - 1)
    n_clusters: int


def intraclass_correlation(
    values: object, clusters: object, groups: object = None
) -> IntraclassCorrelation:
    """One-way ANOVA estimator of the ICC, (MSB - MSW) / (MSB + (n0 - 1) MSW), truncated at 0.

    groups (e.g. arm, or arm within site) are removed first: each cluster lies in one group,
    and the spread between groups is the effect, not clustering. MSB then has G - (number of
    groups) degrees of freedom."""
    y = check.numeric_array("values", values, minimum_size=3)
    codes, n_clusters = cluster_codes(clusters, y.size)
    group_labels = np.zeros(y.size, dtype=int) if groups is None else np.asarray(groups)
    if group_labels.shape != y.shape:
        raise ValueError(f"groups must give one group per student ({y.size} values)")
    _, group_codes = np.unique(group_labels.astype(str), return_inverse=True)
    n_groups = int(group_codes.max()) + 1
    if n_clusters - n_groups < 1 or y.size - n_clusters < 1:
        raise ValueError(
            f"{n_clusters} clusters of {y.size} students are too few to estimate the "
            "intraclass correlation"
        )
    sizes = np.bincount(codes, minlength=n_clusters).astype(float)
    cluster_means = np.bincount(codes, weights=y, minlength=n_clusters) / sizes
    group_sizes = np.bincount(group_codes, minlength=n_groups).astype(float)
    group_means = np.bincount(group_codes, weights=y, minlength=n_groups) / group_sizes
    group_of_cluster = np.zeros(n_clusters, dtype=int)
    group_of_cluster[codes] = group_codes
    between = float(sizes @ (cluster_means - group_means[group_of_cluster]) ** 2)
    within = float(((y - cluster_means[codes]) ** 2).sum())
    msb = between / (n_clusters - n_groups)
    msw = within / (y.size - n_clusters)
    n0 = (y.size - float(sizes @ sizes) / y.size) / (n_clusters - 1)
    denominator = msb + (n0 - 1.0) * msw
    if denominator <= 0:
        raise ValueError(
            "the values do not vary within the groups, so the intraclass correlation is "
            "undefined (0/0)"
        )
    icc = max(0.0, (msb - msw) / denominator)
    return IntraclassCorrelation(icc=icc, average_cluster_size=n0, n_clusters=n_clusters)
