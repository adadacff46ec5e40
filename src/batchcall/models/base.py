from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from batchcall.kit.ids import new_id
from batchcall.kit.sqltypes import Json, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: Json,
        list[Any]: Json,
        list[str]: Json,
        list[int]: Json,
    }


class IdMixin:
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as the ``Table`` it is (the ORM declares it as a broader ``FromClause``)."""
    return cast(Table, model.__table__)
