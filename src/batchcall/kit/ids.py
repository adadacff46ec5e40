"""Every id, and the randomness of every secret, is generated here."""

import secrets
import uuid

_CONTACT_NAMESPACE = uuid.UUID("6f1c4b8e-2f0a-4d55-9d36-0f2f4f5a9b11")
# 256 bits: no secret of ours can be guessed, and a fast hash of one is as good as a slow one.
SECRET_BYTES = 32


def new_id() -> str:
    return str(uuid.uuid4())


def contact_id(workspace_id: str, phone: str) -> str:
    """A contact is keyed by its number inside a workspace, so its id can be derived without a lookup."""
    return str(uuid.uuid5(_CONTACT_NAMESPACE, f"{workspace_id}:{phone}"))


def new_secret() -> bytes:
    """A new secret's random bytes; each use spells them as it needs (an API key's secret, a webhook
    signing secret, an installation secret, the simulated provider's own callback key)."""
    return secrets.token_bytes(SECRET_BYTES)
