"""The addresses a workspace must not email again: added by an unsubscribe link (or a server's permanent
refusal), checked by the claim before every email."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.bulk import bulk_insert
from batchcall.kit.ids import new_id
from batchcall.kit.pagination import paginate
from batchcall.kit.tenancy import get_owned
from batchcall.models import EmailSuppression
from batchcall.models.base import table_of


def suppress(
    session: Session, workspace_id: str, address: str, reason: str, now: datetime
) -> EmailSuppression:
    """Put the address on the workspace's list; adding it twice keeps the first entry."""
    values = {
        "id": new_id(),
        "workspace_id": workspace_id,
        "address": address.lower(),
        "reason": reason,
        "created_at": now,
    }
    conflict = "ON CONFLICT (workspace_id, address) DO NOTHING"
    bulk_insert(session, table_of(EmailSuppression), [values], on_conflict=conflict)
    entry = session.scalar(
        select(EmailSuppression).where(
            EmailSuppression.workspace_id == workspace_id, EmailSuppression.address == address.lower()
        )
    )
    assert entry is not None
    return entry


def get(session: Session, workspace_id: str, entry_id: str) -> EmailSuppression:
    return get_owned(session, EmailSuppression, workspace_id, entry_id, "Suppressed address")


def listed(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[EmailSuppression], int]:
    query = select(EmailSuppression).where(EmailSuppression.workspace_id == workspace_id)
    return paginate(session, query.order_by(EmailSuppression.created_at, EmailSuppression.id), limit, offset)


def suppressed(session: Session, workspace_id: str, addresses: Iterable[str]) -> set[str]:
    """Those of ``addresses`` on the workspace's list, lower-cased: an address is one whatever its case."""
    lowered = {address.lower() for address in addresses}
    if not lowered:
        return set()
    query = select(EmailSuppression.address).where(
        EmailSuppression.workspace_id == workspace_id, EmailSuppression.address.in_(lowered)
    )
    return set(session.scalars(query))
