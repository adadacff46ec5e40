"""Many rows into one table at the speed of the database driver.

SQLAlchemy's per-value type processing costs more than the insert itself at 100,000 rows, so rows go
straight to the driver: COPY on PostgreSQL, executemany on SQLite. Values are converted here exactly as
the column types would store them (JSON text; on SQLite, datetimes in SQLAlchemy's storage format)."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from batchcall.models.base import UtcDateTime

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"

Converter = Callable[[Any], Any]


def bulk_insert(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], on_conflict: str = ""
) -> None:
    """Insert ``rows`` (dicts keyed by column name, all with the same keys).

    ``on_conflict`` is an ``ON CONFLICT ...`` clause; it is valid SQL on both databases."""
    if not rows:
        return
    names = list(rows[0])
    postgres = session.get_bind().dialect.name == "postgresql"
    converters = [_converter(table, name, postgres) for name in names]
    values = [
        [
            convert(row[name]) if convert else row[name]
            for name, convert in zip(names, converters, strict=True)
        ]
        for row in rows
    ]
    columns = ", ".join(f'"{name}"' for name in names)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    if postgres and not on_conflict:
        with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for record in values:
                copy.write_row(record)
        return
    marker = "%s" if postgres else "?"
    statement = (
        f'INSERT INTO "{table.name}" ({columns}) VALUES ({", ".join([marker] * len(names))}) {on_conflict}'
    )
    cursor = driver.cursor()
    try:
        cursor.executemany(statement, values)
    finally:
        cursor.close()


def _converter(table: Table, name: str, postgres: bool) -> Converter | None:
    column_type = table.columns[name].type
    if isinstance(column_type, JSON):
        return _json
    if isinstance(column_type, UtcDateTime):
        return _aware if postgres else _sqlite_datetime
    return None


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


def _sqlite_datetime(value: datetime | None) -> str | None:
    return None if value is None else _aware(value).astimezone(UTC).strftime(SQLITE_DATETIME)  # type: ignore[union-attr]
