"""The TwiML Twilio fetches when a call is answered: what to say, at a URL signed for the attempt.

Twilio's request is checked twice: the URL's token (only this server can make it) and Twilio's own
``X-Twilio-Signature`` with the auth token of the account that placed the call. The agent issue puts the
AI agent here; for now the call says the prompt rendered for it.
"""

from fastapi import APIRouter, Request, Response
from twilio.twiml.voice_response import VoiceResponse

from batchcall.auth.dependencies import DbSession
from batchcall.kit.errors import Forbidden, NotFound
from batchcall.models import Attempt, Call
from batchcall.provider_accounts import service as provider_accounts
from batchcall.providers.base import CallbackForged
from batchcall.providers.twilio import urls
from batchcall.providers.twilio.provider import NAME, TwilioProvider
from batchcall.web.http import read_body
from batchcall.web.routing import UnitOfWorkRoute, public_url_of, runtime_of

router = APIRouter(tags=["providers"], route_class=UnitOfWorkRoute)

MAX_TWIML_REQUEST_BYTES = 64 * 1024
REFUSED = "TwiML refused: the URL or its signature is not Twilio's for this call"


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
    prompt = attempt.prompt or call.prompt or call.instruction
    answer = VoiceResponse()
    if prompt:
        answer.say(prompt)
    answer.hangup()
    return Response(str(answer), media_type="application/xml")
