"""The tag vocabulary is safe for SQLite's LIKE-based array search."""

from itertools import permutations

from testbed import vocabulary


def test_no_code_is_a_substring_of_another_of_the_same_kind():
    for codes in (
        vocabulary.GRADE_CODES,
        vocabulary.SUBJECTS,
        vocabulary.PLATFORMS,
        tuple(vocabulary.GRADE_BANDS),
        vocabulary.LOCALES,
    ):
        clashes = [(a, b) for a, b in permutations(codes, 2) if a in b]
        assert clashes == []


def test_grade_bands_cover_every_grade_once():
    covered = [grade for band in vocabulary.GRADE_BANDS.values() for grade in band]
    assert sorted(covered) == sorted(vocabulary.GRADE_CODES)
