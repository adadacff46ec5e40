from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from batchcall.kit.bulk import among, bulk_insert
from batchcall.kit.pagination import paginate
from batchcall.models import Contact, ContactFolder, DncEntry, contact_folder_members
from batchcall.models.base import table_of

CHUNK = 5_000
UPDATE_GIVEN_FIELDS = (
    "DO UPDATE SET first_name = COALESCE(excluded.first_name, contacts.first_name), "
    "last_name = COALESCE(excluded.last_name, contacts.last_name), "
    "email = COALESCE(excluded.email, contacts.email), updated_at = excluded.updated_at"
)


def upsert_contacts(session: Session, rows: Sequence[dict[str, Any]], update_existing: bool) -> None:
    """Insert contacts by number; with ``update_existing`` overwrite names and email that are given."""
    action = UPDATE_GIVEN_FIELDS if update_existing else "DO NOTHING"
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        bulk_insert(
            session, table_of(Contact), chunk, on_conflict=f"ON CONFLICT (workspace_id, phone) {action}"
        )


def list_contacts(
    session: Session, workspace_id: str, phone: str | None, limit: int, offset: int
) -> tuple[list[Contact], int]:
    query = select(Contact).where(Contact.workspace_id == workspace_id)
    if phone is not None:
        query = query.where(Contact.phone == phone)
    return paginate(session, query.order_by(Contact.created_at, Contact.id), limit, offset)


def blocked_numbers(session: Session, workspace_id: str, phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` are on the workspace's do-not-call list."""
    wanted = list(set(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        query = select(DncEntry.phone).where(
            DncEntry.workspace_id == workspace_id,
            among(session, DncEntry.phone, wanted[start : start + CHUNK]),
        )
        found.update(session.scalars(query))
    return found


def add_dnc(session: Session, values: dict[str, Any]) -> None:
    bulk_insert(
        session, table_of(DncEntry), [values], on_conflict="ON CONFLICT (workspace_id, phone) DO NOTHING"
    )


def find_dnc(session: Session, workspace_id: str, phone: str) -> DncEntry | None:
    return session.scalar(
        select(DncEntry).where(DncEntry.workspace_id == workspace_id, DncEntry.phone == phone)
    )


def list_dnc(session: Session, workspace_id: str, limit: int, offset: int) -> tuple[list[DncEntry], int]:
    query = select(DncEntry).where(DncEntry.workspace_id == workspace_id)
    return paginate(session, query.order_by(DncEntry.created_at, DncEntry.id), limit, offset)


def existing_contact_ids(session: Session, workspace_id: str, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        query = select(Contact.id).where(
            Contact.workspace_id == workspace_id, Contact.id.in_(ids[start : start + CHUNK])
        )
        found.update(session.scalars(query))
    return found


def add_folder_members(session: Session, folder_id: str, contact_ids: Sequence[str]) -> int:
    """Put contacts in a folder; those already in it stay once. Answers how many were new."""
    before = count_folder_members(session, [folder_id]).get(folder_id, 0)
    for start in range(0, len(contact_ids), CHUNK):
        rows = [{"folder_id": folder_id, "contact_id": c} for c in contact_ids[start : start + CHUNK]]
        bulk_insert(session, contact_folder_members, rows, on_conflict="ON CONFLICT DO NOTHING")
    return count_folder_members(session, [folder_id]).get(folder_id, 0) - before


def count_folder_members(session: Session, folder_ids: Sequence[str]) -> dict[str, int]:
    if not folder_ids:
        return {}
    member = contact_folder_members.c
    query = (
        select(member.folder_id, func.count())
        .where(member.folder_id.in_(folder_ids))
        .group_by(member.folder_id)
    )
    return {folder_id: count for folder_id, count in session.execute(query)}


def list_folders(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[ContactFolder], int]:
    query = select(ContactFolder).where(ContactFolder.workspace_id == workspace_id)
    return paginate(session, query.order_by(ContactFolder.created_at, ContactFolder.id), limit, offset)


def _members(folder_id: str) -> Select[Contact]:
    member = contact_folder_members.c
    return (
        select(Contact)
        .join(contact_folder_members, member.contact_id == Contact.id)
        .where(member.folder_id == folder_id)
        .order_by(Contact.created_at, Contact.id)
    )


def list_folder_members(
    session: Session, folder_id: str, limit: int, offset: int
) -> tuple[list[Contact], int]:
    return paginate(session, _members(folder_id), limit, offset)


def iter_folder_members(session: Session, folder_id: str, chunk: int = 2_000) -> Iterator[Contact]:
    yield from session.scalars(_members(folder_id).execution_options(yield_per=chunk))
