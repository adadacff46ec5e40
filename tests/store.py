"""Looking straight into the store, to prove what a request did or did not write."""

from typing import Any

from sqlalchemy import func, select, update

from batchcall import db
from batchcall.models import Base
from batchcall.runtime import Runtime


def count(runtime: Runtime, model: type[Base], **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with runtime.sessions() as session:
        return session.scalar(query) or 0


def snapshot(runtime: Runtime) -> dict[str, int]:
    """Rows per table: equal snapshots before and after a request mean it wrote nothing."""
    with runtime.sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def set_columns(runtime: Runtime, model: type[Base], id_: str, **values: Any) -> None:
    """Put a row in a state only a later capability (the dispatcher) would reach."""
    with db.unit_of_work(runtime.sessions) as session:
        session.execute(update(model).where(model.id == id_).values(**values))  # type: ignore[attr-defined]
