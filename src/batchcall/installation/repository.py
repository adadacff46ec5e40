from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.bulk import bulk_insert
from batchcall.models import InstallationSecret
from batchcall.models.base import table_of


def get_or_create_secret(session: Session, name: str, candidate: str, now: datetime) -> str:
    """The stored value of secret ``name``, storing ``candidate`` first if there is none.

    When another process stores the same name at the same moment, the insert waits for it and does
    nothing, and the value read back is theirs."""
    row = {"name": name, "value": candidate, "created_at": now}
    bulk_insert(session, table_of(InstallationSecret), [row], on_conflict="ON CONFLICT (name) DO NOTHING")
    value = session.scalar(select(InstallationSecret.value).where(InstallationSecret.name == name))
    assert value is not None
    return value
