"""The media bridge: Twilio's Media Stream of an answered call, connected to the agent's WebSocket.

Twilio opens the stream at the URL the call's TwiML named (signed for the attempt) and signs the handshake
with ``X-Twilio-Signature``; the bridge checks both, connects to the agent's ``stream_url`` (a public address
only, unless private targets are allowed) and relays every message each way as it is, so the agent speaks
Twilio's Media Streams protocol and reads the call id and its session token from ``start``'s
``customParameters``. On the way it times the silence: how long after the stream began the agent's first
audio came (the whole stream, when it never spoke), kept on the attempt.
"""

import asyncio
import logging
from contextlib import suppress
from datetime import datetime

import orjson
import websockets
from fastapi import WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.status import WS_1008_POLICY_VIOLATION
from websockets.asyncio.client import ClientConnection

from batchcall.agents import service as agents
from batchcall.db import unit_of_work
from batchcall.dispatcher import abandonment
from batchcall.kit import outbound
from batchcall.kit.errors import Invalid, NotFound
from batchcall.models import Attempt, Call, Transport
from batchcall.provider_accounts import service as provider_accounts
from batchcall.providers.base import CallbackForged
from batchcall.providers.twilio import urls
from batchcall.providers.twilio.provider import NAME, TwilioProvider
from batchcall.runtime import Runtime
from batchcall.web.routing import public_url_of, runtime_of

log = logging.getLogger("batchcall.providers.twilio")

# An audio frame is a few hundred bytes; nothing an agent sends needs more.
MAX_MESSAGE_BYTES = 256 * 1024
CONNECT_SECONDS = 10.0


async def media_stream(websocket: WebSocket, attempt_id: str, token: str = "") -> None:
    runtime = runtime_of(websocket)
    url = urls.as_websocket(public_url_of(websocket))
    stream_url = await run_in_threadpool(_agent_url, runtime, attempt_id, token, dict(websocket.headers), url)
    if stream_url is None:
        # Refused before the handshake completes: Twilio (or whoever asked) is answered 403.
        await websocket.close(code=WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    # The person is on the line from here: the silence is timed from now.
    began = runtime.clock.now()
    try:
        agent = await _connect(stream_url, runtime.settings.allow_private_targets)
    except (OSError, TimeoutError, ValueError, websockets.WebSocketException, Invalid) as fault:
        log.warning("the agent of attempt %s could not be reached: %s", attempt_id, fault)
        await run_in_threadpool(_record_silence, runtime, attempt_id, began)
        await websocket.close()
        return
    async with agent:
        await _relay(websocket, agent, runtime, attempt_id, began)
        # The agent may still be talking when the call ends: what it says is read and dropped, so that
        # its queue never stops the reading and the close handshake is heard at once.
        draining = asyncio.ensure_future(_drain(agent))
    await draining


async def _drain(agent: ClientConnection) -> None:
    with suppress(websockets.ConnectionClosed):
        async for _ in agent:
            pass


def _record_silence(runtime: Runtime, attempt_id: str, began: datetime) -> None:
    """How long the person waited for the agent's first audio, from ``began`` until now."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        abandonment.record_first_audio(session, attempt_id, (now - began).total_seconds(), now)


def _agent_url(
    runtime: Runtime, attempt_id: str, token: str, headers: dict[str, str], url: str
) -> str | None:
    """The WebSocket of the agent a genuine stream of the attempt goes to, or None when the stream is not
    Twilio's for a ``stream`` agent's call."""
    key = runtime.installation_secret(urls.TWIML_KEY)
    if not urls.token_matches(key, attempt_id, token, urls.MEDIA):
        return None
    with unit_of_work(runtime.sessions) as session:
        attempt = session.get(Attempt, attempt_id)
        if attempt is None or attempt.provider != NAME:
            return None
        try:
            provider = provider_accounts.named_provider(session, runtime, NAME, attempt.provider_account_id)
        except NotFound:
            return None
        assert isinstance(provider, TwilioProvider)
        try:
            provider.check_signature(headers, url, {})
        except CallbackForged:
            return None
        call = session.get(Call, attempt.call_id)
        agent = agents.of_batch(session, call.batch_id) if call is not None else None
        if agent is None or agent.transport != Transport.STREAM or not agent.stream_url:
            return None
        return agent.stream_url


async def _connect(stream_url: str, allow_private: bool) -> ClientConnection:
    """A WebSocket to the agent, opened to an address of its host this server may reach."""
    host = websockets.uri.parse_uri(stream_url).host
    addresses = await asyncio.to_thread(outbound.allowed_addresses, host, allow_private=allow_private)
    return await websockets.connect(
        stream_url,
        host=addresses[0],
        proxy=None,
        open_timeout=CONNECT_SECONDS,
        max_size=MAX_MESSAGE_BYTES,
    )


async def _relay(
    twilio: WebSocket, agent: ClientConnection, runtime: Runtime, attempt_id: str, began: datetime
) -> None:
    """Relay messages each way until either side ends the stream, timing the agent's first audio: it goes
    on to Twilio first, and is recorded beside."""
    recorded: list[asyncio.Future[None]] = []

    async def from_twilio() -> None:
        while True:
            message = await twilio.receive_text()
            await agent.send(message)
            if '"stop"' in message and _event_of(message) == "stop":
                return

    async def from_agent() -> None:
        async for message in agent:
            if isinstance(message, bytes):
                continue
            await twilio.send_text(message)
            if not recorded and _event_of(message) == "media":
                recorded.append(
                    asyncio.ensure_future(run_in_threadpool(_record_silence, runtime, attempt_id, began))
                )

    sides = [asyncio.create_task(from_twilio()), asyncio.create_task(from_agent())]
    try:
        await asyncio.wait(sides, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for side in sides:
            side.cancel()
        outcomes = await asyncio.gather(*sides, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(
                outcome, (WebSocketDisconnect, websockets.ConnectionClosed, asyncio.CancelledError)
            ):
                log.warning("the media stream of attempt %s broke: %s", attempt_id, outcome)
    # The first audio's wait, or, when the agent never spoke, the whole stream's silence.
    await (recorded[0] if recorded else run_in_threadpool(_record_silence, runtime, attempt_id, began))
    try:
        await twilio.close()
    except RuntimeError:
        # Twilio closed it first.
        pass


def _event_of(message: str) -> str | None:
    """The Media Streams event a message carries (``start``, ``media``, ``stop`` ...)."""
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    event = parsed.get("event") if isinstance(parsed, dict) else None
    return event if isinstance(event, str) else None
