from sqlalchemy import func, select
from sqlalchemy.orm import Session

from batchcall.models import Agent


def list_agents(session: Session, workspace_id: str, limit: int, offset: int) -> tuple[list[Agent], int]:
    query = select(Agent).where(Agent.workspace_id == workspace_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Agent.created_at, Agent.id).limit(limit).offset(offset))
    return list(rows), total


def prompt_template(session: Session, agent_id: str) -> str | None:
    return session.scalar(select(Agent.prompt_template).where(Agent.id == agent_id))
