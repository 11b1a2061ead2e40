"""The price index that puts costs of different years in dollars of one year.

CPI-U, U.S. city average, all items, not seasonally adjusted, 1982-84 = 100: the annual averages
of the Bureau of Labor Statistics series CUUR0000SA0 (period M13), shipped in cpi_u.csv with
where each value was checked. Costs are shown in dollars of the table's latest year.
A price from a later year than the table holds is taken at face value (said on every page):
the table is extended when BLS publishes a new annual average.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

from analysis.cost_effectiveness import constant_dollars

TABLE_PATH = Path(__file__).with_name("cpi_u.csv")
SOURCE = (
    "U.S. Bureau of Labor Statistics, Consumer Price Index for All Urban Consumers (CPI-U), "
    "U.S. city average, all items, not seasonally adjusted, 1982-84 = 100, annual averages "
    "(series CUUR0000SA0)"
)


@cache
def table() -> Mapping[int, float]:
    with TABLE_PATH.open(encoding="utf-8", newline="") as handle:
        return MappingProxyType(
            {int(row["year"]): float(row["cpi_u"]) for row in csv.DictReader(handle)}
        )


@cache
def rows() -> tuple[dict[str, str], ...]:
    with TABLE_PATH.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def dollar_year() -> int:
    """The year whose dollars every cost is shown in: the latest in the table."""
    return max(table())


def first_year() -> int:
    return min(table())


def unadjusted_note(years) -> str | None:
    """Says which contributing prices are at face value (dated after the table's last year),
    or None when every one is adjusted. No index value is ever guessed."""
    later = sorted({int(year) for year in years if year is not None and year > dollar_year()})
    if not later:
        return None
    span = str(later[0]) if len(later) == 1 else f"{later[0]}–{later[-1]}"
    those = "that year" if len(later) == 1 else "those years"
    return (
        f"Prices dated {span} are not adjusted: the BLS annual average for {those} is not in "
        f"the table yet, so they count at face value among {dollar_year()} dollars."
    )


def in_dollar_year(amount: float, year: int) -> float:
    """`amount` dollars of `year` in dollars of dollar_year(); later years at face value."""
    return constant_dollars(amount, min(year, dollar_year()), dollar_year(), table())
