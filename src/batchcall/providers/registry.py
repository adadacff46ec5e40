"""Providers by name: ``BATCHCALL_PROVIDER`` picks one; ``simulated`` is the default."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from batchcall.providers.base import Provider
from batchcall.providers.simulated.provider import CALLBACK_KEY, SimulatedProvider

if TYPE_CHECKING:
    # Only named: the runtime checks the configured name here when it is made.
    from batchcall.runtime import Runtime

ProviderFactory = Callable[["Runtime"], Provider]


class UnknownProvider(LookupError):
    """``BATCHCALL_PROVIDER`` names no provider this server has: a mistake in its configuration."""


def _simulated(runtime: "Runtime") -> Provider:
    key = runtime.installation_secret(CALLBACK_KEY)
    return SimulatedProvider(runtime.settings, runtime.clock, callback_key=key)


FACTORIES: dict[str, ProviderFactory] = {SimulatedProvider.name: _simulated}


def check(name: str) -> None:
    """Raise UnknownProvider unless ``name`` is a provider this server has."""
    if name not in FACTORIES:
        raise UnknownProvider(
            f"BATCHCALL_PROVIDER is '{name}', which is not a provider; known: {', '.join(sorted(FACTORIES))}"
        )


def create(name: str, runtime: "Runtime") -> Provider:
    check(name)
    return FACTORIES[name](runtime)
