"""Providers by name: ``BATCHCALL_PROVIDER`` picks one; ``simulated`` is the default."""

from collections.abc import Callable

from batchcall.config import Settings
from batchcall.kit.clock import Clock
from batchcall.kit.errors import NotFound
from batchcall.providers.base import Provider
from batchcall.providers.simulated.provider import SimulatedProvider

ProviderFactory = Callable[[Settings, Clock], Provider]

FACTORIES: dict[str, ProviderFactory] = {SimulatedProvider.name: SimulatedProvider}


def create(name: str, settings: Settings, clock: Clock) -> Provider:
    factory = FACTORIES.get(name)
    if factory is None:
        raise NotFound(f"Unknown provider '{name}'; known: {', '.join(sorted(FACTORIES))}")
    return factory(settings, clock)
