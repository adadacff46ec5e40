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


class ContactFolderCreate(Write):
    name: str = Field(min_length=1, max_length=255)


class ContactFolder(Read):
    id: str
    name: str
    contact_count: int
    created_at: datetime


class FolderContactsAdd(Write):
    """Contacts to put in a folder: new or updated ones by number, and existing ones by id."""

    contacts: list[ContactCreate] = Field(default_factory=list, max_length=100_000)
    contact_ids: list[str] = Field(default_factory=list, max_length=100_000)


class FolderContactsAdded(Read):
    added: int = Field(description="Contacts that were not in the folder before")
    contact_ids: list[str]
