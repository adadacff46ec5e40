"""``INSERT ... ON CONFLICT`` for whichever database the session is bound to."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_on_conflict(session: Session, table: Any) -> Any:
    """An insert statement with ``on_conflict_do_nothing``/``on_conflict_do_update`` for this dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
