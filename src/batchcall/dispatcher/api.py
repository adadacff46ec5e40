"""Provider callbacks: verified by the provider's adapter, stored once, acted on if new, answered fast.

The route sits beside ``provider_events``, which it hands the verified events to; ``providers/`` knows
only how each vendor signs and words them. A callback of a workspace's provider account names the account
in its URL (which the vendor's signature covers): it is checked with that account's secret and moves only
the calls placed through it."""

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from batchcall.auth.dependencies import DbSession
from batchcall.dispatcher import provider_events, voicemail
from batchcall.kit.errors import Forbidden, Invalid
from batchcall.provider_accounts import service as provider_accounts
from batchcall.providers.base import CallbackForged, ProviderRejected
from batchcall.web.http import read_body
from batchcall.web.routing import UnitOfWorkRoute, public_url_of, runtime_of

router = APIRouter(tags=["providers"], route_class=UnitOfWorkRoute)

# A status callback is a few hundred bytes; a body far larger is not one and is not held in memory.
MAX_CALLBACK_BYTES = 64 * 1024


class EventsReceived(BaseModel):
    received: int
    new: int
    duplicates: int


@router.post("/providers/{provider}/events")
async def receive_events(
    provider: str,
    request: Request,
    session: DbSession,
    background: BackgroundTasks,
    account: str | None = None,
) -> EventsReceived:
    """Status callbacks from a provider; a redelivered event is accepted and ignored. What a machine's
    answer asks of the vendor (hang up, leave a message) is asked once the events are stored."""
    runtime = runtime_of(request)
    body = await read_body(request, MAX_CALLBACK_BYTES)
    adapter = provider_accounts.named_provider(session, runtime, provider, account)
    try:
        found = await run_in_threadpool(
            adapter.parse_callback, dict(request.headers), body, public_url_of(request)
        )
    except CallbackForged as fault:
        raise Forbidden(f"Callback refused: {fault.message}") from None
    except ProviderRejected as fault:
        raise Invalid(f"Callback not understood: {fault.message}") from None
    # The database is written off the event loop: another request's transaction may await it to commit.
    received = await run_in_threadpool(
        provider_events.receive, session, provider, found, runtime.clock.now(), account
    )
    if received.machines:
        steps = await run_in_threadpool(voicemail.steps, session, received.machines)
        background.add_task(voicemail.carry_out, adapter, steps)
    return EventsReceived(received=len(found), new=received.new, duplicates=received.duplicates)
