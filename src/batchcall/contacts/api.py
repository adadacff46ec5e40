from collections.abc import Sequence

from fastapi import APIRouter, Request

from batchcall.auth.dependencies import DbSession, Reader, Writer
from batchcall.contacts import service
from batchcall.contacts.schemas import (
    ContactCreate,
    ContactFolderCreate,
    ContactFolderRead,
    ContactRead,
    DncCreate,
    DncEntryRead,
    FolderContactsAdd,
    FolderContactsAdded,
)
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.models import ContactFolder
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["contacts"], route_class=UnitOfWorkRoute)


@router.post("/contacts", status_code=201)
def upsert_contact(
    request: Request, body: ContactCreate, principal: Writer, session: DbSession
) -> ContactRead:
    contact = service.upsert(session, principal.workspace_id, body, runtime_of(request).clock.now())
    return ContactRead.model_validate(contact)


@router.get("/contacts")
def list_contacts(
    principal: Reader, session: DbSession, phone: str | None = None, limit: Limit = 50, offset: Offset = 0
) -> Page[ContactRead]:
    contacts, total = service.list_contacts(session, principal.workspace_id, phone, limit, offset)
    return Page.of([ContactRead.model_validate(c) for c in contacts], total, limit, offset)


@router.get("/contacts/{contact_id}")
def get_contact(contact_id: str, principal: Reader, session: DbSession) -> ContactRead:
    return ContactRead.model_validate(service.get(session, principal.workspace_id, contact_id))


@router.post("/dnc", status_code=201, tags=["do-not-call"])
def add_dnc(request: Request, body: DncCreate, principal: Writer, session: DbSession) -> DncEntryRead:
    entry = service.block(session, principal.workspace_id, body, runtime_of(request).clock.now())
    return DncEntryRead.model_validate(entry)


@router.get("/dnc", tags=["do-not-call"])
def list_dnc(
    principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[DncEntryRead]:
    entries, total = service.list_dnc(session, principal.workspace_id, limit, offset)
    return Page.of([DncEntryRead.model_validate(e) for e in entries], total, limit, offset)


@router.delete("/dnc/{entry_id}", status_code=204, tags=["do-not-call"])
def remove_dnc(entry_id: str, principal: Writer, session: DbSession) -> None:
    service.unblock(session, principal.workspace_id, entry_id)


def _folders(session: DbSession, folders: Sequence[ContactFolder]) -> list[ContactFolderRead]:
    sizes = service.folder_sizes(session, folders)
    return [
        ContactFolderRead(id=f.id, name=f.name, contact_count=sizes[f.id], created_at=f.created_at)
        for f in folders
    ]


@router.post("/contact-folders", status_code=201, tags=["contact folders"])
def create_folder(
    request: Request, body: ContactFolderCreate, principal: Writer, session: DbSession
) -> ContactFolderRead:
    """A named set of contacts; a batch may take its calls from one (B's ``contact_source: folder``)."""
    folder = service.create_folder(session, principal.workspace_id, body, runtime_of(request).clock.now())
    return _folders(session, [folder])[0]


@router.get("/contact-folders", tags=["contact folders"])
def list_folders(
    principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[ContactFolderRead]:
    folders, total = service.list_folders(session, principal.workspace_id, limit, offset)
    return Page.of(_folders(session, folders), total, limit, offset)


@router.get("/contact-folders/{folder_id}", tags=["contact folders"])
def get_folder(folder_id: str, principal: Reader, session: DbSession) -> ContactFolderRead:
    return _folders(session, [service.get_folder(session, principal.workspace_id, folder_id)])[0]


@router.post("/contact-folders/{folder_id}/contacts", tags=["contact folders"])
def add_to_folder(
    folder_id: str, request: Request, body: FolderContactsAdd, principal: Writer, session: DbSession
) -> FolderContactsAdded:
    """Add contacts by number (created or updated) and by id; a contact already in the folder stays once."""
    now = runtime_of(request).clock.now()
    added, ids = service.add_to_folder(session, principal.workspace_id, folder_id, body, now)
    return FolderContactsAdded(added=added, contact_ids=ids)


@router.get("/contact-folders/{folder_id}/contacts", tags=["contact folders"])
def list_folder_contacts(
    folder_id: str, principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[ContactRead]:
    contacts, total = service.folder_contacts(session, principal.workspace_id, folder_id, limit, offset)
    return Page.of([ContactRead.model_validate(c) for c in contacts], total, limit, offset)
