"""Multiple comparisons: the Benjamini-Hochberg false discovery rate adjustment.

Used for secondary outcomes and subgroup findings, never for the one registered
primary outcome. Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery
rate. Journal of the Royal Statistical Society B 57(1), 289-300. The adjusted values
are R's p.adjust(p, method = "BH").
"""

from __future__ import annotations

import numpy as np

from analysis import _validation as check


def benjamini_hochberg(pvalues: object) -> tuple[float, ...]:
    """BH-adjusted p-values, in the order given.

    adjusted p_(i) = min over j >= i of min(1, m p_(j) / j), p_(1) <= ... <= p_(m).
    A finding is a discovery at false discovery rate q when its adjusted p is <= q.
    """
    p = check.numeric_array("pvalues", pvalues, minimum_size=1)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("pvalues must all lie between 0 and 1")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    # Step-up: each adjusted value is the smallest scaled value at or above its rank.
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return tuple(float(value) for value in adjusted)
