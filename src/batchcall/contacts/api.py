from fastapi import APIRouter, Request

from batchcall.auth.dependencies import DbSession, Reader, Writer
from batchcall.contacts import service
from batchcall.contacts.schemas import Contact, ContactCreate, DncCreate, DncEntry
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.kit.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["contacts"], route_class=UnitOfWorkRoute)


@router.post("/contacts", status_code=201)
def upsert_contact(request: Request, body: ContactCreate, principal: Writer, session: DbSession) -> Contact:
    contact = service.upsert(session, principal.workspace_id, body, runtime_of(request).clock.now())
    return Contact.model_validate(contact)


@router.get("/contacts")
def list_contacts(
    principal: Reader, session: DbSession, phone: str | None = None, limit: Limit = 50, offset: Offset = 0
) -> Page[Contact]:
    contacts, total = service.list_contacts(session, principal.workspace_id, phone, limit, offset)
    return Page.of([Contact.model_validate(c) for c in contacts], total, limit, offset)


@router.get("/contacts/{contact_id}")
def get_contact(contact_id: str, principal: Reader, session: DbSession) -> Contact:
    return Contact.model_validate(service.get(session, principal.workspace_id, contact_id))


@router.post("/dnc", status_code=201, tags=["do-not-call"])
def add_dnc(request: Request, body: DncCreate, principal: Writer, session: DbSession) -> DncEntry:
    entry = service.block(session, principal.workspace_id, body, runtime_of(request).clock.now())
    return DncEntry.model_validate(entry)


@router.get("/dnc", tags=["do-not-call"])
def list_dnc(principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0) -> Page[DncEntry]:
    entries, total = service.list_dnc(session, principal.workspace_id, limit, offset)
    return Page.of([DncEntry.model_validate(e) for e in entries], total, limit, offset)


@router.delete("/dnc/{entry_id}", status_code=204, tags=["do-not-call"])
def remove_dnc(entry_id: str, principal: Writer, session: DbSession) -> None:
    service.unblock(session, principal.workspace_id, entry_id)
