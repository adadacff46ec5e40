"""What Twilio asks of this server beside status callbacks: the TwiML of an answered call (what to say, at a
URL signed for the attempt), and the texts people send to the workspaces' numbers (a STOP among them).

Twilio's TwiML request is checked twice: the URL's token (only this server can make it) and Twilio's own
``X-Twilio-Signature`` with the auth token of the account that placed the call. What it answers depends on
the batch's agent: a ``stream`` agent's call is connected to this server's media bridge (``media.py``), which
connects it to the agent; a ``sip`` agent's is bridged to its SIP URI; otherwise the call says its prompt.
"""

import re
from collections.abc import Callable, Mapping
from functools import partial
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Connect, Dial, Stream, VoiceResponse

from batchcall.agent_sessions import service as agent_sessions
from batchcall.agents import service as agents
from batchcall.auth.dependencies import DbSession
from batchcall.contacts import service as contacts
from batchcall.kit.errors import Conflict, Forbidden, NotFound
from batchcall.models import Attempt, Call, Transport
from batchcall.numbers import repository as numbers
from batchcall.provider_accounts import service as provider_accounts
from batchcall.providers import registry
from batchcall.providers.base import CallbackForged, Provider, ProviderRejected
from batchcall.providers.twilio import media, urls
from batchcall.providers.twilio.provider import NAME, TwilioProvider
from batchcall.runtime import Runtime
from batchcall.web.http import read_body
from batchcall.web.routing import UnitOfWorkRoute, public_url_of, runtime_of

router = APIRouter(tags=["providers"], route_class=UnitOfWorkRoute)
router.add_api_websocket_route("/providers/twilio/media/{attempt_id}", media.media_stream)

MAX_TWIML_REQUEST_BYTES = 64 * 1024
REFUSED = "TwiML refused: the URL or its signature is not Twilio's for this call"
INBOUND_REFUSED = "Message refused: it is not signed by a Twilio account of this server"


@router.post(
    "/providers/twilio/twiml/{attempt_id}",
    response_class=Response,
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
async def twiml(attempt_id: str, request: Request, session: DbSession, token: str = "") -> Response:
    runtime = runtime_of(request)
    body = await read_body(request, MAX_TWIML_REQUEST_BYTES)
    attempt = session.get(Attempt, attempt_id)
    key = runtime.installation_secret(urls.TWIML_KEY)
    if attempt is None or attempt.provider != NAME or not urls.token_matches(key, attempt_id, token):
        raise Forbidden(REFUSED)
    try:
        provider = provider_accounts.named_provider(session, runtime, NAME, attempt.provider_account_id)
    except NotFound:
        raise Forbidden(REFUSED) from None
    assert isinstance(provider, TwilioProvider)
    try:
        provider.verified(dict(request.headers), body, public_url_of(request))
    except CallbackForged:
        raise Forbidden(REFUSED) from None
    call = session.get(Call, attempt.call_id)
    assert call is not None
    agent = agents.of_batch(session, call.batch_id)
    answer = VoiceResponse()
    if agent is not None and agent.transport == Transport.STREAM:
        answer.append(_stream(runtime, key, call.id, attempt_id))
    elif agent is not None and agent.transport == Transport.SIP and agent.sip_uri:
        answer.append(_sip(runtime, agent.sip_uri, call.id, attempt_id))
    else:
        prompt = attempt.prompt or call.prompt or call.instruction
        if prompt:
            answer.say(prompt)
    answer.hangup()
    return Response(str(answer), media_type="application/xml")


# The SIP headers a bridged call carries to the agent (Twilio passes X- headers given on the SIP URI).
CALL_ID_HEADER = "X-BatchCall-Call-Id"
TOKEN_HEADER = "X-BatchCall-Token"


def _stream(runtime: Runtime, key: bytes, call_id: str, attempt_id: str) -> Connect:
    """The answered call's audio, streamed to this server's bridge, which connects it to the agent; the
    call id and the agent's session token travel as the stream's parameters."""
    stream = Stream(url=urls.media_url(runtime.settings.public_url.rstrip("/"), key, attempt_id))
    stream.parameter(name="call_id", value=call_id)
    stream.parameter(name="token", value=agent_sessions.issue(runtime, attempt_id))
    connect = Connect()
    connect.append(stream)
    return connect


def _sip(runtime: Runtime, sip_uri: str, call_id: str, attempt_id: str) -> Dial:
    """The answered call bridged to the agent's SIP URI, with the call id and the session token as headers."""
    headers = {CALL_ID_HEADER: call_id, TOKEN_HEADER: agent_sessions.issue(runtime, attempt_id)}
    dial = Dial(answer_on_bridge=True)
    dial.sip(f"{sip_uri}?{urlencode(headers)}")
    return dial


# What a person texts to stop every message (Twilio's own opt-out keywords, with Advanced Opt-Out's),
# matched as Twilio matches them: the whole message, any case, spaces around it ignored.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@router.post(
    "/providers/twilio/messages",
    response_class=Response,
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
async def inbound_message(request: Request, session: DbSession) -> Response:
    """A text a person sent to one of the workspace's numbers (the number's messaging webhook in Twilio):
    an opt-out word puts the sender on the do-not-call list of every workspace the number is of, for
    every channel. Twilio answers the person itself, so the TwiML is empty."""
    runtime = runtime_of(request)
    body = await read_body(request, MAX_TWIML_REQUEST_BYTES)
    params, workspaces = _receivers(session, runtime, dict(request.headers), body, public_url_of(request))
    sender = params.get("From", "")
    opted_out = params.get("OptOutType") == "STOP" or params.get("Body", "").strip().upper() in OPT_OUT_WORDS
    if opted_out and E164.match(sender):
        reason = f"texted '{params.get('Body', '').strip()[:40]}' to {params.get('To')}"
        for workspace_id in workspaces:
            contacts.block_number(session, workspace_id, sender, reason, runtime.clock.now(), source=NAME)
    return Response(str(MessagingResponse()), media_type="application/xml")


def _receivers(
    session: Session, runtime: Runtime, headers: Mapping[str, str], body: bytes, url: str
) -> tuple[dict[str, str], list[str]]:
    """The text's fields, checked with the auth token of the Twilio account it names, and the workspaces
    whose number it was sent to: of the provider accounts with that account SID whose signature holds, or
    every workspace with the number when it is the process's own Twilio account. Raises Forbidden when
    no account's signature holds."""
    try:
        named = dict(parse_qsl(body.decode())).get("AccountSid", "")
    except UnicodeDecodeError:
        raise Forbidden(INBOUND_REFUSED) from None
    workspaces: list[str] = []
    verified: dict[str, str] | None = None
    candidates: list[tuple[str | None, Callable[[], Provider]]] = [
        (account.workspace_id, partial(provider_accounts.provider_of, account, runtime))
        for account in provider_accounts.accounts_with(session, NAME, "account_sid", named)
    ]
    if named and runtime.settings.twilio.account_sid == named:
        candidates.append((None, partial(registry.create, NAME, runtime)))
    for workspace_id, build in candidates:
        try:
            provider = build()
            assert isinstance(provider, TwilioProvider)
            verified = provider.verified(headers, body, url)
        except (CallbackForged, ProviderRejected, Conflict):
            # Not this account's signature, or an account whose secrets cannot be opened.
            continue
        owning = numbers.workspaces_owning(session, verified.get("To", ""))
        workspaces += owning if workspace_id is None else [w for w in owning if w == workspace_id]
    if verified is None:
        raise Forbidden(INBOUND_REFUSED)
    return verified, sorted(set(workspaces))
