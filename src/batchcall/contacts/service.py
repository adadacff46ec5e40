from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.contacts import repository
from batchcall.contacts.schemas import ContactCreate, DncCreate
from batchcall.ingest.phone import PhoneError, to_e164
from batchcall.kit.errors import Invalid
from batchcall.kit.ids import contact_id, new_id
from batchcall.kit.tenancy import get_owned
from batchcall.models import Contact, DncEntry


def _e164(raw: str, country_code: str | None) -> str:
    try:
        return to_e164(raw, country_code)
    except PhoneError as exc:
        raise Invalid(f"phone_number: {exc}") from None


def upsert(session: Session, workspace_id: str, data: ContactCreate, now: datetime) -> Contact:
    phone = _e164(data.phone_number, data.country_code)
    row = {
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


def block(session: Session, workspace_id: str, data: DncCreate, now: datetime, source: str = "api") -> DncEntry:
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
