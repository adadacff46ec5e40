"""Provider callbacks: verified by the provider's adapter, stored once, acted on if new, answered fast.

The route sits beside ``provider_events``, which it hands the verified events to; ``providers/`` knows
only how each vendor signs and words them."""

from fastapi import APIRouter, Request
from pydantic import BaseModel

from batchcall.auth.dependencies import DbSession
from batchcall.dispatcher import provider_events
from batchcall.kit.errors import Forbidden, Invalid, NotFound
from batchcall.providers import registry
from batchcall.providers.base import CallbackForged, ProviderRejected
from batchcall.web.http import read_body
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["providers"], route_class=UnitOfWorkRoute)

# A status callback is a few hundred bytes; a body far larger is not one and is not held in memory.
MAX_CALLBACK_BYTES = 64 * 1024


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
    body = await read_body(request, MAX_CALLBACK_BYTES)
    adapter = registry.create(provider, runtime)
    try:
        found = adapter.parse_callback(dict(request.headers), body)
    except CallbackForged as fault:
        raise Forbidden(f"Callback refused: {fault.message}") from None
    except ProviderRejected as fault:
        raise Invalid(f"Callback not understood: {fault.message}") from None
    received = provider_events.receive(session, provider, found, runtime.clock.now())
    return EventsReceived(received=len(found), new=received.new, duplicates=received.duplicates)
