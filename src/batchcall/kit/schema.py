"""Pydantic pieces every schema uses: the base of answers, the base of request bodies, the base of camelCase
wire formats, instants."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Read(BaseModel):
    """An answer built from a model instance."""

    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)


class Write(BaseModel):
    """A request body; unknown fields are refused so typos are caught."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Camel(BaseModel):
    """A body or answer of a vendor's wire format whose fields are camelCase (dialects D and E): each field is
    read by its camelCase name or its own, answered by its camelCase name (``by_alias``), and a field the
    vendor's clients send that is not modelled here is ignored, as the vendor's own API ignores it."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="ignore"
    )


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"'{value.isoformat()}' is out of range once moved to UTC") from None


# An instant given with its offset, held in UTC as everything stored is (one near the ends of the calendar
# may not fit once moved: that is a validation error, not a crash).
Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]
