"""The URLs Twilio is given for a call, all under ``BATCHCALL_PUBLIC_URL``: where it fetches the call's
TwiML (signed for that attempt, so no one else can read the prompt) and where it posts status callbacks
(naming the attempt and the account, which Twilio's signature then covers)."""

import hashlib
import hmac
from urllib.parse import urlencode

TWIML_KEY = "twilio.twiml_key"
MEDIA = "media"
PREFIX = "/v1/providers/twilio"


def twiml_token(key: bytes, attempt_id: str, purpose: str = "twiml") -> str:
    return hmac.new(key, f"{purpose}:{attempt_id}".encode(), hashlib.sha256).hexdigest()[:32]


def token_matches(key: bytes, attempt_id: str, token: str, purpose: str = "twiml") -> bool:
    return hmac.compare_digest(twiml_token(key, attempt_id, purpose).encode(), token.encode())


def twiml_url(public_url: str, key: bytes, attempt_id: str) -> str:
    return f"{public_url}{PREFIX}/twiml/{attempt_id}?{urlencode({'token': twiml_token(key, attempt_id)})}"


def as_websocket(url: str) -> str:
    """The WebSocket URL of an http(s) one: ws for http, wss for https."""
    return "ws" + url.removeprefix("http") if url.startswith("http") else url


def media_url(public_url: str, key: bytes, attempt_id: str) -> str:
    """Where Twilio opens the call's media stream: this server's bridge to the agent, signed for the
    attempt."""
    token = twiml_token(key, attempt_id, MEDIA)
    return f"{as_websocket(public_url)}{PREFIX}/media/{attempt_id}?{urlencode({'token': token})}"


def events_url(public_url: str, attempt_id: str, account_id: str | None) -> str:
    query = {"attempt": attempt_id} | ({"account": account_id} if account_id else {})
    return f"{public_url}{PREFIX}/events?{urlencode(query)}"
