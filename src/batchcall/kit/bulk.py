"""Many rows into (or over) one table at the speed of the database driver.

SQLAlchemy's per-value type processing and the ORM's per-object flush cost more than the statements
themselves at thousands of rows, so rows go straight to the driver: COPY, or one statement over
``unnest`` of one array per column, on PostgreSQL; executemany (or one multi-row statement when rows
must come back) on SQLite. Values are converted here exactly as the column types would store them
(JSON text; on SQLite, datetimes in SQLAlchemy's storage format)."""

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session

from batchcall.kit.sqltypes import UtcDateTime, is_postgresql

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
# SQLite allows 32,766 bound values per statement; a multi-row statement stays well under.
SQLITE_VALUES = 30_000

Converter = Callable[[Any], Any]


def bulk_insert(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], on_conflict: str = ""
) -> None:
    """Insert ``rows`` (dicts keyed by column name, all with the same keys).

    ``on_conflict`` is an ``ON CONFLICT ...`` clause; it is valid SQL on both databases. PostgreSQL takes
    plain rows by COPY and conflicting ones in one statement over ``unnest``."""
    if not rows:
        return
    names = list(rows[0])
    postgres, values = _values(session, table, names, rows)
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = _driver(session).cursor()
    try:
        if postgres and not on_conflict:
            with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                for record in values:
                    copy.write_row(record)
        elif postgres:
            source = _unnest(table, tuple(names))
            cursor.execute(
                f'INSERT INTO "{table.name}" ({columns}) SELECT * FROM {source} {on_conflict}',
                [list(column) for column in zip(*values, strict=True)],
            )
        else:
            marks = ", ".join("?" * len(names))
            cursor.executemany(
                f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks}) {on_conflict}', values
            )
    finally:
        cursor.close()


def bulk_update(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: str = "id",
    also: Mapping[str, str] | None = None,
) -> int:
    """Overwrite the named columns of the rows found by ``key``; every row names the same columns.

    ``also`` sets more columns to SQL expressions of the row as it stands (``{"status": "CASE ... END"}``).
    One statement on PostgreSQL (``UPDATE ... FROM unnest(...)``), an executemany on SQLite; a column
    with one value in every row is sent once. Answers how many rows were updated."""
    if not rows:
        return 0
    names = [name for name in rows[0] if name != key]
    first = rows[0]
    shared = [name for name in names if all(row[name] == first[name] for row in rows)]
    varying = [name for name in names if name not in shared]
    postgres, values = _values(session, table, [key, *varying], rows)
    constants = _values(session, table, shared, rows[:1])[1][0] if shared else []
    placeholder = "%s" if postgres else "?"
    assignments = [f'"{name}" = {placeholder}' for name in shared]
    assignments += [f'"{name}" = {expression}' for name, expression in (also or {}).items()]
    cursor = _driver(session).cursor()
    try:
        if postgres:
            assignments += [f'"{name}" = v."{name}"' for name in varying]
            cursor.execute(
                f'UPDATE "{table.name}" AS t SET {", ".join(assignments)} '
                f'FROM {_unnest(table, (key, *varying))} WHERE t."{key}" = v."{key}"',
                [*constants, *(list(column) for column in zip(*values, strict=True))],
            )
        else:
            assignments += [f'"{name}" = ?' for name in varying]
            cursor.executemany(
                f'UPDATE "{table.name}" SET {", ".join(assignments)} WHERE "{key}" = ?',
                [[*constants, *record[1:], record[0]] for record in values],
            )
        return int(cursor.rowcount)
    finally:
        cursor.close()


def among(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter however many the values,
    which spares rendering and parsing a placeholder for each."""
    element = column.expression if isinstance(column, QueryableAttribute) else column
    if is_postgresql(session):
        return element == any_(bindparam(None, list(values), type_=ARRAY(element.type)))
    return element.in_(list(values))


def insert_returning(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], on_conflict: str, returning: str
) -> list[Any]:
    """Insert ``rows`` with an ``ON CONFLICT ...`` clause; answers ``returning`` (a column) of the rows
    actually inserted."""
    if not rows:
        return []
    names = list(rows[0])
    postgres, values = _values(session, table, names, rows)
    columns = ", ".join(f'"{name}"' for name in names)
    head = f'INSERT INTO "{table.name}" ({columns})'
    tail = f'{on_conflict} RETURNING "{returning}"'
    cursor = _driver(session).cursor()
    found: list[Any] = []
    try:
        if postgres:
            cursor.execute(
                f"{head} SELECT * FROM {_unnest(table, tuple(names))} {tail}",
                [list(column) for column in zip(*values, strict=True)],
            )
            found.extend(row[0] for row in cursor.fetchall())
            return found
        step = max(1, SQLITE_VALUES // len(names))
        marks = "(" + ", ".join("?" * len(names)) + ")"
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            cursor.execute(
                f"{head} VALUES {', '.join([marks] * len(chunk))} {tail}",
                [value for record in chunk for value in record],
            )
            found.extend(row[0] for row in cursor.fetchall())
        return found
    finally:
        cursor.close()


def _driver(session: Session) -> Any:
    """The session's driver connection, after the session has written what it holds, as a query would."""
    session.flush()
    driver = session.connection().connection.driver_connection
    assert driver is not None
    return driver


def _values(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]
) -> tuple[bool, list[list[Any]]]:
    """The rows as lists of driver values in the order of ``names``; only the columns that need it are
    converted (at 100,000 rows of 36 columns, per-value work is most of the cost)."""
    postgres = is_postgresql(session)
    if not names:
        return postgres, [[] for _ in rows]
    pick = itemgetter(*names)
    conversions = [
        (index, convert)
        for index, name in enumerate(names)
        if (convert := _converter(table, name, postgres)) is not None
    ]
    values: list[list[Any]] = []
    for row in rows:
        record = list(pick(row)) if len(names) > 1 else [pick(row)]
        for index, convert in conversions:
            record[index] = convert(record[index])
        values.append(record)
    return postgres, values


@lru_cache(maxsize=256)
def _unnest(table: Table, names: tuple[str, ...]) -> str:
    """``unnest`` of one typed array parameter per column, aliased ``v`` with the columns' names."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    # Binary arrays: psycopg dumps them an order of magnitude faster than the text form.
    arrays = ", ".join(f"%b::{table.columns[name].type.compile(dialect=dialect)}[]" for name in names)
    aliases = ", ".join(f'"{name}"' for name in names)
    return f"unnest({arrays}) AS v({aliases})"


def _converter(table: Table, name: str, postgres: bool) -> Converter | None:
    column_type = table.columns[name].type
    if isinstance(column_type, JSON):
        return _json
    if isinstance(column_type, UtcDateTime):
        return _aware if postgres else _sqlite_datetime
    return None


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return "{}" if value == {} else orjson.dumps(value).decode()


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value


def _sqlite_datetime(value: datetime | None) -> str | None:
    return None if value is None else _sqlite_text(value)


@lru_cache(maxsize=1024)
def _sqlite_text(value: datetime) -> str:
    # Rows written together mostly share their instants, so each is formatted once.
    aware = _aware(value)
    assert aware is not None
    return aware.astimezone(UTC).strftime(SQLITE_DATETIME)
