"""Workspaces and API keys. A key is ``<key_id>.<secret>``; only a hash of the secret is kept."""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.auth import repository
from batchcall.auth.scopes import ALL_SCOPES, Scope, grants
from batchcall.kit.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from batchcall.kit.ids import new_id, new_secret
from batchcall.models import ApiKey, Workspace

KEY_ID_PREFIX = "bck_"


@dataclass(frozen=True)
class Principal:
    workspace_id: str
    key_id: str
    scopes: tuple[str, ...]

    def require(self, scope: Scope) -> None:
        if not grants(list(self.scopes), scope):
            raise Forbidden(f"This API key lacks the '{scope}' scope")


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    key_secret: str
    scopes: tuple[str, ...]

    @property
    def api_key(self) -> str:
        return f"{self.key_id}.{self.key_secret}"


def _hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is enough; a slow KDF would only slow every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "workspace"


def create_workspace(session: Session, name: str, now: datetime, slug: str | None = None) -> Workspace:
    if not name.strip():
        raise Invalid("A workspace needs a name")
    slug = slugify(slug or name)
    if repository.get_workspace_by_slug(session, slug) is not None:
        raise Conflict(f"A workspace with slug '{slug}' already exists")
    workspace = Workspace(id=new_id(), name=name.strip(), slug=slug, created_at=now)
    session.add(workspace)
    session.flush()
    return workspace


def get_workspace(session: Session, workspace_id: str) -> Workspace:
    workspace = repository.get_workspace(session, workspace_id)
    if workspace is None:
        raise NotFound(f"Workspace {workspace_id} not found")
    return workspace


def require_own_workspace(
    session: Session, principal: Principal, named: str, noun: str, by_id: bool = False
) -> None:
    """Refuse (403) a request that names a workspace other than its key's, as some dialects' bodies do
    (A's ``domain_name``, C's ``organization_id``): by its slug, or also by its id where ``by_id``.
    ``noun`` is the dialect's word for a workspace, for the message."""
    workspace = get_workspace(session, principal.workspace_id)
    if named not in {workspace.slug, *([workspace.id] if by_id else [])}:
        raise Forbidden(f"This API key does not belong to {noun} '{named}'")


def create_key(
    session: Session, workspace_id: str, now: datetime, name: str = "", scopes: list[str] | None = None
) -> IssuedKey:
    get_workspace(session, workspace_id)
    chosen = list(dict.fromkeys(scopes or [str(s) for s in ALL_SCOPES]))
    unknown = [s for s in chosen if s not in {str(s) for s in ALL_SCOPES}]
    if unknown:
        raise Invalid(f"Unknown scope(s): {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}")
    key_id = KEY_ID_PREFIX + secrets.token_hex(12)
    secret = base64.urlsafe_b64encode(new_secret()).rstrip(b"=").decode()
    session.add(
        ApiKey(
            id=key_id,
            workspace_id=workspace_id,
            name=name,
            secret_hash=_hash_secret(secret),
            scopes=chosen,
            created_at=now,
        )
    )
    session.flush()
    return IssuedKey(key_id, secret, tuple(chosen))


def revoke_key(session: Session, key_id: str, now: datetime) -> ApiKey:
    key = repository.get_key(session, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    key.revoked_at = key.revoked_at or now
    session.flush()
    return key


def verify(session: Session, key_id: str, secret: str) -> Principal:
    key = repository.get_key(session, key_id)
    if key is None or key.revoked_at is not None:
        raise Unauthorized("Invalid or revoked API key")
    if not hmac.compare_digest(key.secret_hash, _hash_secret(secret)):
        raise Unauthorized("Invalid or revoked API key")
    return Principal(key.workspace_id, key.id, tuple(key.scopes))


def verify_api_key(session: Session, api_key: str) -> Principal:
    key_id, dot, secret = api_key.strip().partition(".")
    if not dot or not key_id or not secret:
        raise Unauthorized("Malformed API key: expected '<key_id>.<secret>'")
    return verify(session, key_id, secret)


def _signature(key: ApiKey, subject: str) -> str:
    return hmac.new(key.secret_hash.encode(), subject.encode(), hashlib.sha256).hexdigest()


def url_signature(session: Session, principal: Principal, subject: str) -> str:
    """A signature that lets a URL about ``subject`` act as ``principal``'s key until that key is revoked."""
    key = repository.get_key(session, principal.key_id)
    if key is None:
        raise Unauthorized("Invalid or revoked API key")
    return _signature(key, subject)


def verify_url_signature(session: Session, key_id: str, subject: str, signature: str) -> Principal:
    key = repository.get_key(session, key_id)
    if key is None or key.revoked_at is not None:
        raise Unauthorized("This link is not valid, or its API key was revoked")
    if not hmac.compare_digest(_signature(key, subject), signature):
        raise Unauthorized("This link is not valid, or its API key was revoked")
    return Principal(key.workspace_id, key.id, tuple(key.scopes))
