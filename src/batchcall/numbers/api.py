from fastapi import APIRouter, Request

from batchcall.auth.dependencies import Admin, DbSession, Reader
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.numbers import service
from batchcall.numbers.schemas import PhoneNumberCreate, PhoneNumberRead, PhoneNumberUpdate
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["phone numbers"], route_class=UnitOfWorkRoute)


@router.post("/phone-numbers", status_code=201)
def create_phone_number(
    request: Request, body: PhoneNumberCreate, principal: Admin, session: DbSession
) -> PhoneNumberRead:
    created = service.create(session, principal.workspace_id, body, runtime_of(request).clock.now())
    return PhoneNumberRead.model_validate(created)


@router.get("/phone-numbers")
def list_phone_numbers(
    principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[PhoneNumberRead]:
    numbers, total = service.list_numbers(session, principal.workspace_id, limit, offset)
    return Page.of([PhoneNumberRead.model_validate(n) for n in numbers], total, limit, offset)


@router.get("/phone-numbers/{number_id}")
def get_phone_number(number_id: str, principal: Reader, session: DbSession) -> PhoneNumberRead:
    return PhoneNumberRead.model_validate(service.get(session, principal.workspace_id, number_id))


@router.patch("/phone-numbers/{number_id}")
def update_phone_number(
    number_id: str, body: PhoneNumberUpdate, principal: Admin, session: DbSession
) -> PhoneNumberRead:
    return PhoneNumberRead.model_validate(service.update(session, principal.workspace_id, number_id, body))


@router.delete("/phone-numbers/{number_id}", status_code=204)
def delete_phone_number(number_id: str, principal: Admin, session: DbSession) -> None:
    service.delete(session, principal.workspace_id, number_id)
