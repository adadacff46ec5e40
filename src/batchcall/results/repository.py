from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from batchcall.kit.bulk import among
from batchcall.models import Attempt, CallResult


def attempt_numbered(session: Session, call_id: str, number: int) -> Attempt | None:
    query = select(Attempt).where(Attempt.call_id == call_id, Attempt.number == number)
    return session.scalar(query.execution_options(populate_existing=True))


def of_attempt(session: Session, attempt_id: str) -> CallResult | None:
    return session.scalar(select(CallResult).where(CallResult.attempt_id == attempt_id))


def of_attempts(session: Session, attempt_ids: Sequence[str]) -> dict[str, CallResult]:
    if not attempt_ids:
        return {}
    query = select(CallResult).where(among(session, CallResult.attempt_id, list(attempt_ids)))
    return {result.attempt_id: result for result in session.scalars(query)}


def latest_of_calls(session: Session, call_ids: Sequence[str]) -> dict[str, CallResult]:
    """Each call's result of its latest attempt that has one."""
    if not call_ids:
        return {}
    query = (
        select(CallResult)
        .join(Attempt, Attempt.id == CallResult.attempt_id)
        .where(among(session, CallResult.call_id, list(call_ids)))
        .order_by(Attempt.number)
    )
    return {result.call_id: result for result in session.scalars(query)}


def set_effects(session: Session, attempt_id: str, effects: dict[str, Any]) -> None:
    session.execute(
        update(CallResult)
        .where(CallResult.attempt_id == attempt_id)
        .values(effects=effects)
        .execution_options(synchronize_session=False)
    )
