"""Twilio's settings, from ``BATCHCALL_TWILIO_*``: the account a one-tenant box dials through when a
workspace has no Twilio account of its own, and how every Twilio call is placed."""

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TWILIO_API = "https://api.twilio.com"


class TwilioSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCHCALL_TWILIO_", extra="ignore")

    account_sid: str = ""
    auth_token: str = Field(default="", repr=False)
    # An API key (SK...) and its secret authenticate the REST requests instead of the auth token, which
    # still verifies Twilio's callbacks (Twilio signs them with it).
    api_key: str = ""
    api_secret: str = Field(default="", repr=False)
    api_base_url: str = TWILIO_API
    calls_per_second: float = Field(default=1.0, gt=0)
    # How long a call rings before Twilio gives up: at least 15 s, as US and UK abandonment rules expect.
    ring_timeout_seconds: int = Field(default=30, ge=15, le=600)
    # Ask Twilio's answering-machine detection, asynchronously (the call is not held while it listens).
    machine_detection: bool = True
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    # How long a text the carrier took ("sent") may wait for its delivery receipt; some carriers send none,
    # so a text still "sent" this long after it went counts as delivered when its status is next asked.
    sms_receipt_wait_seconds: int = Field(default=900, ge=0)


class TwilioCredentials(BaseModel):
    """A Twilio account's credentials: its SID and auth token (which Twilio signs callbacks with), and
    optionally an API key and secret that authenticate the REST requests instead."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str = Field(min_length=1, max_length=256)
    api_key: str | None = Field(default=None, pattern=r"^SK[0-9a-fA-F]{32}$")
    api_secret: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _key_with_secret(self) -> "TwilioCredentials":
        if (self.api_key is None) != (self.api_secret is None):
            raise ValueError("api_key and api_secret go together")
        return self


SECRETS = frozenset({"auth_token", "api_secret"})
