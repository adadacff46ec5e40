"""SMTP's settings, from ``BATCHCALL_SMTP_*`` (how every message is sent), and the shape of an SMTP provider
account's credentials: where the workspace's mail server is and who the messages come from."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from batchcall.mail.addresses import EmailAddress


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCHCALL_SMTP_", extra="ignore")

    timeout_seconds: float = Field(default=30.0, gt=0)
    # The certificate authorities a server's TLS certificate may be signed by, as a PEM file, beside the
    # system's: for a relay with a private CA. A certificate nothing vouches for is refused.
    ca_file: str | None = None
    # How long a message the server answered 4xx (greylisted, mailbox busy, try later) waits to go again.
    retry_after_seconds: float = Field(default=300.0, gt=0)


class Tls(StrEnum):
    # Plain connection upgraded with STARTTLS (port 587), which the server must offer.
    STARTTLS = "starttls"
    # TLS from the first byte (port 465).
    TLS = "tls"
    # No encryption: only for a relay on a network of your own.
    NONE = "none"


class SmtpCredentials(BaseModel):
    """An SMTP server's address, TLS mode and login, and the address messages are sent from."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=587, ge=1, le=65535)
    tls: Tls = Tls.STARTTLS
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    from_address: EmailAddress
    # Shown beside the address ("Acme Clinic <reminders@acme.example>"); one line.
    from_name: str | None = Field(default=None, max_length=200, pattern=r"^[^\r\n]*$")

    @model_validator(mode="after")
    def _login_whole(self) -> "SmtpCredentials":
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


SECRETS = frozenset({"password"})
