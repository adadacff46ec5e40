"""Column types every table uses: UTC instants that come back aware, and JSON that is JSONB on PostgreSQL;
and the one way to ask which of the two databases a connection reaches."""

from datetime import UTC, datetime

from sqlalchemy import JSON, Connection, DateTime, Dialect, Engine, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

Json = JSON().with_variant(JSONB(), "postgresql")


def is_postgresql(bind: Engine | Connection | Session) -> bool:
    """Whether ``bind`` reaches PostgreSQL; the one other database batchcall runs on is SQLite."""
    reached = bind.get_bind() if isinstance(bind, Session) else bind
    return reached.dialect.name == "postgresql"


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back an aware datetime, also on SQLite, which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
