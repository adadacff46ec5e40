"""Many rows into one table in as few round trips as the database allows."""

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session

SQLITE_CHUNK = 20_000


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by column name) with COPY on PostgreSQL and executemany on SQLite."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table, rows)
        return
    for start in range(0, len(rows), SQLITE_CHUNK):
        session.execute(insert(table), list(rows[start : start + SQLITE_CHUNK]))


def _copy(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    names = list(rows[0])
    is_json = [isinstance(table.columns[name].type, JSON) for name in names]
    quoted = ", ".join(f'"{name}"' for name in names)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    _json(row[name]) if json else row[name]
                    for name, json in zip(names, is_json, strict=True)
                ]
            )


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
