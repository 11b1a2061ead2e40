"""Design documents: validation with every problem tied to its field, the editor's form in both
directions, and the field-by-field difference between two versions."""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

from testbed import vocabulary
from testbed.designs.schemas import DesignDocument
from testbed.errors import InvalidInput

OUTCOME_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ARM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_TEXT = 2000
MAX_OUTCOME_ROWS = 20
EMPTY_OUTCOME_ROWS = 3

DESIGN_TYPE_WORDS = {
    "rct": "Randomized controlled trial (students are assigned)",
    "cluster_rct": "Cluster randomized trial (classrooms or schools are assigned)",
    "quasi_experiment": "Matched comparison group (quasi-experiment)",
    "pre_post": "Single group, before and after (pre/post)",
}
UNIT_WORDS = {"student": "Students", "classroom": "Classrooms", "school": "Schools"}
KIND_WORDS = {"continuous": "Continuous (a score)", "binary": "Binary (yes/no)", "count": "Count"}
DIRECTION_WORDS = {"higher_is_better": "Higher is better", "lower_is_better": "Lower is better"}
UNITS_FOR_TYPE = {
    "rct": ("student",),
    "cluster_rct": ("classroom", "school"),
    "quasi_experiment": ("student", "classroom", "school"),
    "pre_post": ("student", "classroom", "school"),
}
RANDOMIZED_TYPES = frozenset({"rct", "cluster_rct"})

OUTCOME_FIELDS = ("name", "label", "kind", "direction", "instrument", "unit", "min", "max")


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _msgspec_field(error: msgspec.ValidationError) -> str:
    # "Expected `int`, got `str` - at `$.outcomes[0].min`" -> "outcomes.0.min"
    found = re.search(r"at `\$\.?([^`]*)`", str(error))
    if not found:
        return "document"
    return re.sub(r"\[(\d+)\]", r".\1", found.group(1)) or "document"


def _semantic_problems(design: DesignDocument) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    questions = [q for q in design.research_questions if q.strip()]
    if not questions:
        problems.append(_problem("research_questions", "Write at least one research question."))
    if any(len(q) > MAX_TEXT for q in design.research_questions):
        problems.append(
            _problem("research_questions", f"Keep each question under {MAX_TEXT} characters.")
        )
    if design.unit_of_assignment not in UNITS_FOR_TYPE[design.design_type]:
        allowed = " or ".join(UNITS_FOR_TYPE[design.design_type])
        problems.append(
            _problem(
                "unit_of_assignment",
                f"A {DESIGN_TYPE_WORDS[design.design_type].lower()} assigns {allowed}s.",
            )
        )
    problems += _arm_problems(design)
    problems += _outcome_problems(design)
    unknown = [code for code in design.subgroups if code not in vocabulary.SUBGROUP_WORDS]
    if unknown:
        problems.append(
            _problem("subgroups", f"Unknown subgroup(s): {', '.join(unknown)}; pick from the list.")
        )
    if len(set(design.subgroups)) != len(design.subgroups):
        problems.append(_problem("subgroups", "List each subgroup once."))
    effect = design.minimum_meaningful_effect
    if not (math.isfinite(effect) and effect > 0):
        problems.append(
            _problem(
                "minimum_meaningful_effect",
                "The minimum meaningful effect is a positive number of standard deviations, "
                "e.g. 0.15.",
            )
        )
    elif effect > 3:
        problems.append(
            _problem("minimum_meaningful_effect", "An effect above 3 SD is not plausible.")
        )
    if not (0 <= design.icc < 1):
        problems.append(_problem("icc", "The ICC is at least 0 and below 1 (e.g. 0.20)."))
    if design.planned_sites < 1:
        problems.append(_problem("planned_sites", "Plan at least one site."))
    if design.planned_students_per_site < 1:
        problems.append(_problem("planned_students_per_site", "Plan at least one student."))
    if design.students_per_cluster is not None and design.students_per_cluster < 2:
        problems.append(_problem("students_per_cluster", "A cluster has at least 2 students."))
    plan = design.analysis_plan
    if not (0 < plan.alpha <= 0.2):
        problems.append(_problem("analysis_plan.alpha", "Alpha is above 0 and at most 0.2."))
    covariates = [c.strip() for c in plan.covariates]
    if any(not c for c in covariates) or len(set(covariates)) != len(covariates):
        problems.append(_problem("analysis_plan.covariates", "Name each covariate once."))
    if len(plan.missing_data) > MAX_TEXT:
        problems.append(
            _problem("analysis_plan.missing_data", f"Keep this under {MAX_TEXT} characters.")
        )
    return problems


