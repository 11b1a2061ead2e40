"""The upload checks as pure functions: every rule, the order and limit of the problems
listed, identifier columns, pseudonymization, aggregates."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.uploads import validation
from testbed.uploads.pseudonymize import pilot_key, pseudonymizer
from testbed.uploads.validation import (
    MAX_PROBLEMS_LISTED,
    OutcomeRule,
    UploadRejected,
    UploadRules,
    identifier_like,
    validate_aggregates,
    validate_students,
)

RULES = UploadRules(
    arms=("treatment", "control"),
    outcomes=(
        OutcomeRule("score", "continuous", 100, 300, primary=True),
        OutcomeRule("met", "binary", 0, 1),
        OutcomeRule("absent", "count", 0, None),
    ),
    has_baseline=True,
)
HEADER = "student_key,arm,baseline,score,met,absent"
HASH = pseudonymizer(b"k" * 32)


def check(text: str, rules: UploadRules = RULES):
    return validate_students(text.encode(), rules, HASH)


def problems(text: str, rules: UploadRules = RULES) -> list[tuple]:
    with pytest.raises(UploadRejected) as caught:
        check(text, rules)
    return [tuple(problem) for problem in caught.value.problems]


def test_a_good_file_is_returned_column_by_column_with_keys_hashed():
    data = check(f"{HEADER}\nA1,treatment,190,210.5,1,3\nA2,Control,,,,\n")
    assert len(data) == 2
    assert data.arm == ["treatment", "control"]
    assert data.student_key == HASH(["A1", "A2"])
    assert np.isnan(data.baseline[1]) and data.baseline[0] == 190
    assert data.outcomes["score"][0] == 210.5 and np.isnan(data.outcomes["score"][1])
    assert data.whole_outcomes == {"met", "absent"}


def test_headers_match_without_case_or_spaces_and_optional_columns_may_be_added():
    data = check(
        " Student_Key ,ARM,baseline,score,met,absent,Dosage,frl\nA1,treatment,1,200,0,0,30,Yes\n"
    )
    assert data.dosage[0] == 30 and data.frl == [True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{HEADER},shoe_size\nA,treatment,1,200,1,0,9\n", (1, "shoe_size", "Unknown column")),
        (
            "student_key,arm,baseline,score,met\nA,treatment,1,200,1\n",
            (1, "absent", "Missing column"),
        ),
        (f"{HEADER},arm\nA,treatment,1,200,1,0,control\n", (1, "arm", "more than once")),
        (f"{HEADER}\nA,treatment,1,abc,1,0\n", (2, "score", "Not a number")),
        (f"{HEADER}\nA,treatment,1,nan,1,0\n", (2, "score", "Not a number")),
        (f"{HEADER}\nA,treatment,1,inf,1,0\n", (2, "score", "Not a number")),
        (f"{HEADER}\nA,treatment,1,99.9,1,0\n", (2, "score", "Below the minimum, 100")),
        (f"{HEADER}\nA,treatment,1,300.1,1,0\n", (2, "score", "Above the maximum, 300")),
        (f"{HEADER}\nA,treatment,1,200,0.5,0\n", (2, "met", "Not 0 or 1")),
        (f"{HEADER}\nA,treatment,1,200,1,-1\n", (2, "absent", "Below the minimum, 0")),
        (f"{HEADER}\nA,treatment,1,200,1,2.5\n", (2, "absent", "Not a whole number")),
        (f"{HEADER}\n,treatment,1,200,1,0\n", (2, "student_key", "The student key is blank.")),
        (f"{HEADER}\na@b.org,treatment,1,200,1,0\n", (2, "student_key", "looks like an email")),
        (f"{HEADER}\n{'x' * 101},treatment,1,200,1,0\n", (2, "student_key", "longer than 100")),
        (f"{HEADER}\nA,,1,200,1,0\n", (2, "arm", "The arm is blank.")),
        (f"{HEADER}\nA,placebo,1,200,1,0\n", (2, "arm", "Not an arm of this design")),
        (f"{HEADER}\nA,treatment,1,200,1,0\nA,control,1,200,1,0\n", (3, "student_key", "as row 2")),
        (f"{HEADER}\nA,treatment,1,200\n", (2, None, "This row has 4 cells; the header has 6.")),
        (f"{HEADER},gender\nA,treatment,1,200,1,0,q\n", (2, "gender", "Not a gender code")),
        (f"{HEADER},dosage\nA,treatment,1,200,1,0,-5\n", (2, "dosage", "Below the minimum, 0")),
        (f"{HEADER}\n", (None, None, "header but no rows")),
        ("", (None, None, "The file is empty.")),
        ("  \n\n", (None, None, "The file is empty.")),
    ],
)
def test_each_rule(text, expected):
    found = problems(text)
    assert any(
        row == expected[0] and column == expected[1] and expected[2] in message
        for row, column, message in found
    ), found


def test_blank_lines_are_skipped_but_rows_keep_their_spreadsheet_numbers():
    found = problems(f"{HEADER}\nA,treatment,1,200,1,0\n\nB,treatment,1,999,1,0\n")
    assert found == [(4, "score", "Above the maximum, 300.")]


def test_cluster_designs_need_the_cluster():
    rules = UploadRules(arms=RULES.arms, outcomes=RULES.outcomes[:1], needs_cluster=True)
    assert problems("student_key,arm,score\nA,treatment,200\n", rules) == [
        (1, "cluster", "Missing column. The header must include: student_key, arm, cluster, score.")
    ]
    found = problems("student_key,arm,cluster,score\nA,treatment,,200\n", rules)
    assert found == [(2, "cluster", "The cluster is blank; this design assigns clusters.")]


def test_the_randomization_fills_and_checks_arms():
    rules = UploadRules(
        arms=RULES.arms, outcomes=RULES.outcomes[:1], assignment={"A": "treatment", "B": "control"}
    )
    data = check("student_key,score\nA,200\nB,210\n", rules)
    assert data.arm == ["treatment", "control"]
    assert problems("student_key,arm,score\nA,control,200\nC,,200\n", rules) == [
        (2, "arm", "The randomization assigned this student to treatment."),
        (3, "arm", "The arm is blank and the randomization has no entry for this student."),
    ]
    by_cluster = UploadRules(
        arms=RULES.arms, outcomes=RULES.outcomes[:1], needs_cluster=True,
        assignment={"room-1": "control"}, assignment_unit="cluster",
    )  # fmt: skip
    assert problems("student_key,arm,cluster,score\nA,treatment,room-1,200\n", by_cluster) == [
        (2, "arm", "The randomization assigned this cluster to control.")
    ]


def test_encoding_size_and_byte_order_mark():
    with pytest.raises(UploadRejected) as caught:
        validate_students(f"{HEADER}\nA,tr\xe9atment,1,200,1,0\n".encode("latin-1"), RULES, HASH)
    assert caught.value.problems[0].row == 2
    assert "byte 46" in caught.value.problems[0].message
    utf16 = f"{HEADER}\nA,treatment,1,200,1,0\n".encode("utf-16-le")
    with pytest.raises(UploadRejected, match="problem"):
        validate_students(utf16, RULES, HASH)
    small = UploadRules(arms=RULES.arms, outcomes=RULES.outcomes, max_bytes=10)
    with pytest.raises(UploadRejected) as caught:
        validate_students(f"{HEADER}\n".encode(), small, HASH)
    assert "the limit is 0.0 MB" in caught.value.problems[0].message
    assert (
        len(validate_students(f"\ufeff{HEADER}\nA,treatment,1,200,1,0\n".encode(), RULES, HASH))
        == 1
    )


def test_every_problem_is_counted_and_the_first_100_listed_in_file_order():
    rows = "\n".join(f"K{n},treatment,1,999,7,-1" for n in range(1000))
    with pytest.raises(UploadRejected) as caught:
        check(f"{HEADER}\n{rows}\n")
    assert caught.value.count == 3000
    listed = caught.value.problems
    assert len(listed) == MAX_PROBLEMS_LISTED
    assert [p.row for p in listed] == sorted(p.row for p in listed)
    assert listed[0].row == 2 and listed[-1].row == 35


def test_identifier_columns_are_refused_and_rows_are_not_read():
    found = problems(
        "student_key,First Name,Guardian E-mail,Date of Birth,arm,score\nA,Ann,a@b,x,t,1\n"
    )
    assert {column for _, column, _ in found} == {
        "First Name",
        "Guardian E-mail",
        "Date of Birth",
        "baseline",
        "met",
        "absent",
    }
    assert all(row == 1 for row, _, _ in found)


@pytest.mark.parametrize(
    "name",
    ["name", "Student Name", "first_name", "LastName", "email", "e-mail", "DOB", "birthdate",
     "date_of_birth", "Home Address", "street", "phone", "Telephone", "SSN",
     "social_security_number", "state_student_id", "SIS ID", "student_id"],
)  # fmt: skip
def test_identifier_names(name):
    assert identifier_like(name)


@pytest.mark.parametrize(
    "name", ["student_key", "arm", "cluster", "baseline", "math_scale_score", "dosage", "frl"]
)
def test_ordinary_names_are_not_identifiers(name):
    assert not identifier_like(name)


def test_student_keys_are_keyed_blake2b_under_the_pilots_hmac_derived_key():
    key = pilot_key("secret", 7)
    assert key == hmac.new(b"secret", b"pilot:7", hashlib.sha256).digest()
    for text in ("S1", "é", ""):
        expected = hashlib.blake2b(text.encode(), key=key, digest_size=32).hexdigest()
        assert pseudonymizer(key)([text]) == [expected]


def test_keyed_blake2b_matches_the_rfc_7693_test_vector():
    # RFC 7693, Appendix A: BLAKE2b-512 of "abc" (no key), first and last bytes; and the
    # reference implementation's keyed test vector for the empty message (blake2b-kat.txt,
    # key 00 01 ... 3f), first bytes.
    assert hashlib.blake2b(b"abc").hexdigest().startswith("ba80a53f981c4d0d")
    assert hashlib.blake2b(b"abc").hexdigest().endswith("d4009923")
    keyed = hashlib.blake2b(b"", key=bytes(range(64))).hexdigest()
    assert keyed.startswith("10ebb67700b1868efb4417987acf4690")


AGGREGATE_RULES = UploadRules(
    arms=("treatment", "control"),
    outcomes=(OutcomeRule("score", "continuous", 100, 300, True), OutcomeRule("met", "binary")),
)
AGGREGATES = (
    "arm,outcome,randomized,n,mean,sd,successes\n"
    "treatment,score,50,45,210,20,\ncontrol,score,48,44,205,21,\n"
    "treatment,met,50,45,,,30\ncontrol,met,48,44,,,25\n"
)


def test_aggregates():
    rows = validate_aggregates(AGGREGATES.encode(), AGGREGATE_RULES)
    assert [(r.arm, r.outcome, r.randomized, r.n) for r in rows][:2] == [
        ("treatment", "score", 50, 45),
        ("control", "score", 48, 44),
    ]
    assert rows[2].successes == 30 and rows[2].mean is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "control,score,48,44,205,21,",
            "control,score,48,49,205,21,",
            (3, "n", "more than the students randomized"),
        ),
        ("control,score,48,44,205,21,", "control,score,48,44,205,0,", (3, "sd", "more than 0")),
        (
            "control,score,48,44,205,21,",
            "control,score,48,44,,21,",
            (3, "mean", "The mean is blank"),
        ),
        (
            "control,score,48,44,205,21,",
            "control,score,48,44,400,21,",
            (3, "mean", "above the maximum"),
        ),
        ("control,met,48,44,,,25", "control,met,48,44,,,45", (5, "successes", "more than n")),
        ("control,met,48,44,,,25", "control,met,48,44,0.5,,25", (5, "mean", "takes successes")),
        ("control,met,48,44,,,25", "control,met,47,44,,,25", (5, "randomized", "Row 3 says 48")),
        (
            "control,met,48,44,,,25",
            "control,score,48,44,205,21,",
            (5, "outcome", "also appear in row 3"),
        ),
        ("control,met,48,44,,,25", "placebo,met,48,44,,,25", (5, "arm", "Not an arm")),
        ("control,met,48,44,,,25", "control,reading,48,44,,,25", (5, "outcome", "Not an outcome")),
        ("control,met,48,44,,,25\n", "", (None, None, "No row for arm control and outcome met")),
    ],
)
def test_aggregate_rules(old, new, expected):
    with pytest.raises(UploadRejected) as caught:
        validate_aggregates(AGGREGATES.replace(old, new).encode(), AGGREGATE_RULES)
    found = [tuple(p) for p in caught.value.problems]
    assert any(
        row == expected[0] and column == expected[1] and expected[2] in message
        for row, column, message in found
    ), found


# --- the two readers agree ---------------------------------------------------------------------
# validate_students reads a clean file column-wise with Arrow and anything else row by row.
# Whatever the file, the column-wise reader either gives way (None) or returns exactly what the
# row-by-row reader returns; it never accepts a file the row-by-row reader refuses.

FULL_RULES = UploadRules(
    arms=("treatment", "control"),
    outcomes=(
        OutcomeRule("score", "continuous", 100, 300, primary=True),
        OutcomeRule("met", "binary", 0, 1),
        OutcomeRule("absent", "count", 0, None),
    ),
    needs_cluster=True,
    has_baseline=True,
)
FULL_HEADER = (
    "student_key,arm,cluster,frl,el,swd,gender,race_ethnicity,baseline,dosage,score,met,absent"
)


def _both_readers(data: bytes, rules: UploadRules):
    layout = validation.students._student_layout(data, rules)
    columnar = validation.students._read_columnar(data, layout, HASH)
    try:
        by_rows = validation.students._read_by_rows(data, layout, HASH, None)
    except UploadRejected as rejected:
        by_rows = rejected
    return columnar, by_rows


def _assert_same(columnar, by_rows) -> None:
    for name in (
        "student_key", "arm", "cluster", "frl", "el", "swd", "gender", "race_ethnicity",
        "columns_present", "whole_outcomes",
    ):  # fmt: skip
        assert getattr(columnar, name) == getattr(by_rows, name), name
    for name in ("baseline", "dosage"):
        assert np.array_equal(getattr(columnar, name), getattr(by_rows, name), equal_nan=True)
    assert columnar.outcomes.keys() == by_rows.outcomes.keys()
    for name, values in columnar.outcomes.items():
        assert np.array_equal(values, by_rows.outcomes[name], equal_nan=True), name


@pytest.mark.parametrize(
    "text",
    [
        f"{FULL_HEADER}\nA,treatment,room-1,yes,no,,F,white,190,30,210.5,1,3\n"
        "B,Control, room-2 ,Y,N,1,m,ASIAN,,,,,\n C ,TREATMENT,room-1,TRUE,false,0,,,1e2,,300,0,0\n",
        f"\ufeff{FULL_HEADER}\r\nA,treatment,r,,,,,,  190 ,0,100,0,0\r\n\r\n"
        "B,control,r,,,,,,.5,5.,1E2,1,7\r\n",
        "student_key,arm,cluster,baseline,score,met,absent\nA,treatment,r,1,200,,\n",
    ],
)
def test_clean_files_are_read_column_wise_with_the_same_result(text):
    columnar, by_rows = _both_readers(text.encode(), FULL_RULES)
    assert columnar is not None
    _assert_same(columnar, by_rows)


@pytest.mark.parametrize(
    "text",
    [
        f'{HEADER}\n"A",treatment,1,200,1,0\n',  # quotes: only csv.reader is trusted with them
        f"{HEADER}\nA,treatment,1,nan,1,0\n",
        f"{HEADER}\nA,treatment,1,200,1,0\nA,control,1,200,1,0\n",
        f"{HEADER}\nA,treatment,1,200\n",
        f"{HEADER},shoe_size\nA,treatment,1,200,1,0,9\n",
    ],
)
def test_files_with_problems_or_quotes_are_left_to_the_row_by_row_reader(text):
    columnar, _ = _both_readers(text.encode(), RULES)
    assert columnar is None


def test_the_randomization_is_applied_the_same_way_by_both_readers():
    rules = UploadRules(
        arms=RULES.arms, outcomes=RULES.outcomes[:1], needs_cluster=True,
        assignment={"room-1": "control", "room-2": "treatment"}, assignment_unit="cluster",
    )  # fmt: skip
    text = "student_key,cluster,score\nA,room-1,200\nB,room-2,210\nC, room-2,220\n"
    columnar, by_rows = _both_readers(text.encode(), rules)
    assert columnar.arm == ["control", "treatment", "treatment"]
    _assert_same(columnar, by_rows)


# Cells a clean file may hold (in several spellings), and cells that need a closer look.
GOOD_CELLS = {
    "student_key": ["K", " K", "K "],  # numbered by row
    "arm": ["treatment", "Control", "CONTROL", " treatment "],
    "cluster": ["r1", " r2"],
    "frl": ["yes", "No", "1", "", " Y "],
    "gender": ["", "F", "m"],
    "baseline": ["190", "", " 12 ", "1e2", "+5", ".5"],
    "score": ["100", "300", "299.5", "", "+150", ".15e3"],
    "met": ["0", "1", "", "1.0"],
}
ODD_CELLS = {
    "student_key": ["", "a@b", "x" * 101, "K0"],
    "arm": ["", "placebo"],
    "cluster": ["", "x" * 65],
    "frl": ["maybe"],
    "gender": ["x"],
    "baseline": ["abc", "nan", "-inf", "1_0", "0x1", "  ", "1e999"],
    "score": ["99", "300.1", "NA", "-0"],
    "met": ["0.5", "2", '"1"'],
}


@st.composite
def _rows(draw) -> list[list[str]]:
    """Rows of good cells, a few of them with one odd cell."""
    rows = []
    for number in range(draw(st.integers(1, 6))):
        row = {name: draw(st.sampled_from(cells)) for name, cells in GOOD_CELLS.items()}
        row["student_key"] = row["student_key"].replace("K", f"K{number}")
        if draw(st.booleans()) and draw(st.booleans()):
            name = draw(st.sampled_from(sorted(ODD_CELLS)))
            row[name] = draw(st.sampled_from(ODD_CELLS[name]))
        rows.append(list(row.values()))
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rows(), st.sampled_from(["\n", "\r\n"]))
def test_the_column_wise_reader_never_disagrees_with_the_row_by_row_reader(rows, newline):
    rules = UploadRules(
        arms=RULES.arms, outcomes=RULES.outcomes[:2], needs_cluster=True, has_baseline=True
    )
    lines = [",".join(GOOD_CELLS)] + [",".join(row) for row in rows]
    data = (newline.join(lines) + newline).encode()
    columnar, by_rows = _both_readers(data, rules)
    if isinstance(by_rows, UploadRejected):
        assert columnar is None
    elif columnar is not None:
        _assert_same(columnar, by_rows)


def test_an_outcome_the_baseline_predicts_exactly_is_refused_by_column():
    """A spring score that is the fall score plus a constant: any ANCOVA effect would be
    floating-point noise (p = 1e-33), so the file is refused naming the column."""
    rows = [
        f"K{n},{'treatment' if n % 2 else 'control'},{150 + n},{160 + n},1,2" for n in range(12)
    ]
    found = problems(HEADER + "\n" + "\n".join(rows) + "\n")
    assert len(found) == 1
    row, column, message = found[0]
    assert row is None and column == "score"
    assert "almost exactly a straight-line function of the baseline" in message
    assert "copy of the baseline" in message


def test_an_outcome_close_to_but_not_exactly_the_baseline_is_kept():
    rows = [
        f"K{n},{'treatment' if n % 2 else 'control'},{150 + n},{160 + n + (n % 3) * 0.5},1,2"
        for n in range(12)
    ]
    assert len(check(HEADER + "\n" + "\n".join(rows) + "\n")) == 12


# --- the file's shape: columns and cell length, refused before any row is parsed -------------


def test_a_header_of_ten_million_columns_is_refused_at_once():
    import time

    header = HEADER + ",x" * 10_000_000
    started = time.perf_counter()
    found = problems(f"{header}\nA1,treatment,190,210.5,1,3\n")
    # Parsing this header used to keep a worker busy for 90 s; counting its commas is enough.
    assert time.perf_counter() - started < 10
    assert found == [
        (
            1,
            f"#{validation.MAX_COLUMNS + 1}",
            "The header has 10,000,006 columns; a file may have at most 500. Keep only the "
            "columns of the template.",
        )
    ]


def test_a_header_of_exactly_the_column_limit_is_read():
    header = HEADER + "".join(f",extra{i}" for i in range(validation.MAX_COLUMNS - 6))
    found = problems(f"{header}\nA1,treatment,190,210.5,1,3" + ",1" * 494 + "\n")
    assert all("at most 500" not in message for _, _, message in found)
    assert found[0][2].startswith("Unknown column")


@pytest.mark.parametrize("length", [validation.MAX_CELL_CHARACTERS + 1, 131_073])
def test_a_cell_longer_than_the_limit_is_named_by_row_and_column(length):
    text = f"{HEADER}\nA1,treatment,190,210.5,1,3\nA2,control,{'9' * length},200,0,1\n"
    assert problems(text) == [
        (3, "baseline", "This cell is longer than 10,000 characters, the most a cell may have.")
    ]


def test_a_long_quoted_cell_with_commas_is_refused_with_its_row():
    cell = '"' + "9," * 70_000 + '"'
    found = problems(f"{HEADER}\nA1,treatment,190,210.5,1,3\nA2,control,{cell},200,0,1\n")
    assert found == [(3, None, validation.reading._TOO_LONG)]


def test_a_cell_of_the_limit_in_two_byte_letters_is_not_too_long():
    key = "é" * validation.MAX_CELL_CHARACTERS  # 20,000 bytes, 10,000 characters
    found = problems(f"{HEADER}\n{key},treatment,190,210.5,1,3\n")
    assert all("10,000" not in message for _, _, message in found)  # the key rule speaks


def test_aggregate_files_have_the_same_limits():
    with pytest.raises(UploadRejected) as caught:
        validate_aggregates(("arm,outcome" + ",x" * 600 + "\n").encode(), AGGREGATE_RULES)
    assert caught.value.problems[0].row == 1 and "at most 500" in caught.value.problems[0].message
