"""Reproducible blocked random assignment.

Anyone with the unit list, the arms, the blocks and the seed can recompute an assignment
exactly, on any platform and any future numpy: the only randomness used is the raw
64-bit output of numpy's PCG64 bit generator, whose stream numpy guarantees, turned into
unbiased indices by rejection sampling and applied in a Fisher-Yates shuffle written
here (numpy's own shuffle and integer methods may change between versions).

Procedure: blocks are taken in sorted order, and within each block the units in sorted
order, so the order the units arrive in does not matter. Each block gets floor(n/a) of
each of the a arms; the n mod a remaining places go to the arms with the fewest units
so far (ties broken at random), so arm totals also stay within one of each other. The
block's arm list is shuffled and dealt to its sorted units.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np

_METHOD = (
    "Fisher-Yates shuffle of a balanced arm list per block, indices from PCG64(seed) raw "
    "64-bit draws by rejection sampling; blocks and units sorted by key"
)
ALGORITHM = f"numpy PCG64 permutation, blocked by site: {_METHOD}"
ALGORITHM_UNBLOCKED = f"numpy PCG64 permutation, unblocked: {_METHOD}"
_UNBLOCKED = "all units"
_TWO_TO_64 = 1 << 64


@dataclass(frozen=True)
class Assignment:
    mapping: dict[Hashable, str]
    seed: int
    algorithm: str
    counts: dict[Hashable, dict[str, int]]


class _RawDraws:
    """Unbiased integers from PCG64's raw output, the part of numpy with a fixed stream."""

    def __init__(self, seed: int) -> None:
        self._generator = np.random.PCG64(seed)
        self._buffer: list[int] = []

    def _raw(self) -> int:
        if not self._buffer:
            self._buffer = self._generator.random_raw(256).tolist()[::-1]
        return self._buffer.pop()

    def below(self, bound: int) -> int:
        limit = _TWO_TO_64 - _TWO_TO_64 % bound
        while True:
            value = self._raw()
            if value < limit:
                return value % bound

    def shuffle(self, items: list) -> None:
        for index in range(len(items) - 1, 0, -1):
            other = self.below(index + 1)
            items[index], items[other] = items[other], items[index]


def _sort_key(value: Hashable) -> tuple[str, object]:
    return (type(value).__name__, value)


def _check_units(units: object) -> list[Hashable]:
    if isinstance(units, str | bytes) or not isinstance(units, Sequence | np.ndarray):
        raise ValueError("units must be a list of unit identifiers (student or class keys)")
    listed = list(units.tolist() if isinstance(units, np.ndarray) else units)
    if not listed:
        raise ValueError("units is empty: there is nothing to assign")
    for unit in listed:
        if not isinstance(unit, str | int) or isinstance(unit, bool):
            raise ValueError(f"units must be text or whole-number identifiers, got {unit!r}")
    seen: set[Hashable] = set()
    for unit in listed:
        if unit in seen:
            raise ValueError(f"units must be unique; {unit!r} appears more than once")
        seen.add(unit)
    return listed


def _check_arms(arms: object) -> list[str]:
    if isinstance(arms, str) or not isinstance(arms, Sequence):
        raise ValueError("arms must be a list of at least two arm names")
    listed = list(arms)
    if len(listed) < 2:
        raise ValueError(f"arms must name at least two arms, got {len(listed)}")
    if not all(isinstance(arm, str) and arm for arm in listed):
        raise ValueError("arms must be non-empty names")
    if len(set(listed)) != len(listed):
        raise ValueError("arms must be distinct")
    return listed


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative whole number, got {seed!r}")
    return int(seed)


def _blocks_by_unit(units: list[Hashable], blocks: object) -> dict[Hashable, Hashable]:
    if blocks is None:
        return dict.fromkeys(units, _UNBLOCKED)
    if isinstance(blocks, Mapping):
        missing = [unit for unit in units if unit not in blocks]
        if missing:
            raise ValueError(f"blocks gives no block for unit {missing[0]!r}")
        chosen = {unit: blocks[unit] for unit in units}
    else:
        if isinstance(blocks, str) or not isinstance(blocks, Sequence | np.ndarray):
            raise ValueError("blocks must map each unit to its block, or list one block per unit")
        listed = list(blocks.tolist() if isinstance(blocks, np.ndarray) else blocks)
        if len(listed) != len(units):
            raise ValueError(
                f"blocks lists {len(listed)} block(s) but there are {len(units)} units"
            )
        chosen = dict(zip(units, listed, strict=True))
    for block in chosen.values():
        if not isinstance(block, str | int) or isinstance(block, bool):
            raise ValueError(f"blocks must be text or whole-number labels, got {block!r}")
    return chosen


def assign(units: object, arms: object, seed: int, blocks: object = None) -> Assignment:
    """Assign each unit to an arm, balanced within blocks (e.g. sites), reproducibly.

    blocks may be a mapping unit -> block or a list with one block per unit. Within each
    block the arm counts differ by at most one.
    """
    unit_list = _check_units(units)
    arm_list = _check_arms(arms)
    seed = _check_seed(seed)
    block_of = _blocks_by_unit(unit_list, blocks)

    members: dict[Hashable, list[Hashable]] = {}
    for unit in unit_list:
        members.setdefault(block_of[unit], []).append(unit)

    draws = _RawDraws(seed)
    totals = dict.fromkeys(arm_list, 0)
    mapping: dict[Hashable, str] = {}
    counts: dict[Hashable, dict[str, int]] = {}
    for block in sorted(members, key=_sort_key):
        block_units = sorted(members[block], key=_sort_key)
        base, remainder = divmod(len(block_units), len(arm_list))
        tie_order = list(arm_list)
        draws.shuffle(tie_order)
        extra = set(sorted(tie_order, key=lambda arm: totals[arm])[:remainder])
        block_counts = {arm: base + (arm in extra) for arm in arm_list}
        labels = [arm for arm in arm_list for _ in range(block_counts[arm])]
        draws.shuffle(labels)
        for unit, arm in zip(block_units, labels, strict=True):
            mapping[unit] = arm
        for arm, number in block_counts.items():
            totals[arm] += number
        counts[block] = block_counts
    algorithm = ALGORITHM if blocks is not None else ALGORITHM_UNBLOCKED
    return Assignment(mapping=mapping, seed=seed, algorithm=algorithm, counts=counts)