def _arm_problems(design: DesignDocument) -> list[dict[str, str]]:
    arms = design.arms
    if not arms:
        return [_problem("arms", "Name the arms, e.g. treatment, control.")]
    problems = []
    if len(set(arms)) != len(arms):
        problems.append(_problem("arms", "Each arm needs a different name."))
    bad = [arm for arm in arms if not ARM_NAME.match(arm)]
    if bad:
        problems.append(
            _problem(
                "arms",
                f"Arm names are short lowercase words (letters, digits, _): {', '.join(bad)}.",
            )
        )
    if design.design_type == "pre_post" and len(arms) != 1:
        problems.append(_problem("arms", "A single-group pre/post design has exactly one arm."))
    if design.design_type != "pre_post" and len(arms) < 2:
        problems.append(_problem("arms", "A comparison needs at least two arms."))
    return problems


def _outcome_problems(design: DesignDocument) -> list[dict[str, str]]:
    outcomes = design.outcomes
    if not outcomes:
        return [_problem("outcomes", "Add at least one outcome, and mark it primary.")]
    problems = []
    primaries = [i for i, outcome in enumerate(outcomes) if outcome.primary]
    if not primaries:
        problems.append(_problem("outcomes", "Mark exactly one outcome as primary; none is."))
    elif len(primaries) > 1:
        problems.append(
            _problem(
                "outcomes",
                f"Mark exactly one outcome as primary; {len(primaries)} are. The primary outcome "
                "is the one the pilot's verdict rests on.",
            )
        )
        problems += [
            _problem(f"outcomes.{i}.primary", "Only one outcome can be primary.") for i in primaries
        ]
    seen: set[str] = set()
    for i, outcome in enumerate(outcomes):
        if not OUTCOME_NAME.match(outcome.name):
            problems.append(
                _problem(
                    f"outcomes.{i}.name",
                    "Use a short lowercase name: a letter, then letters, digits or _ "
                    "(at most 64), e.g. math_scale_score.",
                )
            )
        elif outcome.name in seen:
            problems.append(_problem(f"outcomes.{i}.name", "Another outcome has this name."))
        seen.add(outcome.name)
        if not outcome.label.strip():
            problems.append(_problem(f"outcomes.{i}.label", "Say in words what is measured."))
        for bound in ("min", "max"):
            value = getattr(outcome, bound)
            if value is not None and not math.isfinite(value):
                problems.append(_problem(f"outcomes.{i}.{bound}", "Enter a finite number."))
        if outcome.min is not None and outcome.max is not None and outcome.min >= outcome.max:
            problems.append(
                _problem(f"outcomes.{i}.max", "The maximum must be greater than the minimum.")
            )
    return problems


def validate_document(raw: Any) -> dict[str, Any]:
    """The normalized document (plain JSON), or InvalidInput listing every problem by field."""
    try:
        design = msgspec.convert(raw, DesignDocument)
    except msgspec.ValidationError as error:
        raise InvalidInput(
            "The design is not valid.",
            errors=[_problem(_msgspec_field(error), str(error).split(" - at ")[0])],
        ) from None
    problems = _semantic_problems(design)
    if problems:
        raise InvalidInput(_summary(problems), errors=problems)
    return to_plain(design)


def to_plain(design: DesignDocument) -> dict[str, Any]:
    document = msgspec.to_builtins(design)
    document["research_questions"] = [q.strip() for q in document["research_questions"]]
    document["baseline_measure"] = (document.get("baseline_measure") or "").strip() or None
    if document.get("students_per_cluster") is None:
        document.pop("students_per_cluster", None)
    return document


