"""Providers by name: ``BATCHCALL_PROVIDER`` picks one; ``simulated`` is the default."""

from collections.abc import Callable

from batchcall.kit.errors import NotFound
from batchcall.providers.base import Provider
from batchcall.providers.simulated.provider import CALLBACK_KEY, SimulatedProvider
from batchcall.runtime import Runtime

ProviderFactory = Callable[[Runtime], Provider]


def _simulated(runtime: Runtime) -> Provider:
    key = runtime.installation_secret(CALLBACK_KEY)
    return SimulatedProvider(runtime.settings, runtime.clock, callback_key=key)


FACTORIES: dict[str, ProviderFactory] = {SimulatedProvider.name: _simulated}


def create(name: str, runtime: Runtime) -> Provider:
    factory = FACTORIES.get(name)
    if factory is None:
        raise NotFound(f"Unknown provider '{name}'; known: {', '.join(sorted(FACTORIES))}")
    return factory(runtime)
