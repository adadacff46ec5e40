"""Installation secrets: made at random by the first process that needs one, then shared by all."""

from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.installation import repository
from batchcall.kit.ids import new_secret


def secret(session: Session, name: str, now: datetime) -> bytes:
    """The installation's secret ``name``, created if this is the first time any process asks for it."""
    stored = repository.get_or_create_secret(session, name, new_secret().hex(), now)
    return bytes.fromhex(stored)
