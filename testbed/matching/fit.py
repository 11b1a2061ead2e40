"""The fit score of a (district, call) pair: six parts, each 0..1 times a weight, with a sentence.

Parts (default weights, out of 100; network admins can change them):

| part      | weight | 1 when                                                           |
|-----------|-------:|------------------------------------------------------------------|
| grades    | 25 | the district serves every grade the call needs (share otherwise)     |
| subject   | 20 | an open need is in the call's subjects and grades (0.5: other grades)|
| needs     | 20 | the open needs' pillars cover the call's pillars (share otherwise)   |
| platforms | 15 | half: uses a platform the product runs on; half: devices per student |
| privacy   | 10 | signed the national student-data privacy agreement (NDPA)            |
| capacity  | 10 | offers (or, not having volunteered, enrolls) the students per site   |

`part_fractions` computes every part for many districts and calls at once (numpy, no database);
`explain` computes one pair through the same code and adds the words, so the two never differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from testbed import vocabulary

DEFAULT_WEIGHTS: dict[str, float] = {
    "grades": 25.0,
    "subject": 20.0,
    "needs": 20.0,
    "platforms": 15.0,
    "privacy": 10.0,
    "capacity": 10.0,
}
PARTS = tuple(DEFAULT_WEIGHTS)
PART_LABELS = {
    "grades": "Grades",
    "subject": "Subject",
    "needs": "Needs and pillars",
    "platforms": "Platforms and devices",
    "privacy": "Privacy agreement",
    "capacity": "Capacity",
}
GRADE_INDEX = {code: index for index, code in enumerate(vocabulary.GRADE_CODES)}
SUBJECT_INDEX = {code: index for index, code in enumerate(vocabulary.SUBJECTS)}
PLATFORM_INDEX = {code: index for index, code in enumerate(vocabulary.PLATFORMS)}
PILLAR_INDEX = {code: index for index, code in enumerate(vocabulary.PILLARS)}


@dataclass(frozen=True)
class NeedFacts:
    title: str
    subject: str
    pillars: tuple[int, ...]
    grade_band: str


@dataclass(frozen=True)
class DistrictFacts:
    id: int
    name: str
    has_profile: bool = False
    grades_served: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    device_ratio: float = 0.0
    signed_ndpa: bool = False
    enrollment: int = 0
    locale: str | None = None
    frl_share: float | None = None
    needs: tuple[NeedFacts, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class CallFacts:
    id: int
    title: str
    grades: tuple[str, ...]
    subjects: tuple[str, ...]
    pillars: tuple[int, ...]
    platforms: tuple[str, ...]  # the product's
    students_per_site: int


@dataclass(frozen=True)
class FitPart:
    part: str
    points: float
    max: float
    why: str

    def as_dict(self) -> dict[str, object]:
        return {"part": self.part, "points": self.points, "max": self.max, "why": self.why}


@dataclass(frozen=True)
class Fit:
    score: float
    out_of: float
    parts: list[FitPart]

    def explanation(self) -> list[dict[str, object]]:
        return [part.as_dict() for part in self.parts]


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The weights of every part, each 0..100, not all zero; ValueError names the part."""
    checked = {}
    for part in PARTS:
        value = float(weights.get(part, DEFAULT_WEIGHTS[part]))
        if not 0 <= value <= 100:
            raise ValueError(f"The weight of {PART_LABELS[part].lower()} must be 0 to 100.")
        checked[part] = value
    if sum(checked.values()) <= 0:
        raise ValueError("At least one weight must be above 0.")
    return checked


def _multi_hot(items: Sequence[Sequence], index: Mapping, width: int) -> np.ndarray:
    matrix = np.zeros((len(items), width), dtype=np.float64)
    for row, codes in enumerate(items):
        columns = [index[code] for code in codes if code in index]
        matrix[row, columns] = 1.0
    return matrix


def _band_grades(band: str) -> tuple[str, ...]:
    return vocabulary.GRADE_BANDS.get(band, ())


