"""Installation secrets: made at random by the first process that needs one, then shared by all."""

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.installation import repository

SECRET_BYTES = 32


def secret(session: Session, name: str, now: datetime) -> bytes:
    """The installation's secret ``name``, created if this is the first time any process asks for it."""
    stored = repository.get_or_create_secret(session, name, secrets.token_hex(SECRET_BYTES), now)
    return bytes.fromhex(stored)
