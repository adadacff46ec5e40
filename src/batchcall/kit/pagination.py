"""Lists a page at a time: the page bounds a request may ask for, the answer's shape, and the one query."""

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
# Bounded so the database can hold it (SQLite and PostgreSQL integers are 64-bit at most).
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="Items to skip")]


class Pagination(BaseModel):
    total: int
    limit: int
    offset: int


class Page(BaseModel, Generic[T]):
    data: list[T]
    pagination: Pagination

    @classmethod
    def of(cls, data: Sequence[T], total: int, limit: int, offset: int) -> "Page[T]":
        return cls(data=list(data), pagination=Pagination(total=total, limit=limit, offset=offset))


def paginate(session: Session, query: Select[T], limit: int, offset: int) -> tuple[list[T], int]:
    """The page of ``query``'s rows at ``offset``, in the order the query gives them, and how many rows
    the whole query has."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return list(session.scalars(query.limit(limit).offset(offset))), total
