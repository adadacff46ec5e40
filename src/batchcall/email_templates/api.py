from fastapi import APIRouter, Request

from batchcall.auth.dependencies import Admin, DbSession, Reader
from batchcall.email_templates import service
from batchcall.email_templates.schemas import EmailTemplateCreate, EmailTemplateRead, EmailTemplateUpdate
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["email templates"], route_class=UnitOfWorkRoute)


@router.post("/email-templates", status_code=201)
def create_email_template(
    request: Request, body: EmailTemplateCreate, principal: Admin, session: DbSession
) -> EmailTemplateRead:
    """Store a template; each part must compile as a Jinja2 template, and the name be new in the
    workspace."""
    template = service.create(session, principal.workspace_id, body, runtime_of(request).clock.now())
    return EmailTemplateRead.model_validate(template)


@router.get("/email-templates")
def list_email_templates(
    principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[EmailTemplateRead]:
    templates, total = service.list_templates(session, principal.workspace_id, limit, offset)
    return Page.of([EmailTemplateRead.model_validate(t) for t in templates], total, limit, offset)


@router.get("/email-templates/{template_id}")
def get_email_template(template_id: str, principal: Reader, session: DbSession) -> EmailTemplateRead:
    return EmailTemplateRead.model_validate(service.get(session, principal.workspace_id, template_id))


@router.patch("/email-templates/{template_id}")
def update_email_template(
    request: Request, template_id: str, body: EmailTemplateUpdate, principal: Admin, session: DbSession
) -> EmailTemplateRead:
    now = runtime_of(request).clock.now()
    template = service.update(session, principal.workspace_id, template_id, body, now)
    return EmailTemplateRead.model_validate(template)


@router.delete("/email-templates/{template_id}", status_code=204)
def delete_email_template(template_id: str, principal: Admin, session: DbSession) -> None:
    service.delete(session, principal.workspace_id, template_id)
