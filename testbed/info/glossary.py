"""The words the findings and evidence pages use, explained once for a reader who is not a
statistician. Each entry has a slug, so any page can link to `/glossary#<slug>`."""

from __future__ import annotations

from typing import NamedTuple


class Term(NamedTuple):
    slug: str
    term: str
    meaning: str


GLOSSARY: tuple[Term, ...] = (
    Term(
        "effect-size",
        "Effect size (Hedges' g)",
        "How far apart the product group and the comparison group ended up, measured in "
        "standard deviations of the outcome, so that different tests can be compared. 0.10 is "
        "about four percentile points for a typical student; the What Works Clearinghouse calls "
        "0.25 or more substantively important.",
    ),
    Term(
        "confidence-interval",
        "Confidence interval",
        "The range of effects that fit the data. A 95 % interval that stays above zero means "
        "the data are hard to explain without a real positive effect; one that crosses zero "
        "means the pilot cannot tell a small gain from a small loss.",
    ),
    Term(
        "p-value",
        "p-value",
        "How often a difference at least this large would turn up by chance if the product "
        "did nothing. Below 0.05 is called statistically significant. It says nothing about how "
        "large the effect is; read the effect size and its interval for that.",
    ),
    Term(
        "adjusted-estimate",
        "Adjusted estimate (ANCOVA)",
        "The headline effect compares students with the same fall (baseline) score, which "
        "removes differences the groups started with. That is why it can differ from the raw "
        "difference of the two groups' spring means, and why it is usually more precise.",
    ),
    Term(
        "attrition",
        "Attrition",
        "The share of students randomized who have no outcome data at the end, overall and "
        "as the difference between the two groups. High or uneven attrition can bias a result; "
        "the rating follows the What Works Clearinghouse standard.",
    ),
    Term(
        "welch",
        "Welch's t test",
        "The test of a difference of two means that does not assume both groups vary by the "
        "same amount. Testbed uses it when there is no baseline score to adjust for.",
    ),
    Term(
        "rank-sum",
        "Rank-sum test (Wilcoxon–Mann–Whitney)",
        "A check that does not rely on scores being bell-shaped: it asks whether students in "
        "one group tend to rank above those in the other. Shown beside the main result as a "
        "robustness check.",
    ),
    Term(
        "icc",
        "ICC (intraclass correlation)",
        "How much students in the same classroom or school resemble each other. When whole "
        "classrooms are assigned together, a high ICC means there is less independent "
        "information than the number of students suggests, so intervals get wider.",
    ),
    Term(
        "cluster-robust",
        "Cluster-robust standard errors (CR2)",
        "A way of measuring uncertainty that allows students in the same classroom or school "
        "to resemble each other, with the small-sample correction of Bell and McCaffrey and "
        "Satterthwaite degrees of freedom. Used when whole classrooms or schools were assigned.",
    ),
    Term(
        "mdes",
        "MDES (minimum detectable effect size)",
        "The smallest effect a pilot of this size has an 80 % chance of detecting. If the "
        "MDES is larger than the effect the product can plausibly have, the pilot is "
        "underpowered: a null result would tell us little.",
    ),
    Term(
        "pooled",
        "Pooled estimate (meta-analysis)",
        "One overall effect combined from several pilots of the same product, each weighted "
        "by how precise it is and by how much the pilots disagree.",
    ),
    Term(
        "prediction-interval",
        "Prediction interval",
        "Where the effect in one new district like these would likely fall (95 %). It is wider "
        "than the confidence interval of the pooled effect because districts really differ; "
        "a superintendent deciding for one district should read this one.",
    ),
    Term(
        "reml",
        "REML",
        "Restricted maximum likelihood: the method used to estimate how much the true effect "
        "differs from pilot to pilot (τ²) when pilots are pooled.",
    ),
    Term(
        "tau2",
        "τ² (tau squared)",
        "The variance of the true effects across pilots. Zero means the pilots look like "
        "measurements of one common effect; larger values mean the product works better in "
        "some places than others.",
    ),
    Term(
        "q",
        "Q (Cochran's Q)",
        "A test of whether the pilots disagree more than chance alone would explain. With "
        "few pilots it rarely detects real differences, so a non-significant Q is weak "
        "reassurance.",
    ),
    Term(
        "i2",
        "I² (I squared)",
        "The share of the spread among pilots' results that reflects real differences rather "
        "than chance: 0 % none, 75 % a lot. Very uncertain with only a few pilots.",
    ),
    Term(
        "knapp-hartung",
        "Knapp–Hartung adjustment",
        "A correction that widens the pooled interval to reflect that τ² itself is estimated "
        "from few pilots, using a t distribution. Testbed uses the truncated form, which "
        "never makes the interval narrower than the simple fixed-effect one.",
    ),
    Term(
        "essa-tier",
        "ESSA evidence tier",
        "The federal Every Student Succeeds Act's levels of evidence: 1 strong (a well-run "
        "randomized trial), 2 moderate (a well-matched comparison), 3 promising (a "
        "correlational study with controls). Testbed shows the tier a pilot indicates and why; "
        "it is an indicator, not a certification.",
    ),
    Term(
        "suppression",
        "Suppressed (hidden) numbers",
        "Any number about fewer than 10 students is hidden outside the student's district, "
        "and so is any number from which a hidden one could be worked out by subtraction.",
    ),
    Term(
        "lp-bound",
        "Gap to the LP bound",
        "How close a matching round's pairing of pilots and districts is to the best possible. "
        "The bound is what a relaxed version of the problem can reach; a gap of 0 % means no "
        "better pairing exists, 2 % means at most 2 % better is possible.",
    ),
)
