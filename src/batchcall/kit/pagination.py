from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

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
