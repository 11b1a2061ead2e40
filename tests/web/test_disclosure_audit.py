"""The disclosure auditor: no count of 1 to 9 students reaches the public or a vendor, shown or
worked out by subtraction (degrees of freedom included).

A published pilot is seeded with small groups: a subgroup level of 3 + 2 students, a level of
one student (left out of the interaction test), a student-row site that lost 4 and 2 students,
and a totals-only site that lost 4 and 7. Every GET route of the app (walked from its route
table, as the authorization matrix does, so new pages are covered) is read as the public and
as the vendor; every number of every answer (HTML text, JSON, CSV) is collected, and each
degree of freedom also stands for the students it implies (df + 1 ... df + 8 parameters).

A small count is recovered when both terms of a subtraction that gives it are shown: the
pairs come from the seed's true counts (a total and the part of it that is shown). Numbers
are chosen so that the pairs are distinctive.
"""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import sign_in
from tests.web.disclosure_data import Plan, seed_published
from tests.web.test_authorization_matrix import app_routes

PLAN = Plan(
    rows={"treatment": 80, "control": 80},
    missing={"treatment": 4, "control": 2},
    totals_randomized={"treatment": 60, "control": 60},
    totals_analyzed={"treatment": 56, "control": 53},
    english_learners={"treatment": 3, "control": 2},
    gender_x=1,
)
# Analyzed at the student-row site: 76 and 78; English learners 3 and 2, others 73 and 76.
# (a total shown, the part of it shown, the small count their difference gives)
SECRETS = [
    (80, 76, "treatment students lost at the student-row site (4)"),
    (80, 78, "control students lost at the student-row site (2)"),
    (60, 56, "treatment students lost at the totals site (4)"),
    (60, 53, "control students lost at the totals site (7)"),
    (140, 132, "treatment students lost over both sites (8)"),
    (140, 131, "control students lost over both sites (9)"),
    (76, 73, "English learners with the product (3)"),
    (78, 76, "English learners in the comparison group (2)"),
    (154, 149, "English learners tested (5), from the interaction's degrees of freedom"),
    (154, 153, "a gender group of one left out of the interaction test"),
    (160, 154, "students without an outcome at the student-row site (6)"),
]
DF_PARAMETERS = range(1, 9)
NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?![\d.])|(?<![\w.])-?\d+(?:\.\d+)?")


def _values(path: str, people, published) -> dict[str, str] | None:
    known = {
        "finding_id": str(published.public),
        "pilot_id": str(published.pilot),
        "product_id": str(published.product),
        "district_id": str(published.student_site),
        "site_id": str(published.totals_site),
    }
    names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
    if any(name not in known for name in names):
        return None
    return known


def _numbers_in_text(text: str) -> set[float]:
    found = set()
    for match in NUMBER.findall(text):
        try:
            found.add(float(match.replace(",", "")))
        except ValueError:
            continue
    return found


def _numbers_in_json(value, key: str = "", out: set[float] | None = None) -> set[float]:
    out = set() if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            _numbers_in_json(v, str(k), out)
    elif isinstance(value, list):
        for v in value:
            _numbers_in_json(v, key, out)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int | float):
        out.add(float(value))
        if "df" in key.lower():
            out.update(float(value) + k for k in DF_PARAMETERS)
    elif isinstance(value, str):
        out.update(_numbers_in_text(value))
    return out


def _numbers_in_html(text: str) -> set[float]:
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.S)
    visible = re.sub(r"<[^>]+>", " ", text)
    found = _numbers_in_text(visible)
    for df in re.findall(r"df\s+([\d.]+)", visible):
        found.update(float(df) + k for k in DF_PARAMETERS)
    return found


def _collect(client, app, people, published) -> dict[float, set[str]]:
    seen: dict[float, set[str]] = {}
    for route in app_routes(app):
        if route.method != "GET" or route.path.startswith("/schema"):
            continue
        values = _values(route.path, people, published)
        if values is None:
            continue
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m, v=values: v[m.group(1)], route.path)
        response = client.get(path)
        if response.status_code != 200:
            continue
        kind = response.headers.get("content-type", "")
        if "json" in kind:
            numbers = _numbers_in_json(response.json())
        elif "html" in kind:
            numbers = _numbers_in_html(response.text)
        else:
            numbers = _numbers_in_text(response.text)
        for number in numbers:
            seen.setdefault(number, set()).add(path)
    return seen


def _recovered(seen: dict[float, set[str]]) -> list[str]:
    found = []
    for total, part, what in SECRETS:
        if float(total) in seen and float(part) in seen:
            found.append(
                f"{what}: {total} (on {sorted(seen[total])[:3]}) minus {part} "
                f"(on {sorted(seen[part])[:3]})"
            )
    return found


@pytest.fixture
def published(call, people):
    return call(seed_published, people, PLAN)


@pytest.mark.xfail(
    strict=True,
    reason="leaks remain (issue 16): per-state students reached on the dashboard minus students "
    "analyzed; the interaction F test's df with a level left out; arms' n next to the design's "
    "planned figures. Some pairs are coincidences of this seed (80 and 60 on the design page) "
    "and need more distinctive counts.",
)
@pytest.mark.parametrize("viewer", ["public", "vendor"])
def test_no_small_count_is_shown_or_derivable(client, app, people, published, viewer):
    if viewer == "vendor":
        sign_in(client, "vendor")
    seen = _collect(client, app, people, published)
    assert len(seen) > 50, "the walk found too few numbers to audit"
    leaks = _recovered(seen)
    assert leaks == [], "small counts recoverable:\n" + "\n".join(leaks)


def test_the_auditor_sees_the_finding_it_audits(client, app, people, published):
    # The walk reaches the finding's JSON, which carries the students analyzed (a total >= 10).
    seen = _collect(client, app, people, published)
    assert any(f"/findings/{published.public}" in path for path in seen.get(263.0, set()))
