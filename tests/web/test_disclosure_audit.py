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

import itertools
import re

import pytest

from tests.web.conftest import sign_in
from tests.web.disclosure_data import Plan, seed_published
from tests.web.test_authorization_matrix import app_routes

PLAN = Plan(
    rows={"treatment": 143, "control": 151},
    missing={"treatment": 4, "control": 2},
    totals_randomized={"treatment": 167, "control": 171},
    totals_analyzed={"treatment": 163, "control": 164},
    english_learners={"treatment": 3, "control": 2},
    gender_x=1,
    late_block=3,
)
# Analyzed at the student-row site: 139 and 149 (288); English learners 3 and 2, the others
# 136 and 147. Over both sites randomized 310 and 322, analyzed 302 and 313.
# (a total, the part of it, the small count their difference gives)
SECRETS = [
    (143, 139, "treatment students lost at the student-row site (4)"),
    (151, 149, "comparison students lost at the student-row site (2)"),
    (167, 163, "treatment students lost at the totals site (4)"),
    (171, 164, "comparison students lost at the totals site (7)"),
    (310, 302, "treatment students lost over both sites (8)"),
    (322, 313, "comparison students lost over both sites (9)"),
    (294, 288, "students lost at the student-row site (6)"),
    (139, 136, "English learners with the product (3)"),
    (149, 147, "English learners in the comparison group (2)"),
    (288, 283, "English learners (5), from the other level or the interaction's df"),
    (288, 287, "a gender group of one left out of the interaction test"),
    (143, 140, "treatment students randomized in a block of their own (3)"),
]
# Degrees of freedom stand for students less the parameters of their model: a t test 2, an
# ANCOVA on the baseline 3 (4 with site effects), an interaction test 2 per level (2-4 levels).
DF_PARAMETERS = {"df_denominator": (4, 6, 8), "ancova": (3, 4), "df": (2,)}
NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?![\d.])|(?<![\w.])-?\d+(?:\.\d+)?")


def _values(path: str, people, published) -> list[dict[str, str]]:
    """Every filling of the route's path parameters worth reading (none: the route is about
    something this pilot does not have, such as an upload job or a matching round)."""
    fillings = []
    for site in (published.student_site, published.totals_site):
        fillings.append(
            {
                "finding_id": str(published.public),
                "pilot_id": str(published.pilot),
                "product_id": str(published.product),
                "district_id": str(site),
                "organization_id": str(site),
                "site_id": str(site),
                "version": "1",
            }
        )
    names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
    if any(name not in fillings[0] for name in names):
        return []
    return fillings if {"site_id", "district_id", "organization_id"} & set(names) else fillings[:1]


def _numbers_in_text(text: str) -> set[float]:
    found = set()
    for match in NUMBER.findall(text):
        try:
            found.add(float(match.replace(",", "")))
        except ValueError:
            continue
    return found


def _parameters(key: str) -> tuple[int, ...]:
    return next((k for name, k in DF_PARAMETERS.items() if name in key), (2,))


def _numbers_in_json(value, key: str = "", out: set[float] | None = None) -> set[float]:
    out = set() if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            # An ANCOVA's df is named "df" inside "ancova": keep the parent's name.
            _numbers_in_json(v, f"{key}.{k}" if k == "df" else str(k), out)
    elif isinstance(value, list):
        for v in value:
            _numbers_in_json(v, key, out)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int | float):
        out.add(float(value))
        if "df" in key.lower() and float(value).is_integer():
            out.update(float(value) + k for k in _parameters(key))
    elif isinstance(value, str):
        out.update(_numbers_in_text(value))
    return out


def _numbers_in_html(text: str) -> set[float]:
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.S)
    visible = re.sub(r"<[^>]+>", " ", text)
    found = _numbers_in_text(visible)
    # The only whole-number df a page prints is the ANCOVA's (a t test's is Welch's, a
    # fraction): students less 3 or 4 parameters.
    for df in re.findall(r"df\s+(\d+)(?![\d.])", visible):
        found.update(float(df) + k for k in DF_PARAMETERS["ancova"])
    return found