def _summary(problems: list[dict[str, str]]) -> str:
    count = len(problems)
    return f"The design has {count} problem{'s' if count != 1 else ''}; see the marked fields."


# --- the editor's form ------------------------------------------------------------------------


def _number(form: dict[str, str], name: str, problems: list, *, whole: bool = False):
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        problems.append(_problem(name, "Enter a whole number." if whole else "Enter a number."))
        return None
    if not whole and not math.isfinite(value):
        problems.append(_problem(name, "Enter a finite number."))
        return None
    return value


def outcome_row_count(form: dict[str, str]) -> int:
    try:
        rows = int(form.get("outcome_rows", ""))
    except ValueError:
        rows = EMPTY_OUTCOME_ROWS
    return max(1, min(rows, MAX_OUTCOME_ROWS))


def document_from_form(form: dict[str, str]) -> dict[str, Any]:
    """Parse the editor's form into a normalized document, or raise InvalidInput with every
    problem named by the form field it belongs to."""
    problems: list[dict[str, str]] = []
    rows: list[int] = []
    outcomes = []
    for row in range(outcome_row_count(form)):
        texts = {f: form.get(f"outcomes.{row}.{f}", "").strip() for f in OUTCOME_FIELDS}
        if not any(texts[f] for f in ("name", "label", "instrument", "unit", "min", "max")):
            continue  # an empty spare row
        rows.append(row)
        outcomes.append(
            {
                "name": texts["name"],
                "label": texts["label"],
                "kind": texts["kind"] or "continuous",
                "primary": form.get(f"outcomes.{row}.primary") == "on",
                "direction": texts["direction"] or "higher_is_better",
                "instrument": texts["instrument"],
                "unit": texts["unit"],
                "min": _number(form, f"outcomes.{row}.min", problems),
                "max": _number(form, f"outcomes.{row}.max", problems),
            }
        )
    design_type = form.get("design_type", "")
    arms = [arm.strip() for arm in form.get("arms", "").split(",") if arm.strip()]
    raw = {
        "design_type": design_type,
        "unit_of_assignment": form.get("unit_of_assignment", ""),
        "arms": arms,
        "research_questions": [
            line.strip() for line in form.get("research_questions", "").splitlines() if line.strip()
        ],
        "outcomes": outcomes,
        "baseline_measure": form.get("baseline_measure", "").strip() or None,
        "subgroups": [c for c in vocabulary.SUBGROUPS if form.get(f"subgroup.{c}") == "on"],
        "minimum_meaningful_effect": _number(form, "minimum_meaningful_effect", problems),
        "icc": _number(form, "icc", problems),
        "planned_sites": _number(form, "planned_sites", problems, whole=True),
        "planned_students_per_site": _number(
            form, "planned_students_per_site", problems, whole=True
        ),
        "students_per_cluster": _number(form, "students_per_cluster", problems, whole=True),
        "analysis_plan": {
            "covariates": [c.strip() for c in form.get("covariates", "").split(",") if c.strip()],
            "missing_data": form.get("missing_data", "").strip(),
            "alpha": _number(form, "alpha", problems),
        },
    }
    required = {
        "minimum_meaningful_effect": "Enter the smallest effect (in SD) that would matter.",
        "planned_sites": "Enter the number of sites.",
        "planned_students_per_site": "Enter the students per site.",
    }
    for name, message in required.items():
        if raw[name] is None and not any(p["field"] == name for p in problems):
            problems.append(_problem(name, message))
    if design_type not in DESIGN_TYPE_WORDS:
        problems.append(_problem("design_type", "Choose a design type."))
    if raw["unit_of_assignment"] not in UNIT_WORDS:
        problems.append(_problem("unit_of_assignment", "Choose the unit of assignment."))
    if raw["icc"] is None:
        raw["icc"] = 0.2
    if raw["analysis_plan"]["alpha"] is None:
        raw["analysis_plan"]["alpha"] = 0.05
    if problems:
        # Check what can be checked, so the person sees every problem at once.
        placeholder = {k: (1 if raw[k] is None else raw[k]) for k in required}
        if design_type not in DESIGN_TYPE_WORDS:
            placeholder["design_type"] = "quasi_experiment"
        if raw["unit_of_assignment"] not in UNIT_WORDS:
            placeholder["unit_of_assignment"] = "student"
        try:
            validate_document({**raw, **placeholder})
        except InvalidInput as error:
            marked = {problem["field"] for problem in problems}
            problems += [p for p in error.errors if p["field"] not in marked]
        raise InvalidInput(_summary(problems), errors=_form_fields(problems, rows))
    try:
        return validate_document(raw)
    except InvalidInput as error:
        raise InvalidInput(error.detail, errors=_form_fields(error.errors, rows)) from None


