"""The one place settings come from: environment variables prefixed ``BATCHCALL_``."""

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    run_dispatcher: bool = True
    worker_id: str = ""
    poll_interval_seconds: float = 0.2
    # The most calls one batch turn claims; the dispatcher claims fewer while the provider dials slowly.
    claim_batch_size: int = 1_000
    lease_seconds: float = 120.0

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

    sim_call_seconds: float = 20.0
    sim_speed: float = 1.0
    sim_ledger: str = ""

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "batchcall@localhost"

    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 8

    log_level: str = "INFO"

    api_url: str = Field(
        default="http://127.0.0.1:8000", description="Where the CLI's API commands send requests"
    )
    api_key: str = Field(default="", description="The key the CLI's API commands use")


@lru_cache
def get_settings() -> Settings:
    return Settings()
