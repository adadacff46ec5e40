"""The one place settings come from: environment variables prefixed ``BATCHCALL_`` (and, for the CLI's
API commands alone, an operator's config file).

A provider's own settings are a class in its folder (``providers/<vendor>/config.py``) with a prefix of its
own, held here as one field, so a test or a runtime passes them like any other setting."""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from batchcall.providers.simulated.config import SimulatedSettings
from batchcall.providers.smtp.config import SmtpSettings
from batchcall.providers.twilio.config import TwilioSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCHCALL_", extra="ignore")

    database_url: str = "sqlite:///./batchcall.db"
    provider: str = "simulated"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(default="", description="Base URL callers reach this server at; derived if empty")

    max_body_bytes: int = 64 * 1024 * 1024
    max_upload_bytes: int = 4 * 1024 * 1024 * 1024
    max_rows_per_request: int = 100_000
    # Bounds on what one request may hold, so no input can pin a core or grow the server without limit.
    max_csv_field_chars: int = Field(default=131_072, ge=1, description="The longest CSV field accepted")
    max_csv_line_chars: int = Field(default=1_048_576, ge=1, description="The longest CSV record accepted")
    max_errors_listed: int = Field(
        default=1_000, ge=1, description="Row errors listed in one answer; the total is always counted"
    )
    max_prompt_chars: int = Field(
        default=100_000, ge=1, description="The longest agent prompt template, and rendered prompt"
    )
    max_instruction_chars: int = Field(default=20_000, ge=1, description="The longest row instruction")
    max_row_json_bytes: int = Field(
        default=65_536, ge=1, description="The largest a row's variables or metadata may be, as JSON"
    )
    max_json_depth: int = Field(default=32, ge=1, description="How deeply a row's JSON values may nest")

    # Outbound requests (webhooks, provider and agent URLs) never reach loopback, private, link-local or
    # reserved addresses unless this is set: a test server on loopback, or a private network on purpose.
    allow_private_targets: bool = False

    # Abuse limits, in the `limits` library's notation ("50/second;2000/minute"); the storage is memory
    # (per process) or a shared one such as redis://HOST:PORT.
    rate_limit_per_key: str = "50/second;2000/minute"
    rate_limit_per_client: str = "100/second;5000/minute"
    auth_failure_limit: str = Field(
        default="10/minute", description="Failed authentications a client may make before it must wait"
    )
    rate_limit_storage: str = "memory://"

    run_dispatcher: bool = True
    worker_id: str = ""
    poll_interval_seconds: float = 0.2
    # The most calls one batch turn claims; the dispatcher claims fewer while the provider dials slowly.
    claim_batch_size: int = 1_000
    # A worker renews the leases of its calls in flight every third of this while it lives, so a dead
    # worker's calls are recovered within seconds and a live one's are never taken.
    lease_seconds: float = 15.0
    # How long a dial whose provider id was never recorded waits for the provider's late callbacks, when
    # the provider cannot be asked about it by our attempt id, before it ends with the outcome unknown;
    # also the longest a worker keeps renewing a call's lease while waiting for its ending (a callback the
    # provider lost), after which the provider is asked.
    unconfirmed_dial_timeout_seconds: float = 4 * 3600.0

    bulk_call_rate_limit: float | None = Field(
        default=None,
        gt=0,
        # Dialect A's own deployments set BULK_CALL_RATE_LIMIT; it is honoured as written.
        validation_alias=AliasChoices(
            "bulk_call_rate_limit", "BATCHCALL_BULK_CALL_RATE_LIMIT", "BULK_CALL_RATE_LIMIT"
        ),
        description="Default calls-per-second cap for batches submitted through dialect A",
    )
    call_contact_bulk_batch_size: int = Field(
        default=10, ge=10, le=1000, description="Dialect E's default batchSize: calls it processes at once"
    )

    # Each vendor's own settings, read by its class from its own variables (BATCHCALL_SIM_* here).
    simulated: SimulatedSettings = Field(default_factory=SimulatedSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    # Fernet keys, comma-separated, that seal stored secrets (provider credentials): the first seals, all
    # open, so a key rotates by going first (kit/sealing.py). Without one, no secret can be stored.
    secret_keys: str = Field(default="", repr=False)

    # Provider callbacks signed with a timestamp older (or newer) than this are refused as stale.
    callback_tolerance_seconds: float = Field(default=300.0, gt=0)
    # How long an agent's session token works from the moment its call is answered: long enough to read
    # the session, hold the conversation and post the result, and no longer.
    agent_session_seconds: float = Field(default=3600.0, gt=0)
    # How long dialect C's signed tasks_url stays valid.
    tasks_url_ttl_seconds: float = Field(default=24 * 3600.0, gt=0)

    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 8
    # Retry n (from 1) waits base * factor**(n-1), at most the cap, give or take a fifth.
    webhook_backoff_base_seconds: float = Field(default=10.0, ge=0)
    webhook_backoff_factor: float = Field(default=4.0, ge=1)
    webhook_backoff_cap_seconds: float = Field(default=6 * 3600.0, ge=0)

    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def config_file() -> Path:
    """The operator's config file: ``$BATCHCALL_CONFIG``, else ``config.toml`` in the ``batchcall`` folder
    of ``$XDG_CONFIG_HOME`` (``~/.config`` when unset)."""
    named = os.environ.get("BATCHCALL_CONFIG")
    if named:
        return Path(named).expanduser()
    folder = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(folder) / "batchcall" / "config.toml"


class ClientSettings(BaseSettings):
    """Where the CLI's API commands send requests, and the key they send.

    A class apart from ``Settings``: the server never reads an operator's config file, and a client never
    needs the server's settings. A flag wins over ``BATCHCALL_API_URL`` / ``BATCHCALL_API_KEY``, which win
    over the config file's ``api_url`` and ``api_key``.
    """

    model_config = SettingsConfigDict(env_prefix="BATCHCALL_", extra="ignore")

    api_url: str = Field(default="http://127.0.0.1:8000", description="The API's base URL")
    api_key: str = Field(default="", description="An API key of the workspace: <key_id>.<secret>")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file())
