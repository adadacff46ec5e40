from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.pagination import paginate
from batchcall.models import Agent


def list_agents(session: Session, workspace_id: str, limit: int, offset: int) -> tuple[list[Agent], int]:
    query = select(Agent).where(Agent.workspace_id == workspace_id)
    return paginate(session, query.order_by(Agent.created_at, Agent.id), limit, offset)


def prompt_parts(
    session: Session, agent_id: str
) -> tuple[str, str | None, dict[str, Any], bool, bool, str] | None:
    """The agent's templates (spoken, texted) and variable defaults, whether it is active and ready, and
    what it does on a machine."""
    query = select(
        Agent.prompt_template, Agent.sms_template, Agent.defaults, Agent.active, Agent.ready, Agent.voicemail
    ).where(Agent.id == agent_id)
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1], row[2], row[3], row[4], row[5])
