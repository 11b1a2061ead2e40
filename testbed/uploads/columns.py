"""The columns of the outcome files a site uploads: the one list the validator, the importer,
the download template and the demo files all use (docs/data-format.md describes them)."""

from __future__ import annotations

STUDENT_KEY = "student_key"
# Yes/no descriptors: free or reduced-price lunch, English learner, student with disabilities.
SUBGROUP_FLAGS = ("frl", "el", "swd")
# A student file's columns other than its outcomes (one column an outcome of the design), in
# the order of the template a site downloads. Each is also an Observation column.
STUDENT_COLUMNS = (
    STUDENT_KEY,
    "arm",
    "cluster",
    *SUBGROUP_FLAGS,
    "gender",
    "race_ethnicity",
    "baseline",
    "dosage",
)
# A file of group summaries: one row an arm and outcome; a mean and sd for a score, a count of
# successes for a yes/no outcome.
AGGREGATE_REQUIRED = ("arm", "outcome", "randomized", "n")
AGGREGATE_OPTIONAL = ("mean", "sd", "successes")
AGGREGATE_COLUMNS = (*AGGREGATE_REQUIRED, *AGGREGATE_OPTIONAL)
