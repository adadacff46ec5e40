"""The simulated provider's own settings, from ``BATCHCALL_SIM_*`` (SPEC 7 pins these names)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulatedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCHCALL_SIM_", extra="ignore")

    # A simulated call lasts call_seconds / speed.
    call_seconds: float = 20.0
    speed: float = 1.0
    # The file every dial is appended to, as a JSON line, from every process; empty: none.
    ledger: str = ""
    # Fault injection for tests: the process dies right after its Nth dial reached the simulated provider
    # (and its ledger), before the dial's provider id is stored, as a worker killed at that moment would.
    crash_after_dials: int = Field(default=0, ge=0, description="0: never")
