from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.pagination import paginate
from batchcall.models import Agent


def list_agents(session: Session, workspace_id: str, limit: int, offset: int) -> tuple[list[Agent], int]:
    query = select(Agent).where(Agent.workspace_id == workspace_id)
    return paginate(session, query.order_by(Agent.created_at, Agent.id), limit, offset)


def prompt_template(session: Session, agent_id: str) -> str | None:
    return session.scalar(select(Agent.prompt_template).where(Agent.id == agent_id))
