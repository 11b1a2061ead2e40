"""The demo's outcome data and the process that generates them, so the right answers are known.

Data-generating process, for each pilot with data and each of its sites (docs/demo.md says
the same, with the table of true effects):

- Students: the site enrolls about `students_per_site` students (×0.85–1.10), seated in
  classrooms of 25 (cluster codes "room-01", ...). Each student is FRL with probability the
  district's FRL share, EL and SWD likewise; gender f/m/x (49/49/2 %); race/ethnicity from a
  fixed mix. The student key is HMAC-SHA256(per-pilot demo secret, synthetic roster id).
- Baseline (fall scale score): b ~ N(200 − 8·FRL, 20²).
- Arms: "rct" randomizes students and "cluster_rct" classrooms, each site separately, with
  analysis.randomization.assign (recorded as Assignment rows). In a "quasi_experiment" half
  the classrooms opted in, and opting-in classrooms' students start 3 points lower (the
  selection an analysis must adjust for). "pre_post" has only the treatment arm.
- Outcome (spring scale score):
      y = 30 + 0.85·b + u_site + v_classroom + τ·σ·treated + e,
      u_site ~ N(0, 4²), v_classroom ~ N(0, 3²), e ~ N(0, 12²),
      σ = √(0.85²·20² + 4² + 3² + 12²) ≈ 21.40, the outcome's SD without treatment;
  rounded to 0.1 and kept within 100–300. τ is the pilot's true standardized effect
  (TRUE_EFFECTS; Hedges' g of y between arms estimates τ, ANCOVA on b too).
- met_benchmark (binary) = 1 when y ≥ 200, else 0.
- days_absent (count) ~ Poisson(6·exp(0.35·FRL − 0.01·(b − 200))); no treatment effect.
- Dosage: in pilots that log usage, treated students get weeks·N(40, 12²) minutes (≥ 0);
  everyone else has none.
- Attrition: each randomized student misses the outcome (every outcome null) with
  probability a ~ U(0.05, 0.11) in control and a + d in treatment, where d = 0.04 in pilots
  with differential attrition and 0 otherwise. Missingness is at random.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.randomization import Assignment, assign
from testbed.demo.vocabulary import (
    GENDER_CODES,
    GENDER_SHARES,
    RACE_ETHNICITY_CODES,
    RACE_ETHNICITY_SHARES,
)
from testbed.uploads.columns import AGGREGATE_COLUMNS, STUDENT_COLUMNS

# Standardized true effects the pilots draw from: mostly small and positive, some null,
# one harmful, as real pilot portfolios are.
TRUE_EFFECTS = (0.20, 0.10, 0.0, 0.25, 0.15, -0.10, 0.30, 0.05, 0.18, 0.0, 0.22, 0.12)
INTERCEPT = 30.0
SLOPE = 0.85
BASELINE_MEAN = 200.0
BASELINE_SD = 20.0
FRL_BASELINE_GAP = 8.0
SITE_SD = 4.0
CLASSROOM_SD = 3.0
RESIDUAL_SD = 12.0
OUTCOME_SD = math.sqrt((SLOPE * BASELINE_SD) ** 2 + SITE_SD**2 + CLASSROOM_SD**2 + RESIDUAL_SD**2)
QED_SELECTION_GAP = 3.0
BENCHMARK_CUT = 200.0
CLASSROOM_SIZE = 25
SCORE_RANGE = (100.0, 300.0)
ARMS = ("treatment", "control")


@dataclass
class OutcomeSpec:
    """What one pilot measures and how its effect was generated."""

    primary: str
    secondaries: tuple[str, ...]
    design_type: str
    true_effect: float
    control_attrition: float
    differential_attrition: float
    logs_dosage: bool
    weeks: int


@dataclass
class StudentRows:
    """One site's student-level rows, column by column (memory-light at 100× scale)."""

    student_key: list[str]
    cluster: list[str]
    arm: list[str]
    frl: np.ndarray
    el: np.ndarray
    swd: np.ndarray
    gender: list[str]
    race_ethnicity: list[str]
    baseline: np.ndarray
    dosage: np.ndarray  # NaN where none was logged
    outcomes: dict[str, np.ndarray] = field(default_factory=dict)  # NaN where missing

    def __len__(self) -> int:
        return len(self.student_key)

    def head(self, count: int) -> StudentRows:
        """The first `count` rows (an incomplete export that a later upload replaces)."""
        return StudentRows(
            student_key=self.student_key[:count],
            cluster=self.cluster[:count],
            arm=self.arm[:count],
            frl=self.frl[:count],
            el=self.el[:count],
            swd=self.swd[:count],
            gender=self.gender[:count],
            race_ethnicity=self.race_ethnicity[:count],
            baseline=self.baseline[:count],
            dosage=self.dosage[:count],
            outcomes={name: values[:count] for name, values in self.outcomes.items()},
        )

    def records(self) -> Iterator[dict[str, Any]]:
        """The rows as Observation fields (without the dataset)."""
        names = list(self.outcomes)
        columns = [_plain(self.outcomes[name], name) for name in names]
        dosage = _plain(self.dosage, "dosage")
        frl, el, swd = self.frl.tolist(), self.el.tolist(), self.swd.tolist()
        baseline = self.baseline.tolist()
        for index, key in enumerate(self.student_key):
            yield {
                "student_key": key,
                "cluster": self.cluster[index],
                "arm": self.arm[index],
                "frl": frl[index],
                "el": el[index],
                "swd": swd[index],
                "gender": self.gender[index],
                "race_ethnicity": self.race_ethnicity[index],
                "baseline": baseline[index],
                "dosage": dosage[index],
                "outcomes": {
                    name: column[index] for name, column in zip(names, columns, strict=True)
                },
            }

    def csv_text(self) -> str:
        """The rows as the CSV file a district would upload (its SHA-256 is the dataset's)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*STUDENT_COLUMNS, *self.outcomes])
        for record in self.records():
            cells = [record[name] for name in STUDENT_COLUMNS]
            cells.extend(record["outcomes"].values())
            writer.writerow(
                [
                    "" if cell is None else int(cell) if isinstance(cell, bool) else cell
                    for cell in cells
                ]
            )
        return buffer.getvalue()


def _plain(values: np.ndarray, name: str) -> list[Any]:
    """NaN becomes None; counts and 0/1 outcomes become ints."""
    as_int = name in {"met_benchmark", "days_absent"}
    return [
        None if math.isnan(value) else int(value) if as_int else value for value in values.tolist()
    ]


def student_key(secret: bytes, roster_id: str) -> str:
    """The pseudonymous key stored for a student: never the roster id itself."""
    return hmac.new(secret, roster_id.encode(), hashlib.sha256).hexdigest()


def site_rows(
    rng: np.random.Generator,
    *,
    spec: OutcomeSpec,
    secret: bytes,
    roster_prefix: str,
    students: int,
    frl_share: float,
    el_share: float,
    swd_share: float,
    assignment_seed: int,
) -> tuple[StudentRows, Assignment | None]:
    """Generate one site's rows; also the site's randomization for RCT designs."""
    keys = [student_key(secret, f"{roster_prefix}-{number:05d}") for number in range(students)]
    classrooms = max(1, math.ceil(students / CLASSROOM_SIZE))
    room_of = np.arange(students) % classrooms
    cluster = [f"room-{room + 1:02d}" for room in room_of.tolist()]
    frl = rng.random(students) < frl_share
    el = rng.random(students) < el_share
    swd = rng.random(students) < swd_share
    gender = rng.choice(GENDER_CODES, size=students, p=GENDER_SHARES).tolist()
    race = rng.choice(RACE_ETHNICITY_CODES, size=students, p=RACE_ETHNICITY_SHARES).tolist()
    baseline = rng.normal(BASELINE_MEAN, BASELINE_SD, students) - FRL_BASELINE_GAP * frl

    randomization: Assignment | None = None
    if spec.design_type == "rct":
        randomization = assign(keys, list(ARMS), assignment_seed)
        arm = [randomization.mapping[key] for key in keys]
    elif spec.design_type == "cluster_rct":
        randomization = assign(sorted(set(cluster)), list(ARMS), assignment_seed)
        arm = [randomization.mapping[room] for room in cluster]
    elif spec.design_type == "quasi_experiment":
        opted_in = rng.permutation(classrooms)[: max(1, classrooms // 2)]
        treated_rooms = set(opted_in.tolist())
        arm = ["treatment" if room in treated_rooms else "control" for room in room_of.tolist()]
    else:
        arm = ["treatment"] * students
    treated = np.array([label == "treatment" for label in arm])
    if spec.design_type == "quasi_experiment":
        baseline = baseline - QED_SELECTION_GAP * treated

    site_effect = rng.normal(0.0, SITE_SD)
    classroom_effect = rng.normal(0.0, CLASSROOM_SD, classrooms)[room_of]
    residual = rng.normal(0.0, RESIDUAL_SD, students)
    score = (
        INTERCEPT
        + SLOPE * baseline
        + site_effect
        + classroom_effect
        + spec.true_effect * OUTCOME_SD * treated
        + residual
    )
    score = np.clip(np.round(score, 1), *SCORE_RANGE)
    days_absent = rng.poisson(6.0 * np.exp(0.35 * frl - 0.01 * (baseline - BASELINE_MEAN)))

    attrition = spec.control_attrition + spec.differential_attrition * treated
    missing = rng.random(students) < attrition
    outcomes = {spec.primary: np.where(missing, np.nan, score)}
    if "met_benchmark" in spec.secondaries:
        outcomes["met_benchmark"] = np.where(missing, np.nan, score >= BENCHMARK_CUT)
    if "days_absent" in spec.secondaries:
        outcomes["days_absent"] = np.where(missing, np.nan, days_absent)

    dosage = np.full(students, np.nan)
    if spec.logs_dosage:
        minutes = np.maximum(0.0, rng.normal(40.0, 12.0, students) * spec.weeks).round()
        dosage = np.where(treated, minutes, np.nan)

    rows = StudentRows(
        student_key=keys,
        cluster=cluster,
        arm=arm,
        frl=frl,
        el=el,
        swd=swd,
        gender=gender,
        race_ethnicity=race,
        baseline=np.clip(np.round(baseline, 1), *SCORE_RANGE),
        dosage=dosage,
        outcomes=outcomes,
    )
    return rows, randomization


def summary_rows(rows: StudentRows, outcome_kinds: dict[str, str]) -> list[dict[str, Any]]:
    """Aggregates per arm and outcome, as a district that cannot share student rows sends."""
    arms = np.array(rows.arm)
    summaries = []
    for arm in ARMS:
        in_arm = arms == arm
        if not in_arm.any():
            continue
        for name, values in rows.outcomes.items():
            observed = values[in_arm & ~np.isnan(values)]
            summary: dict[str, Any] = {
                "arm": arm,
                "outcome": name,
                "randomized": int(in_arm.sum()),
                "n": int(observed.size),
                "mean": None,
                "sd": None,
                "successes": None,
            }
            if outcome_kinds[name] == "binary":
                summary["successes"] = int(observed.sum())
            elif observed.size > 1:
                summary["mean"] = round(float(observed.mean()), 3)
                summary["sd"] = round(float(observed.std(ddof=1)), 3)
            summaries.append(summary)
    return summaries


def summary_csv_text(summaries: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(AGGREGATE_COLUMNS)
    for summary in summaries:
        writer.writerow(
            ["" if summary[name] is None else summary[name] for name in AGGREGATE_COLUMNS]
        )
    return buffer.getvalue()
