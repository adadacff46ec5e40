from datetime import datetime

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from batchcall.auth.dependencies import Admin, DbSession, Reader
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.models import PhoneNumber
from batchcall.numbers import service
from batchcall.numbers.schemas import PhoneNumberCreate, PhoneNumberRead, PhoneNumberUpdate
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["phone numbers"], route_class=UnitOfWorkRoute)


def _answers(
    session: Session, workspace_id: str, numbers: list[PhoneNumber], now: datetime
) -> list[PhoneNumberRead]:
    usage = service.usage_today(session, workspace_id, numbers, now)
    return [
        PhoneNumberRead(
            id=n.id,
            number=n.number,
            agent_id=n.agent_id,
            label=n.label,
            daily_cap=n.daily_cap,
            created_at=n.created_at,
            dials_today=usage[n.id].dials_today,
            remaining_today=usage[n.id].remaining_today,
        )
        for n in numbers
    ]


@router.post("/phone-numbers", status_code=201)
def create_phone_number(
    request: Request, body: PhoneNumberCreate, principal: Admin, session: DbSession
) -> PhoneNumberRead:
    now = runtime_of(request).clock.now()
    created = service.create(session, principal.workspace_id, body, now)
    return _answers(session, principal.workspace_id, [created], now)[0]


@router.get("/phone-numbers")
def list_phone_numbers(
    request: Request, principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[PhoneNumberRead]:
    numbers, total = service.list_numbers(session, principal.workspace_id, limit, offset)
    now = runtime_of(request).clock.now()
    return Page.of(_answers(session, principal.workspace_id, numbers, now), total, limit, offset)


@router.get("/phone-numbers/{number_id}")
def get_phone_number(
    request: Request, number_id: str, principal: Reader, session: DbSession
) -> PhoneNumberRead:
    found = service.get(session, principal.workspace_id, number_id)
    return _answers(session, principal.workspace_id, [found], runtime_of(request).clock.now())[0]


@router.patch("/phone-numbers/{number_id}")
def update_phone_number(
    request: Request, number_id: str, body: PhoneNumberUpdate, principal: Admin, session: DbSession
) -> PhoneNumberRead:
    updated = service.update(session, principal.workspace_id, number_id, body)
    return _answers(session, principal.workspace_id, [updated], runtime_of(request).clock.now())[0]


@router.delete("/phone-numbers/{number_id}", status_code=204)
def delete_phone_number(number_id: str, principal: Admin, session: DbSession) -> None:
    service.delete(session, principal.workspace_id, number_id)
