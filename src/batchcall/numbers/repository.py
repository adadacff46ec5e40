from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.pagination import paginate
from batchcall.models import PhoneNumber


def find_by_number(session: Session, workspace_id: str, number: str) -> PhoneNumber | None:
    return session.scalar(
        select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id, PhoneNumber.number == number)
    )


def find_by_ids(session: Session, workspace_id: str, ids: Sequence[str]) -> list[PhoneNumber]:
    query = select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id, PhoneNumber.id.in_(ids))
    return list(session.scalars(query))


def find_by_numbers(session: Session, workspace_id: str, numbers: Sequence[str]) -> list[PhoneNumber]:
    owned = PhoneNumber.workspace_id == workspace_id
    return list(session.scalars(select(PhoneNumber).where(owned, PhoneNumber.number.in_(numbers))))


def find_by_agent(session: Session, workspace_id: str, agent_id: str | None) -> list[PhoneNumber]:
    """The workspace's numbers assigned to the agent, or (``agent_id`` None) to no agent."""
    assigned = PhoneNumber.agent_id.is_(None) if agent_id is None else PhoneNumber.agent_id == agent_id
    query = select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id, assigned)
    return list(session.scalars(query.order_by(PhoneNumber.created_at, PhoneNumber.id)))


def list_numbers(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[PhoneNumber], int]:
    query = select(PhoneNumber).where(PhoneNumber.workspace_id == workspace_id)
    return paginate(session, query.order_by(PhoneNumber.created_at, PhoneNumber.id), limit, offset)


def daily_caps(session: Session, workspace_id: str, numbers: Sequence[str]) -> dict[str, int | None]:
    """The workspace's own phone numbers among ``numbers``, with their daily caps (None: no cap)."""
    query = select(PhoneNumber.number, PhoneNumber.daily_cap).where(
        PhoneNumber.workspace_id == workspace_id, PhoneNumber.number.in_(numbers)
    )
    return {number: cap for number, cap in session.execute(query)}
