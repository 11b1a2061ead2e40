"""CR2 written out from the published formulas with full N x N matrices, for tests only.

Bell, R. M., & McCaffrey, D. F. (2002), Survey Methodology 28(2): the adjustment
A_j = (I - H_jj)^(-1/2) of the sandwich M (sum_j X_j' A_j e_j e_j' A_j X_j) M, M = (X'X)^-1.
Pustejovsky, J. E., & Tipton, E. (2018), JBES 36(4), section 3.1: the Satterthwaite degrees of
freedom of c'V c under independent equal-variance errors, (sum_j g_j'g_j)^2 / sum_ij (g_i'g_j)^2
with g_j = (I - H)_[.,j] A_j X_j M c. Independent of analysis/cluster_robust.py, which avoids
the N x N matrices; fine for the few hundred rows of a test.
"""

from __future__ import annotations

import numpy as np


def cr2(y: np.ndarray, design: np.ndarray, clusters: np.ndarray, column: int):
    """(coefficient, CR2 SE, Satterthwaite df) of one column of the design."""
    bread = np.linalg.inv(design.T @ design)
    residual_maker = np.eye(y.size) - design @ bread @ design.T
    e = residual_maker @ y
    contrast = bread[:, column]
    meat = np.zeros((design.shape[1],) * 2)
    columns = []
    for label in np.unique(clusters):
        rows = clusters == label
        values, vectors = np.linalg.eigh(residual_maker[np.ix_(rows, rows)])
        adjustment = vectors @ np.diag(values**-0.5) @ vectors.T
        score = design[rows].T @ adjustment @ e[rows]
        meat += np.outer(score, score)
        columns.append(residual_maker[:, rows] @ adjustment @ design[rows] @ contrast)
    g = np.column_stack(columns)
    gram = g.T @ g
    coefficient = float((bread @ design.T @ y)[column])
    se = float(np.sqrt((bread @ meat @ bread)[column, column]))
    return coefficient, se, float(np.trace(gram) ** 2 / (gram**2).sum())
