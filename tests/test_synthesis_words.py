"""What a breakdown's test of differences between groups is allowed to say."""

from __future__ import annotations

from testbed.synthesis.words import breakdown_note


def test_groups_of_several_pilots_read_the_test():
    assert breakdown_note(0.01, 2).startswith("The effect differs between these groups")
    assert breakdown_note(0.40, 3) == "The difference between these groups could be chance."


def test_a_group_of_one_pilot_claims_nothing_whatever_the_p_value():
    """A one-pilot group has no spread of its own, so Q between groups restates the spread
    between districts (an outside statistician: Q_between = Cochran's Q = 19.7 for locale)."""
    for p in (0.0001, 0.5):
        assert breakdown_note(p, 1).startswith("At least one group has a single pilot")
