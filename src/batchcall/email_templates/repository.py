from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.pagination import paginate
from batchcall.models import EmailTemplate


def list_templates(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[EmailTemplate], int]:
    query = select(EmailTemplate).where(EmailTemplate.workspace_id == workspace_id)
    return paginate(session, query.order_by(EmailTemplate.created_at, EmailTemplate.id), limit, offset)


def find_by_id(session: Session, workspace_id: str, template_id: str) -> EmailTemplate | None:
    query = select(EmailTemplate).where(
        EmailTemplate.workspace_id == workspace_id, EmailTemplate.id == template_id
    )
    return session.scalar(query)


def find_by_name(session: Session, workspace_id: str, name: str) -> EmailTemplate | None:
    query = select(EmailTemplate).where(
        EmailTemplate.workspace_id == workspace_id, EmailTemplate.name == name
    )
    return session.scalar(query)
