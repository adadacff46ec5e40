from datetime import datetime

from pydantic import Field

from batchcall.bounds import CountryCode, Id
from batchcall.kit.schema import Read, Write


class PhoneNumberCreate(Write):
    number: str = Field(
        min_length=1, max_length=64, description="E.164, or a national number with country_code"
    )
    country_code: CountryCode | None = None
    agent_id: Id | None = None
    label: str = Field(default="", max_length=255)
    daily_cap: int | None = Field(default=None, ge=1, le=2**31 - 1)


class PhoneNumberUpdate(Write):
    agent_id: Id | None = None
    label: str | None = Field(default=None, max_length=255)
    daily_cap: int | None = Field(default=None, ge=1, le=2**31 - 1)


class PhoneNumberRead(Read):
    id: str
    number: str
    agent_id: str | None
    label: str
    daily_cap: int | None
    created_at: datetime
    dials_today: int = Field(
        description="Dials made from this number today, by the number's own local day (where it is)"
    )
    remaining_today: int | None = Field(
        description="Dials its daily_cap still allows today (daily_cap - dials_today, at least 0); "
        "null when the number has no cap"
    )