def _form_fields(problems: list[dict[str, str]], rows: list[int]) -> list[dict[str, str]]:
    """Problems about the n-th outcome belong to the form row it came from; the form's own
    fields for the analysis plan have short names."""
    renamed = []
    for problem in problems:
        field = problem["field"]
        found = re.match(r"outcomes\.(\d+)\.(\w+)$", field)
        if found and int(found.group(1)) < len(rows):
            field = f"outcomes.{rows[int(found.group(1))]}.{found.group(2)}"
        field = field.removeprefix("analysis_plan.")
        renamed.append({**problem, "field": field})
    return renamed


def form_from_document(document: dict[str, Any] | None, *, extra_rows: int = 1) -> dict[str, str]:
    """The editor's form values for a document (or the defaults for a new design)."""
    if document is None:
        return {
            "design_type": "rct",
            "unit_of_assignment": "student",
            "arms": "treatment, control",
            "icc": "0.2",
            "alpha": "0.05",
            "covariates": "baseline",
            "outcome_rows": str(EMPTY_OUTCOME_ROWS),
            "outcomes.0.primary": "on",
        }
    plan = document.get("analysis_plan") or {}
    values = {
        "design_type": document.get("design_type", ""),
        "unit_of_assignment": document.get("unit_of_assignment", ""),
        "arms": ", ".join(document.get("arms", [])),
        "research_questions": "\n".join(document.get("research_questions", [])),
        "baseline_measure": document.get("baseline_measure") or "",
        "minimum_meaningful_effect": _text(document.get("minimum_meaningful_effect")),
        "icc": _text(document.get("icc")),
        "planned_sites": _text(document.get("planned_sites")),
        "planned_students_per_site": _text(document.get("planned_students_per_site")),
        "students_per_cluster": _text(document.get("students_per_cluster")),
        "covariates": ", ".join(plan.get("covariates", [])),
        "missing_data": plan.get("missing_data", ""),
        "alpha": _text(plan.get("alpha")),
    }
    for code in document.get("subgroups", []):
        values[f"subgroup.{code}"] = "on"
    outcomes = document.get("outcomes", [])
    for i, outcome in enumerate(outcomes):
        for field in OUTCOME_FIELDS:
            values[f"outcomes.{i}.{field}"] = _text(outcome.get(field))
        if outcome.get("primary"):
            values[f"outcomes.{i}.primary"] = "on"
    values["outcome_rows"] = str(len(outcomes) + extra_rows)
    return values


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- differences between versions --------------------------------------------------------------


def _flatten(value: Any, path: str, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}" if path else key, into)
    elif path == "outcomes" and isinstance(value, list):
        # Outcomes are matched by name, so adding one does not make every later one "changed".
        for position, outcome in enumerate(value):
            name = outcome.get("name") if isinstance(outcome, dict) else None
            _flatten(outcome, f"outcomes[{name or position}]", into)
    else:
        into[path] = value


def flatten(document: dict[str, Any]) -> dict[str, Any]:
    into: dict[str, Any] = {}
    _flatten(document, "", into)
    return into


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(path, old value, new value) for every field that differs; None where a field is absent."""
    before, after = flatten(old), flatten(new)
    changes = []
    for path in sorted(set(before) | set(after)):
        old_value, new_value = before.get(path), after.get(path)
        if old_value != new_value or type(old_value) is not type(new_value):
            if old_value == new_value and {type(old_value), type(new_value)} <= {int, float}:
                continue  # 100 and 100.0 say the same thing
            changes.append((path, old_value, new_value))
    return changes
