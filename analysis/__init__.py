"""Testbed's statistics library: pure functions, numpy/scipy in, frozen results out.

Modules: effect_sizes (Hedges' g, Cox index, improvement index), wwc (baseline
equivalence, attrition, clustering correction), comparisons (continuous, binary,
paired), regression (ANCOVA), multiplicity (Benjamini-Hochberg), power (power, sample
size, MDES), meta (fixed and random effects), bayes (normal-normal posterior),
evidence (ESSA tier indicator), randomization (blocked assignment).

Nothing here imports the web service, its database or its templates.
"""
