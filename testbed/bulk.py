"""Fast inserts of many rows into one table, on SQLite and PostgreSQL alike.

Piccolo's `insert` costs about 50 µs per row in Python and one statement is capped at 32,767
parameters; the demo network and the benchmarks insert up to a million observations. Here the
rows go through the driver's own bulk path instead: `executemany` on SQLite of one prepared
statement that inserts a hundred rows at a time, and `COPY` through asyncpg's
`copy_records_to_table` on PostgreSQL.

Transactions: one call is all or nothing. The rows are written inside a Piccolo transaction:
the caller's, when one is open on the table's engine (so the rows commit or roll back with it,
and its other queries see them), or else a new one that commits when every row is written.
A new transaction on PostgreSQL borrows a connection from the engine's pool when the pool is
running, and opens (and closes) its own connection otherwise.

Values are encoded the way Piccolo itself stores them, so Piccolo reads them back as usual:
JSON columns take a dict, list or JSON text; array columns take a list (JSON text on SQLite,
a native array on PostgreSQL); booleans, dates and timestamps as Python values. Columns a row
leaves out get the column's default.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice
from typing import Any

from piccolo.columns import JSON, Array, Column, Date, Timestamp, Timestamptz
from piccolo.columns.defaults.base import Default
from piccolo.engine.sqlite import convert_datetime_in
from piccolo.table import Table
from piccolo.utils.encoding import dump_json

Encoder = Callable[[Any], Any]


def _as_json_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return dump_json(value)


def _sqlite_array(value: Any) -> Any:
    return None if value is None else dump_json(list(value))


def _postgres_array(value: Any) -> Any:
    return None if value is None else list(value)


def _sqlite_datetime(value: Any) -> Any:
    # sqlite3 has no date or timestamp type: store the text Piccolo's adapters write.
    if isinstance(value, datetime.datetime):
        return convert_datetime_in(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _encoder(column: Column, engine_type: str) -> Encoder | None:
    """How to encode the column's values for the driver; None when they pass as they are."""
    if isinstance(column, JSON):
        return _as_json_text
    if isinstance(column, Array):
        return _sqlite_array if engine_type == "sqlite" else _postgres_array
    if engine_type == "sqlite" and isinstance(column, Date | Timestamp | Timestamptz):
        return _sqlite_datetime
    return None


def _default_value(column: Column) -> Any:
    default = column.get_default_value()
    # Piccolo leaves defaults such as TimestamptzNow() for the query to evaluate.
    return default.python() if isinstance(default, Default) else default


def _columns_for(table: type[Table], columns: Sequence[str] | None) -> list[Column]:
    by_name = {column._meta.name: column for column in table._meta.columns}
    if columns is None:
        return [column for column in table._meta.columns if not column._meta.primary_key]
    unknown = [name for name in columns if name not in by_name]
    if unknown:
        raise ValueError(f"{table.__name__} has no column(s) {', '.join(unknown)}")
    return [by_name[name] for name in columns]


def _encoded_records(
    rows: Iterable[Mapping[str, Any] | tuple[Any, ...]], columns: list[Column], engine_type: str
) -> Iterator[tuple[Any, ...]]:
    names = [column._meta.name for column in columns]
    # Defaults are computed once per call: every row left without a timestamp gets the same one.
    fields = [(name, _default_value(column)) for name, column in zip(names, columns, strict=True)]
    encoders = [
        (position, encoder)
        for position, column in enumerate(columns)
        if (encoder := _encoder(column, engine_type)) is not None
    ]
    for row in rows:
        if isinstance(row, tuple):
            # A row given as a tuple holds every selected column, in order: no lookups.
            if not encoders:
                yield row
                continue
            values = list(row)
        else:
            values = [row.get(name, default) for name, default in fields]
        for position, encode in encoders:
            values[position] = encode(values[position])
        yield tuple(values)


async def bulk_insert(
    table: type[Table],
    rows: Iterable[Mapping[str, Any] | tuple[Any, ...]],
    columns: Sequence[str] | None = None,
    *,
    encoded: bool = False,
) -> None:
    """Insert `rows` (dicts keyed by column name) into `table`, all or nothing.

    A row may also be a tuple of every selected column's value, in the order of `columns`
    (or of the table's columns): it skips the per-column lookups, for the largest inserts.

    `columns` names the columns to write (e.g. ["id", ...] to set explicit ids); by default
    every column but the primary key, with each column's default where a row leaves it out.
    `rows` may be a generator: it is consumed once, while writing.

    `encoded=True` says the rows are tuples already in the driver's terms (JSON as text,
    arrays as `_encoder` makes them, booleans as 0/1 on SQLite, where Python's sqlite3 takes
    the slow adaptation path for `bool`): they go to the driver untouched, for the largest
    inserts.
    """
    engine = table._meta.db
    selected = _columns_for(table, columns)
    records = rows if encoded else _encoded_records(rows, selected, engine.engine_type)
    column_names = [column._meta.db_column_name for column in selected]
    async with engine.transaction() as transaction:
        connection = transaction.connection
        if engine.engine_type == "postgres":
            await connection.copy_records_to_table(
                table._meta.tablename, records=records, columns=column_names
            )
        else:
            await _sqlite_insert(connection, table._meta.tablename, column_names, records)


# Rows per INSERT statement on SQLite: one statement of many rows costs about a fifth less per
# row than `executemany` of single rows; SQLite takes at most 32,766 parameters per statement.
SQLITE_ROWS_PER_STATEMENT = 100
SQLITE_MAX_PARAMETERS = 32_766


async def _sqlite_insert(
    connection: Any, tablename: str, column_names: list[str], records: Iterable[tuple[Any, ...]]
) -> None:
    quoted = ", ".join(f'"{name}"' for name in column_names)
    row = "(" + ", ".join("?" for _ in column_names) + ")"
    per_statement = max(
        1, min(SQLITE_ROWS_PER_STATEMENT, SQLITE_MAX_PARAMETERS // len(column_names))
    )
    insert = f'INSERT INTO "{tablename}" ({quoted}) VALUES '  # noqa: S608
    remainder: list[tuple[Any, ...]] = []

    def full_statements() -> Iterator[tuple[Any, ...]]:
        """Parameters of `per_statement` rows at a time; the last rows are kept aside."""
        iterator = iter(records)
        while len(batch := list(islice(iterator, per_statement))) == per_statement:
            yield tuple(chain.from_iterable(batch))
        remainder.extend(batch)

    await connection.executemany(insert + ", ".join([row] * per_statement), full_statements())
    if remainder:
        await connection.executemany(insert + row, remainder)
