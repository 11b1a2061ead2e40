"""The words for cost-effectiveness numbers (testbed/costs/words.py)."""

from __future__ import annotations

from analysis.cost_effectiveness import cost_effectiveness, fieller
from testbed.costs import words


def test_an_unbounded_set_is_said_in_words():
    """A set that is not an interval is described, never printed as bounds."""
    for ratio in (fieller(0.1, 0.05, 1.0, 1.0), fieller(10.0, 0.5, 1.0, 1.0)):
        said = words.interval(ratio, words.sd)
        assert said.startswith("no useful 95 % interval:"), said
        assert "ratios of any size fit the data" in said
        assert not any(character.isdigit() for character in said.replace("95", ""))


def test_the_sentences_say_what_was_withheld_and_why():
    sentences = words.cost_effectiveness(cost_effectiveness(0.02, 0.05, 250.0), 2024)
    assert sentences[0] == "It cost $250 per student (in 2024 dollars)."
    assert sentences[1].startswith(
        "The effect was 0.02 SD for $250 per student; as a ratio, 0.08 SD per $1,000 per student "
        "(95 % CI"
    )
    assert "includes zero" in sentences[2] and "no useful interval" in sentences[2]
    negative = words.cost_effectiveness(cost_effectiveness(-0.3, 0.05, 250.0), 2024)
    assert "did worse" in negative[2]
    free = words.cost_effectiveness(cost_effectiveness(0.2, 0.05, 0.0), 2024)
    assert "any gain it brings is free" in free[1]
    assert free[2].startswith("As a ratio, a gain of 0.1 SD came to about $0.00 per student")
