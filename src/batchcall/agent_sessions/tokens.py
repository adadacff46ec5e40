"""An agent's session token: it names one attempt of one call and when it stops working, signed with an
installation secret, so that any process can check it and nobody can make one.

``as_<attempt id>.<expiry, Unix seconds>.<HMAC-SHA256, base64url>``: the prefix tells it from an API key
(``<key id>.<secret>``) in an ``Authorization`` header.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from batchcall.kit.errors import Unauthorized

SESSION_KEY = "agent.session_key"
PREFIX = "as_"
MAX_TOKEN_CHARS = 160
REFUSED = "This agent session token is not valid"
EXPIRED = "This agent session token has expired"
EXPIRY = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True, slots=True)
class SessionToken:
    attempt_id: str
    expires_at: datetime


def _mac(key: bytes, attempt_id: str, expires: int) -> str:
    digest = hmac.new(key, f"agent-session:{attempt_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(key: bytes, attempt_id: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    return f"{PREFIX}{attempt_id}.{expires}.{_mac(key, attempt_id, expires)}"


def is_session_token(credential: str) -> bool:
    return credential.startswith(PREFIX)


def read(key: bytes, token: str, now: datetime) -> SessionToken:
    """The attempt a genuine, unexpired token names; raises Unauthorized otherwise."""
    if len(token) > MAX_TOKEN_CHARS or not token.startswith(PREFIX):
        raise Unauthorized(REFUSED)
    attempt_id, _, rest = token.removeprefix(PREFIX).partition(".")
    expires_text, _, mac = rest.partition(".")
    if not EXPIRY.fullmatch(expires_text) or not hmac.compare_digest(
        _mac(key, attempt_id, int(expires_text)), mac
    ):
        raise Unauthorized(REFUSED)
    expires_at = datetime.fromtimestamp(int(expires_text), UTC)
    if now >= expires_at:
        raise Unauthorized(EXPIRED)
    return SessionToken(attempt_id, expires_at)
