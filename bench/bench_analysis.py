"""Benchmark: a full comparison of 1,000,000 students per arm.

The full comparison is what a pooled network analysis runs: descriptives per arm,
Welch's t test, the Mann-Whitney test, Hedges' g, and ANCOVA on a baseline score. It is
timed through the library (analysis.comparisons.compare_continuous plus
analysis.regression.ancova) and as the bare numpy/scipy calls the library makes, with no
input checks and no result objects, in the same run. For context it also times the
textbook calls a researcher would write (scipy.stats.ttest_ind, mannwhitneyu,
numpy.linalg.lstsq). Each is repeated and the median reported.

Run: .venv/bin/python bench/bench_analysis.py [--students N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy
from scipy import stats

from analysis.comparisons import compare_continuous
from analysis.regression import ancova


def make_data(students: int, seed: int = 2025) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    baseline_t = rng.normal(0.0, 1.0, students)
    baseline_c = rng.normal(0.0, 1.0, students)
    outcome_t = 0.6 * baseline_t + rng.normal(0.1, 0.8, students)
    outcome_c = 0.6 * baseline_c + rng.normal(0.0, 0.8, students)
    return {
        "treatment": outcome_t,
        "control": outcome_c,
        "y": np.concatenate([outcome_t, outcome_c]),
        "treated": np.concatenate([np.ones(students), np.zeros(students)]),
        "baseline": np.concatenate([baseline_t, baseline_c]),
    }


def library(data: dict[str, np.ndarray]) -> tuple[float, float]:
    comparison = compare_continuous(data["treatment"], data["control"])
    adjusted = ancova(data["y"], data["treated"], {"baseline": data["baseline"]})
    return comparison.effect_size.g, adjusted.coefficient


def _arm(values: np.ndarray) -> tuple[float, float]:
    mean = values.mean()
    centered = values - mean
    variance = (centered @ centered) / (values.size - 1)
    _ = (np.median(values), values.min(), values.max())
    return mean, variance


def bare(data: dict[str, np.ndarray]) -> tuple[float, float]:
    """The numpy/scipy work compare_continuous and ancova do, without checks or objects."""
    treatment, control = data["treatment"], data["control"]
    mean_t, var_t = _arm(treatment)
    mean_c, var_c = _arm(control)
    n_t, n_c = treatment.size, control.size
    share_t, share_c = var_t / n_t, var_c / n_c
    df = (share_t + share_c) ** 2 / (share_t**2 / (n_t - 1) + share_c**2 / (n_c - 1))
    t_value = (mean_t - mean_c) / np.sqrt(share_t + share_c)
    _ = (stats.t.sf(abs(t_value), df), stats.t.ppf(0.975, df))
    stats.mannwhitneyu(treatment, control, method="asymptotic")
    pooled = np.sqrt(((n_t - 1) * var_t + (n_c - 1) * var_c) / (n_t + n_c - 2))
    g = (1 - 3 / (4 * (n_t + n_c) - 9)) * (mean_t - mean_c) / pooled

    y, treated, baseline = data["y"], data["treated"], data["baseline"]
    centered_y = y - y.mean()
    predictors = np.column_stack([treated - treated.mean(), baseline - baseline.mean()])
    cross = predictors.T @ predictors
    coefficients = np.linalg.solve(cross, predictors.T @ centered_y)
    residuals = centered_y - predictors @ coefficients
    _ = (residuals @ residuals, y[treated == 1].std(ddof=1), y[treated == 0].std(ddof=1))
    return g, coefficients[0]


def textbook(data: dict[str, np.ndarray]) -> tuple[float, float]:
    """The calls a researcher would write by hand with scipy and numpy."""
    treatment, control = data["treatment"], data["control"]
    for values in (treatment, control):
        _ = (values.mean(), values.std(ddof=1), np.median(values), values.min(), values.max())
    stats.ttest_ind(treatment, control, equal_var=False)
    stats.mannwhitneyu(treatment, control, method="asymptotic")
    design = np.column_stack([np.ones(data["y"].size), data["treated"], data["baseline"]])
    coefficients, *_ = np.linalg.lstsq(design, data["y"], rcond=None)
    return 0.0, coefficients[1]


def median_seconds(function: Callable, data: dict[str, np.ndarray], repeats: int) -> float:
    function(data)  # warm caches and lazy imports
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(data)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000, help="students per arm")
    parser.add_argument("--repeats", type=int, default=7)
    arguments = parser.parse_args()

    data = make_data(arguments.students)
    library_result, bare_result = library(data), bare(data)
    if not np.allclose(library_result, bare_result, rtol=1e-9):
        raise SystemExit(f"library and bare calls disagree: {library_result} vs {bare_result}")

    rows = [
        ("library: compare_continuous + ancova", median_seconds(library, data, arguments.repeats)),
        ("bare numpy/scipy calls it makes", median_seconds(bare, data, arguments.repeats)),
        (
            "textbook scipy/numpy (ttest_ind, lstsq)",
            median_seconds(textbook, data, arguments.repeats),
        ),
    ]
    parts = [
        (
            "  compare_continuous alone",
            median_seconds(
                lambda d: compare_continuous(d["treatment"], d["control"]), data, arguments.repeats
            ),
        ),
        (
            "  ancova alone",
            median_seconds(
                lambda d: ancova(d["y"], d["treated"], {"baseline": d["baseline"]}),
                data,
                arguments.repeats,
            ),
        ),
    ]
    print(
        f"{arguments.students:,} students per arm, median of {arguments.repeats} runs; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'':42} {'seconds':>8} {'ratio':>7}")
    baseline_seconds = rows[1][1]
    for name, seconds in rows + parts:
        print(f"{name:42} {seconds:8.3f} {seconds / baseline_seconds:7.2f}")


if __name__ == "__main__":
    main()
