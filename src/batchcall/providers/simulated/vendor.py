"""The simulated vendor: serves every channel, takes no credentials."""

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from batchcall.providers.base import Account, Provider
from batchcall.providers.registry import Vendor
from batchcall.providers.simulated.provider import CALLBACK_KEY, NAME, SimulatedProvider

if TYPE_CHECKING:
    from batchcall.runtime import Runtime


class SimulatedCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _build(runtime: "Runtime", account: Account | None) -> Provider:
    key = runtime.installation_secret(CALLBACK_KEY)
    return SimulatedProvider(runtime.settings, runtime.clock, callback_key=key)


VENDOR = Vendor(
    name=NAME,
    channels=frozenset({"voice", "sms", "email"}),
    credentials=SimulatedCredentials,
    secrets=frozenset(),
    build=_build,
    installation_secrets=(CALLBACK_KEY,),
)
