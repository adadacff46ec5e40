"""The unsubscribe link every email carries (RFC 8058 one-click): signed for the workspace and the address,
so that only the person it was sent to (or their mail provider, on their behalf) can use it, and it needs
no key, no sign-in and no state on this server."""

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

UNSUBSCRIBE_KEY = "mail.unsubscribe_key"
PATH = "/v1/unsubscribe"


def token(key: bytes, workspace_id: str, address: str) -> str:
    named = json.dumps([workspace_id, address.lower()]).encode()
    claim = base64.urlsafe_b64encode(named).decode().rstrip("=")
    return f"{claim}.{_signature(key, claim)}"


def read(key: bytes, given: str) -> tuple[str, str] | None:
    """The workspace and address a token of this server names, or None for any other string."""
    claim, _, signature = given.partition(".")
    # Compared as bytes: a token may hold any character, and compare_digest takes only ASCII strings.
    if not signature or not hmac.compare_digest(_signature(key, claim).encode(), signature.encode()):
        return None
    try:
        workspace_id, address = json.loads(base64.urlsafe_b64decode(claim + "=" * (-len(claim) % 4)))
    except ValueError:
        return None
    if not isinstance(workspace_id, str) or not isinstance(address, str):
        return None
    return workspace_id, address


def link(public_url: str, key: bytes, workspace_id: str, address: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}?{urlencode({'token': token(key, workspace_id, address)})}"


def _signature(key: bytes, claim: str) -> str:
    return hmac.new(key, f"unsubscribe:{claim}".encode(), hashlib.sha256).hexdigest()[:32]
