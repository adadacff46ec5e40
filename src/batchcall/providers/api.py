"""Provider callbacks: verified by the provider's adapter, stored once, acted on if new, answered fast."""

from fastapi import APIRouter, Request
from pydantic import BaseModel

from batchcall.auth.dependencies import DbSession
from batchcall.dispatcher import events
from batchcall.kit.errors import Invalid, NotFound
from batchcall.kit.routing import UnitOfWorkRoute, runtime_of
from batchcall.providers import registry
from batchcall.providers.base import ProviderRejected

router = APIRouter(tags=["providers"], route_class=UnitOfWorkRoute)


class EventsReceived(BaseModel):
    received: int
    new: int
    duplicates: int


@router.post("/providers/{provider}/events")
async def receive_events(provider: str, request: Request, session: DbSession) -> EventsReceived:
    """Status callbacks from the configured provider; a redelivered event is accepted and ignored."""
    runtime = runtime_of(request)
    if provider != runtime.settings.provider:
        raise NotFound(f"Provider '{provider}' is not the one this server uses")
    adapter = registry.create(provider, runtime.settings, runtime.clock)
    try:
        found = adapter.parse_callback(dict(request.headers), await request.body())
    except ProviderRejected as fault:
        raise Invalid(f"Callback refused: {fault.message}") from None
    received = events.receive(session, provider, found, runtime.clock.now())
    return EventsReceived(received=len(found), new=received.new, duplicates=received.duplicates)