def part_fractions(
    districts: Sequence[DistrictFacts],
    calls: Sequence[CallFacts],
    offered_students: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Every part as a districts x calls array in [0, 1].

    offered_students: districts x calls, the capacity a volunteer offered (NaN where the
    district did not volunteer: its enrollment in the call's grades is used instead).
    """
    n_grades, n_subjects = len(GRADE_INDEX), len(SUBJECT_INDEX)
    n_platforms, n_pillars = len(PLATFORM_INDEX), len(PILLAR_INDEX)
    served = _multi_hot([d.grades_served for d in districts], GRADE_INDEX, n_grades)
    call_grades = _multi_hot([c.grades for c in calls], GRADE_INDEX, n_grades)
    grade_counts = np.maximum(call_grades.sum(axis=1), 1.0)
    grades_overlap = served @ call_grades.T
    grades = grades_overlap / grade_counts

    # Subject: per district, the subjects of open needs, and those whose band meets the grades.
    call_subjects = _multi_hot([c.subjects for c in calls], SUBJECT_INDEX, n_subjects)
    need_subjects = _multi_hot(
        [[n.subject for n in d.needs] for d in districts], SUBJECT_INDEX, n_subjects
    )
    subject_any = (need_subjects @ call_subjects.T) > 0
    subject_in_grades = np.zeros_like(subject_any)
    for subject, column in SUBJECT_INDEX.items():
        band_grades = _multi_hot(
            [
                [g for n in d.needs if n.subject == subject for g in _band_grades(n.grade_band)]
                for d in districts
            ],
            GRADE_INDEX,
            n_grades,
        )
        meets = (band_grades @ call_grades.T) > 0
        subject_in_grades |= meets & (call_subjects[:, column] > 0)[np.newaxis, :]
    subject = np.where(subject_in_grades, 1.0, np.where(subject_any, 0.5, 0.0))

    need_pillars = _multi_hot(
        [[p for n in d.needs for p in n.pillars] for d in districts], PILLAR_INDEX, n_pillars
    )
    call_pillars = _multi_hot([c.pillars for c in calls], PILLAR_INDEX, n_pillars)
    needs = (need_pillars @ call_pillars.T) / np.maximum(call_pillars.sum(axis=1), 1.0)

    uses = _multi_hot([d.platforms for d in districts], PLATFORM_INDEX, n_platforms)
    runs_on = _multi_hot([c.platforms for c in calls], PLATFORM_INDEX, n_platforms)
    shared = (uses @ runs_on.T) > 0
    no_requirement = runs_on.sum(axis=1) == 0
    platform_half = np.where(shared | no_requirement[np.newaxis, :], 1.0, 0.0)
    devices = np.clip([d.device_ratio for d in districts], 0.0, 1.0)[:, np.newaxis]
    platforms = 0.5 * platform_half + 0.5 * devices

    signed = np.array([float(d.signed_ndpa) for d in districts]).reshape(-1, 1)
    privacy = np.broadcast_to(signed, (len(districts), len(calls)))

    students = _students(districts, grades_overlap, offered_students, len(calls))
    per_site = np.array([max(c.students_per_site, 1) for c in calls], dtype=np.float64)
    capacity = np.clip(students / per_site[np.newaxis, :], 0.0, 1.0)

    profile = np.array([d.has_profile for d in districts], dtype=bool)[:, np.newaxis]
    return {
        "grades": np.where(profile, grades, 0.0),
        "subject": subject,
        "needs": needs,
        "platforms": np.where(profile, platforms, 0.0),
        "privacy": np.where(profile, privacy, 0.0),
        "capacity": capacity,
    }


def _students(
    districts: Sequence[DistrictFacts],
    grades_overlap: np.ndarray,
    offered_students: np.ndarray | None,
    n_calls: int,
) -> np.ndarray:
    """Students each district can bring to each call: what it offered, else an estimate."""
    enrollment = np.array([d.enrollment for d in districts], dtype=np.float64)[:, np.newaxis]
    estimate = enrollment * grades_overlap / len(GRADE_INDEX)
    if offered_students is None:
        return estimate
    offered = np.asarray(offered_students, dtype=np.float64).reshape(len(districts), n_calls)
    return np.where(np.isnan(offered), estimate, offered)


def score_matrix(
    districts: Sequence[DistrictFacts],
    calls: Sequence[CallFacts],
    weights: Mapping[str, float],
    offered_students: np.ndarray | None = None,
) -> np.ndarray:
    """Fit scores, districts x calls, on the scale of the weights' total."""
    fractions = part_fractions(districts, calls, offered_students)
    total = np.zeros((len(districts), len(calls)))
    for part in PARTS:
        total += weights[part] * fractions[part]
    return np.round(total, 1)


def explain(
    district: DistrictFacts,
    call: CallFacts,
    weights: Mapping[str, float],
    offered_students: int | None = None,
) -> Fit:
    """One pair's score and every part with its points and a sentence."""
    offered = np.array([[np.nan if offered_students is None else float(offered_students)]])
    fractions = {
        part: float(values[0, 0])
        for part, values in part_fractions([district], [call], offered).items()
    }
    words = _sentences(district, call, fractions, offered_students)
    parts = [
        FitPart(part, round(weights[part] * fractions[part], 1), weights[part], words[part])
        for part in PARTS
    ]
    score = round(sum(weights[part] * fractions[part] for part in PARTS), 1)
    return Fit(score=score, out_of=round(sum(weights.values()), 1), parts=parts)


# --- words ------------------------------------------------------------------------------------


def grade_words(codes: Sequence[str]) -> str:
    """Grade codes as people write them: "K–2", "3–5", "4, 6"."""
    ordered = sorted({c for c in codes if c in GRADE_INDEX}, key=GRADE_INDEX.__getitem__)
    if not ordered:
        return "none"
    numbers = [GRADE_INDEX[c] for c in ordered]
    names = ["K" if c == "K" else str(int(c[1:])) for c in ordered]
    if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(names) > 1:
        return f"{names[0]}–{names[-1]}"
    return ", ".join(names)


def grade_phrase(codes: Sequence[str]) -> str:
    """ "grade 4" or "grades 3–5"."""
    known = {c for c in codes if c in GRADE_INDEX}
    return f"{'grade' if len(known) == 1 else 'grades'} {grade_words(codes)}"


def _listing(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _sentences(
    district: DistrictFacts,
    call: CallFacts,
    fractions: Mapping[str, float],
    offered_students: int | None,
) -> dict[str, str]:
    no_profile = "The district has no profile yet"
    call_grades = grade_phrase(call.grades)
    both = [g for g in call.grades if g in district.grades_served]
    if not district.has_profile:
        grades = no_profile
    elif fractions["grades"] >= 1:
        grades = f"Serves {call_grades}, which the call needs"
    elif both:
        grades = f"Serves {grade_phrase(both)} of the call's {call_grades}"
    else:
        grades = f"Serves none of the call's grades ({grade_words(call.grades)})"

    subject_names = _listing([vocabulary.SUBJECT_WORDS.get(s, s) for s in call.subjects])
    in_subject = [n for n in district.needs if n.subject in call.subjects]
    in_grades = [n for n in in_subject if set(_band_grades(n.grade_band)) & set(call.grades)]
    if in_grades:
        subject = f"Open need in the call's subject and grades: “{in_grades[0].title}”"
    elif in_subject:
        subject = f"Open need in {subject_names} (“{in_subject[0].title}”), but for other grades"
    else:
        subject = f"No open need in the call's subjects ({subject_names})"

    shared_pillars = sorted({p for n in district.needs for p in n.pillars} & set(call.pillars))
    pillar_names = _listing([vocabulary.PILLAR_WORDS.get(p, str(p)) for p in call.pillars])
    if not call.pillars:
        needs = "The call names no pillars"
    elif shared_pillars:
        needs = (
            "Open needs are tagged "
            + _listing([vocabulary.PILLAR_WORDS[p] for p in shared_pillars])
            + ", which the call addresses"
        )
        if len(shared_pillars) < len(set(call.pillars)):
            needs += f" ({len(shared_pillars)} of its {len(set(call.pillars))} pillars)"
    else:
        needs = f"No open need matches the call's pillars ({pillar_names})"

    if not district.has_profile:
        platforms = no_profile
    else:
        common = [
            vocabulary.PLATFORM_WORDS[p]
            for p in vocabulary.PLATFORMS
            if p in district.platforms and p in call.platforms
        ]
        product = _listing([vocabulary.PLATFORM_WORDS.get(p, p) for p in call.platforms])
        if not call.platforms:
            first = "The product lists no platform"
        elif common:
            first = f"Already uses {_listing(common)}, which the product runs on"
        else:
            first = f"Uses none of the product's platforms ({product})"
        platforms = f"{first}; {district.device_ratio:.2f} devices per student"

    if not district.has_profile:
        privacy = no_profile
    elif district.signed_ndpa:
        privacy = "Signed the national student-data privacy agreement (NDPA)"
    else:
        privacy = "Has not signed the national student-data privacy agreement (NDPA)"

    if offered_students is not None:
        capacity = (
            f"Offers {offered_students:,} students; the call wants "
            f"{call.students_per_site:,} per site"
        )
    elif not district.has_profile:
        capacity = no_profile
    else:
        estimate = round(district.enrollment * len(both) / len(GRADE_INDEX))
        capacity = (
            f"Enrolls about {estimate:,} students in the call's grades; the call wants "
            f"{call.students_per_site:,} per site"
        )
    return {
        "grades": grades,
        "subject": subject,
        "needs": needs,
        "platforms": platforms,
        "privacy": privacy,
        "capacity": capacity,
    }
