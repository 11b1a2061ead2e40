"""Results are plain Python numbers, so the service can store and serve them as JSON."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from analysis import (
    bayes,
    cluster_robust,
    meta,
    multiplicity,
    power,
    randomization,
    regression,
    wwc,
)
from analysis import comparisons as comp
from analysis import effect_sizes as es

RNG = np.random.default_rng(1)
TREATED, CONTROL = RNG.normal(1, 1, 50), RNG.normal(0, 1, 50)

RESULTS = {
    "hedges_g": lambda: es.hedges_g(1, 1, 10, 0, 1, 10),
    "cox_index": lambda: es.cox_index(0.6, 0.5, 100, 100),
    "attrition": lambda: wwc.attrition(100, 80, 100, 90),
    "cluster_adjusted": lambda: wwc.cluster_adjusted(0.3, 200, 200, 20),
    "compare_continuous": lambda: comp.compare_continuous(TREATED, CONTROL),
    "compare_binary": lambda: comp.compare_binary(30, 50, 20, 50),
    "compare_paired": lambda: comp.compare_paired(CONTROL, TREATED),
    "ancova": lambda: regression.ancova(
        np.r_[TREATED, CONTROL], np.r_[np.ones(50), np.zeros(50)], np.c_[RNG.normal(size=100)]
    ),
    "clustered_impact": lambda: regression.clustered_impact(
        np.r_[TREATED, CONTROL], np.r_[np.ones(50), np.zeros(50)], np.repeat(np.arange(10), 10)
    ),
    "cluster_robust_ols": lambda: cluster_robust.ols(
        np.r_[TREATED, CONTROL],
        np.c_[np.ones(100), np.r_[np.ones(50), np.zeros(50)]],
        np.repeat(np.arange(10), 10),
    ),
    "intraclass_correlation": lambda: cluster_robust.intraclass_correlation(
        np.r_[TREATED, CONTROL], np.repeat(np.arange(10), 10), np.repeat([1, 0], 50)
    ),
    "with_design_effect": lambda: es.with_design_effect(es.cox_index(0.6, 0.5, 100, 100), 1.4),
    "benjamini_hochberg": lambda: multiplicity.benjamini_hochberg([0.01, 0.04, 0.03]),
    "sample_size": lambda: power.sample_size_two_sample(0.3),
    "fixed_effect": lambda: meta.fixed_effect([0.1, 0.2, 0.3], [0.01, 0.02, 0.03]),
    "random_effects": lambda: meta.random_effects([0.1, 0.2, 0.5], [0.01, 0.02, 0.03]),
    "posterior": lambda: bayes.posterior(0.2, 0.1),
    "assign": lambda: randomization.assign(["a", "b", "c", "d"], ["t", "c"], 1),
}


def _numpy_values(value, path=""):
    if isinstance(value, np.generic | np.ndarray):
        yield path
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            yield from _numpy_values(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _numpy_values(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numpy_values(item, f"{path}[{key!r}]")


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_results_hold_no_numpy_values(name):
    assert list(_numpy_values(RESULTS[name]())) == []
