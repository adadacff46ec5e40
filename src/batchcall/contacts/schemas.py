from datetime import datetime
from typing import Any

from pydantic import Field

from batchcall.kit.schema import Read, Write


class ContactCreate(Write):
    phone_number: str = Field(min_length=1, max_length=64)
    country_code: str | None = None
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    attributes: dict[str, Any] = Field(default_factory=dict)


class Contact(Read):
    id: str
    phone: str
    first_name: str | None
    last_name: str | None
    email: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DncCreate(Write):
    phone_number: str = Field(min_length=1, max_length=64)
    country_code: str | None = None
    reason: str = Field(default="", max_length=1000)


class DncEntry(Read):
    id: str
    phone_number: str = Field(validation_alias="phone")
    reason: str
    source: str
    created_at: datetime
