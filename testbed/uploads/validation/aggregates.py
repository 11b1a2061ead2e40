"""Aggregate files: one row per site and arm with counts, means and standard deviations."""

from __future__ import annotations

import math

from testbed.uploads.columns import (
    AGGREGATE_OPTIONAL,
    AGGREGATE_REQUIRED,
)
from testbed.uploads.validation.model import (
    AggregateRow,
    OutcomeRule,
    Problems,
    UploadRules,
    rejected,
)
from testbed.uploads.validation.reading import check_bytes, check_header, csv_records


def validate_aggregates(data: bytes, rules: UploadRules) -> list[AggregateRow]:
    """Per arm and outcome: randomized, n, mean and sd (or successes); or UploadRejected."""
    check_bytes(data, rules.max_bytes)
    records = csv_records(data)
    problems = Problems()
    try:
        header_cells = next(records)
    except StopIteration:
        raise rejected(None, None, "The file is empty.") from None
    header = check_header(header_cells, AGGREGATE_REQUIRED, AGGREGATE_OPTIONAL, problems)
    kinds = {outcome.name: outcome for outcome in rules.outcomes}
    rows: list[AggregateRow] = []
    seen: dict[tuple[str, str], int] = {}
    randomized_of_arm: dict[str, tuple[int, int]] = {}

    for row_number, record in enumerate(records, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != header.width:
            problems.add(
                row_number,
                None,
                f"This row has {len(record)} cells; the header has {header.width}.",
            )
            record = (record + [""] * header.width)[: header.width]
        cell = {name: record[index].strip() for name, index in header.positions.items()}
        row = _aggregate_row(row_number, cell, rules, kinds, problems)
        if row is None:
            continue
        pair = (row.arm, row.outcome)
        if pair in seen:
            problems.add(
                row_number,
                "outcome",
                f"Arm {row.arm} and this outcome also appear in row {seen[pair]}.",
            )
        seen.setdefault(pair, row_number)
        earlier = randomized_of_arm.setdefault(row.arm, (row.randomized, row_number))
        if earlier[0] != row.randomized:
            problems.add(
                row_number,
                "randomized",
                f"Row {earlier[1]} says {earlier[0]} students were randomized to {row.arm}.",
            )
        rows.append(row)

    if not rows and problems.count == 0:
        problems.add(None, None, "The file has a header but no rows of data.")
    elif problems.count == 0:
        for arm in rules.arms:
            for outcome in rules.outcomes:
                if (arm, outcome.name) not in seen:
                    problems.add(None, None, f"No row for arm {arm} and outcome {outcome.name}.")
    problems.raise_if_any()
    return rows


def _whole(text: str, row: int, column: str, problems: Problems, *, required: bool) -> int | None:
    if not text:
        if required:
            problems.add(row, column, "This cell is blank.")
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        problems.add(row, column, "Not a whole number of 0 or more.")
        return None
    return int(value)


def _real(text: str, row: int, column: str, problems: Problems) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.add(row, column, "Not a number.")
        return None
    return value


def _aggregate_row(
    row: int,
    cell: dict[str, str],
    rules: UploadRules,
    kinds: dict[str, OutcomeRule],
    problems: Problems,
) -> AggregateRow | None:
    count_before = problems.count
    arm = cell.get("arm", "").lower()
    if arm not in rules.arms:
        problems.add(row, "arm", f"Not an arm of this design ({', '.join(rules.arms)}).")
    name = cell.get("outcome", "").lower()
    outcome = kinds.get(name)
    if outcome is None:
        problems.add(row, "outcome", f"Not an outcome of this design ({', '.join(kinds)}).")
    randomized = _whole(cell.get("randomized", ""), row, "randomized", problems, required=True)
    n = _whole(cell.get("n", ""), row, "n", problems, required=True)
    mean = _real(cell.get("mean", ""), row, "mean", problems)
    sd = _real(cell.get("sd", ""), row, "sd", problems)
    successes = _whole(cell.get("successes", ""), row, "successes", problems, required=False)
    if randomized is not None and randomized < 1:
        problems.add(row, "randomized", "At least one student must have been randomized.")
    if randomized is not None and n is not None and n > randomized:
        problems.add(row, "n", f"n ({n}) is more than the students randomized ({randomized}).")
    if outcome is not None and n is not None:
        if outcome.kind == "binary":
            if mean is not None or sd is not None:
                problems.add(row, "mean", "A binary outcome takes successes, not mean and sd.")
            if successes is None:
                problems.add(row, "successes", "A binary outcome needs the number of successes.")
            elif successes > n:
                problems.add(row, "successes", f"Successes ({successes}) are more than n ({n}).")
        else:
            if successes is not None:
                problems.add(row, "successes", "Only binary outcomes take successes.")
            if n >= 1 and mean is None:
                problems.add(row, "mean", "The mean is blank.")
            if n >= 2 and sd is None:
                problems.add(row, "sd", "The standard deviation is blank.")
            if sd is not None and sd <= 0:
                problems.add(row, "sd", "The standard deviation must be more than 0.")
            if mean is not None and outcome.minimum is not None and mean < outcome.minimum:
                problems.add(row, "mean", f"The mean is below the minimum, {outcome.minimum:g}.")
            if mean is not None and outcome.maximum is not None and mean > outcome.maximum:
                problems.add(row, "mean", f"The mean is above the maximum, {outcome.maximum:g}.")
    if problems.count != count_before or outcome is None or randomized is None or n is None:
        return None
    return AggregateRow(
        arm=arm, outcome=name, randomized=randomized, n=n, mean=mean, sd=sd, successes=successes
    )
