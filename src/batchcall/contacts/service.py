from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from batchcall.contacts import repository
from batchcall.contacts.schemas import ContactCreate, ContactFolderCreate, DncCreate, FolderContactsAdd
from batchcall.ingest.phone import PhoneError, to_e164
from batchcall.kit.errors import Invalid, NotFound
from batchcall.kit.ids import contact_id, new_id
from batchcall.kit.tenancy import get_owned
from batchcall.models import Contact, ContactFolder, DncEntry


def _e164(raw: str, country_code: str | None, field: str = "phone_number") -> str:
    try:
        return to_e164(raw, country_code)
    except PhoneError as exc:
        raise Invalid(f"{field}: {exc}") from None


def _contact_row(workspace_id: str, data: ContactCreate, now: datetime, field: str) -> dict[str, Any]:
    phone = _e164(data.phone_number, data.country_code, field)
    return {
        "id": contact_id(workspace_id, phone),
        "workspace_id": workspace_id,
        "phone": phone,
        "first_name": data.first_name,
        "last_name": data.last_name,
        "email": data.email,
        "attributes": data.attributes,
        "created_at": now,
        "updated_at": now,
    }


def upsert(session: Session, workspace_id: str, data: ContactCreate, now: datetime) -> Contact:
    row = _contact_row(workspace_id, data, now, "phone_number")
    repository.upsert_contacts(session, [row], update_existing=True)
    return get(session, workspace_id, row["id"])


def get(session: Session, workspace_id: str, id_: str) -> Contact:
    contact = get_owned(session, Contact, workspace_id, id_, "Contact")
    session.refresh(contact)
    return contact


def list_contacts(
    session: Session, workspace_id: str, phone: str | None, limit: int, offset: int
) -> tuple[list[Contact], int]:
    wanted = _e164(phone, None) if phone else None
    return repository.list_contacts(session, workspace_id, wanted, limit, offset)


def block(
    session: Session, workspace_id: str, data: DncCreate, now: datetime, source: str = "api"
) -> DncEntry:
    """Put a number on the do-not-call list; adding it twice keeps the first entry."""
    phone = _e164(data.phone_number, data.country_code)
    return block_number(session, workspace_id, phone, data.reason, now, source)


def block_number(
    session: Session, workspace_id: str, phone: str, reason: str, now: datetime, source: str
) -> DncEntry:
    values = {
        "id": new_id(),
        "workspace_id": workspace_id,
        "phone": phone,
        "reason": reason,
        "source": source,
        "created_at": now,
    }
    repository.add_dnc(session, values)
    entry = repository.find_dnc(session, workspace_id, phone)
    assert entry is not None
    return entry


def unblock(session: Session, workspace_id: str, entry_id: str) -> None:
    session.delete(get_owned(session, DncEntry, workspace_id, entry_id, "Do-not-call entry"))
    session.flush()


def list_dnc(session: Session, workspace_id: str, limit: int, offset: int) -> tuple[list[DncEntry], int]:
    return repository.list_dnc(session, workspace_id, limit, offset)


def create_folder(
    session: Session, workspace_id: str, data: ContactFolderCreate, now: datetime
) -> ContactFolder:
    folder = ContactFolder(id=new_id(), workspace_id=workspace_id, name=data.name, created_at=now)
    session.add(folder)
    session.flush()
    return folder


def get_folder(session: Session, workspace_id: str, folder_id: str) -> ContactFolder:
    return get_owned(session, ContactFolder, workspace_id, folder_id, "Contact folder")


def list_folders(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[ContactFolder], int]:
    return repository.list_folders(session, workspace_id, limit, offset)


def folder_sizes(session: Session, folders: Sequence[ContactFolder]) -> dict[str, int]:
    counts = repository.count_folder_members(session, [f.id for f in folders])
    return {f.id: counts.get(f.id, 0) for f in folders}


def add_to_folder(
    session: Session, workspace_id: str, folder_id: str, data: FolderContactsAdd, now: datetime
) -> tuple[int, list[str]]:
    """Upsert the given contacts, check the given ids, and put them all in the folder (once each)."""
    folder = get_folder(session, workspace_id, folder_id)
    rows: dict[str, dict[str, Any]] = {}
    for index, contact in enumerate(data.contacts):
        row = _contact_row(workspace_id, contact, now, f"contacts[{index}].phone_number")
        rows[row["id"]] = row
    missing = sorted(
        set(data.contact_ids) - repository.existing_contact_ids(session, workspace_id, data.contact_ids)
    )
    if missing:
        raise NotFound(f"Contact(s) not found: {', '.join(missing)}")
    repository.upsert_contacts(session, list(rows.values()), update_existing=True)
    members = list(dict.fromkeys([*rows, *data.contact_ids]))
    return repository.add_folder_members(session, folder.id, members), members


def folder_contacts(
    session: Session, workspace_id: str, folder_id: str, limit: int, offset: int
) -> tuple[list[Contact], int]:
    folder = get_folder(session, workspace_id, folder_id)
    return repository.list_folder_members(session, folder.id, limit, offset)


def folder_rows(session: Session, folder: ContactFolder) -> Iterator[tuple[int, dict[str, Any]]]:
    """The folder's contacts as call rows (row number from 1), their attributes as the agent's variables."""
    for number, contact in enumerate(repository.iter_folder_members(session, folder.id), start=1):
        yield (
            number,
            {
                "phone_number": contact.phone,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "email": contact.email,
                "variables": contact.attributes,
            },
        )
