from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field

from batchcall.bounds import CountryCode, Id, StoredJson, settings_in_effect
from batchcall.kit.schema import Read, Write

T = TypeVar("T")


def _at_most_rows(value: T) -> T:
    """Counted before any item is read: a request over the cap costs no validation."""
    limit = settings_in_effect().max_rows_per_request
    if isinstance(value, list) and len(value) > limit:
        raise ValueError(f"at most {limit} per request; this one has {len(value)}")
    return value


class ContactCreate(Write):
    phone_number: str = Field(min_length=1, max_length=64)
    country_code: CountryCode | None = None
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    attributes: StoredJson = Field(default_factory=dict)


class ContactRead(Read):
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
    country_code: CountryCode | None = None
    reason: str = Field(default="", max_length=1000)


class DncEntryRead(Read):
    id: str
    phone_number: str = Field(validation_alias="phone")
    reason: str
    source: str
    created_at: datetime


class ContactFolderCreate(Write):
    name: str = Field(min_length=1, max_length=255)


class ContactFolderRead(Read):
    id: str
    name: str
    contact_count: int
    created_at: datetime


class FolderContactsAdd(Write):
    """Contacts to put in a folder: new or updated ones by number, and existing ones by id."""

    contacts: Annotated[list[ContactCreate], BeforeValidator(_at_most_rows)] = Field(default_factory=list)
    contact_ids: Annotated[list[Id], BeforeValidator(_at_most_rows)] = Field(default_factory=list)


class FolderContactsAdded(Read):
    added: int = Field(description="Contacts that were not in the folder before")
    contact_ids: list[str]
