from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, JsonValue

from batchcall.kit.schema import Read, Write
from batchcall.providers import registry


class AccountChannel(StrEnum):
    """The channels an account serves, as the API names them (a row's ``phone`` channel is ``voice``)."""

    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"


VENDOR_NAMES: list[JsonValue] = [*sorted(registry.vendors())]


class ProviderAccountCreate(Write):
    vendor: str = Field(
        min_length=1,
        max_length=32,
        description="The vendor: one this server has",
        json_schema_extra={"enum": VENDOR_NAMES},
    )
    name: str = Field(default="", max_length=255)
    channels: set[AccountChannel] = Field(min_length=1, description="The channels it serves")
    credentials: dict[str, Any] = Field(
        default_factory=dict,
        description="Twilio: account_sid, auth_token (api_key, api_secret); SMTP: host, port, tls, "
        "username, password, from_address. Secrets are never answered back.",
    )
    api_base_url: str | None = Field(
        default=None, max_length=2048, description="A Twilio-compatible API; Twilio's own when unset"
    )
    calls_per_second: float = Field(default=1.0, gt=0, le=1_000, description="The account's dial rate")


class ProviderAccountUpdate(Write):
    name: str | None = Field(default=None, max_length=255)
    channels: set[AccountChannel] | None = Field(default=None, min_length=1)
    credentials: dict[str, Any] | None = Field(
        default=None, description="Fields to change; a secret left out keeps its stored value"
    )
    api_base_url: str | None = Field(default=None, max_length=2048)
    calls_per_second: float | None = Field(default=None, gt=0, le=1_000)


class ProviderAccountRead(Read):
    id: str
    vendor: str
    name: str
    channels: list[str]
    credentials: dict[str, Any] = Field(description="The credentials that are not secret")
    secrets_set: list[str] = Field(description="Which secrets are stored (their values never are answered)")
    api_base_url: str | None
    calls_per_second: float
    created_at: datetime
    updated_at: datetime


class ProviderAccountVerification(Read):
    ok: bool
    detail: str
    account_status: str | None = Field(description="The vendor's word for the account (Twilio: active)")
    caller_ids_owned: list[str] = Field(description="The workspace's phone numbers the account owns")
    caller_ids_not_owned: list[str] = Field(description="The workspace's phone numbers it does not own")