def _collect(client, app, people, published) -> dict[float, set[str]]:
    seen: dict[float, set[str]] = {}
    for route in app_routes(app):
        if route.method != "GET" or route.path.startswith("/schema"):
            continue
        # A str id parameter also serves the download formats ("/findings/{id}.json").
        suffixes = ("", ".json", ".csv") if re.search(r"\{\w+:str\}", route.path) else ("",)
        for values, suffix in itertools.product(_values(route.path, people, published), suffixes):
            path = re.sub(
                r"\{(\w+)(?::(\w+))?\}",
                lambda m, v=values, s=suffix: v[m.group(1)] + (s if m.group(2) == "str" else ""),
                route.path,
            )
            response = client.get(path)
            assert response.status_code < 500, f"{path}: {response.status_code}"
            if response.status_code != 200:
                continue
            for number in _numbers_of(response):
                seen.setdefault(number, set()).add(path)
    return seen


def _numbers_of(response) -> set[float]:
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        return _numbers_in_json(response.json())
    if "html" in kind:
        return _numbers_in_html(response.text)
    return _numbers_in_text(response.text)


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


@pytest.mark.parametrize("viewer", ["public", "vendor"])
def test_no_small_count_is_shown_or_derivable(client, app, people, published, viewer):
    if viewer == "vendor":
        sign_in(client, "vendor")
    seen = _collect(client, app, people, published)
    assert len(seen) > 50, "the walk found too few numbers to audit"
    leaks = _recovered(seen)
    assert leaks == [], "small counts recoverable:\n" + "\n".join(leaks)


def test_the_auditor_reaches_every_kind_of_output(client, app, people, published):
    seen = _collect(client, app, people, published)
    walked = set().union(*seen.values())
    pilot, finding, product = published.pilot, published.public, published.product
    for path in (
        f"/findings/{finding}",
        f"/findings/{finding}.json",
        f"/findings/{finding}.csv",
        f"/findings/{finding}/print",
        f"/api/v1/findings/{finding}",
        f"/pilots/{pilot}/data",
        f"/pilots/{pilot}/randomization",
        f"/pilots/{pilot}/randomization/{published.student_site}/verify",
        f"/api/v1/pilots/{pilot}/randomization",
        f"/products/{product}/evidence",
        f"/api/v1/products/{product}/evidence",
        "/network",
        "/network/findings.csv",
        "/api/v1/network/dashboard",
    ):
        assert path in walked, path
    # Counts of 10 or more are shown, so the audit has something to subtract from: the students
    # in the headline estimate (the student-row site's 288), with the product there (139).
    assert {288.0, 139.0} <= set(seen)


def test_the_interaction_test_does_not_give_its_degrees_of_freedom_back(client, published):
    # p is a function of F and both df: at full precision, F and p would pin down the hidden
    # denominator df (students tested less 2 per level). As shown, neighbouring df fit too.
    from scipy import stats

    results = client.get(f"/api/v1/findings/{published.public}").json()
    results = results.get("results", results)
    gender = next(s for s in results["subgroups"] if s["name"] == "gender")
    interaction = gender["interaction"]
    assert interaction["df_denominator"] is None
    shown_f, shown_p, df1 = interaction["statistic"], interaction["p"], interaction["df_numerator"]

    def fits(df2: int) -> bool:
        return any(
            float(f"{stats.f.sf(shown_f + step / 1000, df1, df2):.2g}") == shown_p
            for step in range(-5, 6)
        )

    tested = 287  # every analyzed student but the one of gender "x"
    true_df2 = tested - 2 * 2  # two levels tested
    assert fits(true_df2) and fits(true_df2 - 1) and fits(true_df2 + 1)


def test_a_tiny_arms_tests_do_not_give_their_students_back(client, call, people):
    # Student rows of 6 + 6 (the totals site is large): the arms are hidden, and the ANCOVA's
    # t and p, shown as printed, fit neighbouring df as well as the true one (12 - 3 = 9).
    from scipy import stats

    tiny = Plan(
        rows={"treatment": 6, "control": 6},
        missing={"treatment": 0, "control": 0},
        english_learners={"treatment": 0, "control": 0},
    )
    published = call(seed_published, people, tiny)
    _collect(client, client.app, people, published)  # every page renders with the arms hidden
    results = client.get(f"/api/v1/findings/{published.public}").json()
    results = results.get("results", results)
    primary = next(o for o in results["outcomes"] if o["primary"])
    assert all(arm["n"] is None for arm in primary["arms"].values())
    ancova = primary["ancova"]
    assert ancova["df"] is None and primary["test"]["df"] is None

    def fits(df: int) -> bool:
        return any(
            float(f"{2 * stats.t.sf(abs(ancova['t']) + step / 1000, df):.2g}") == ancova["p"]
            for step in range(-5, 6)
        )

    assert sum(fits(df) for df in range(5, 14)) >= 2
