"""Email templates: every part compiled in Jinja2's sandbox when it is stored, so one that cannot render,
or uses what lets a short template do unbounded work, is refused with its field and line; and rendered in
that sandbox, within a budget of time and memory, when an email is sent (sandbox.py).

The subject and the text body are rendered as written, the HTML body with its values HTML-escaped. A
value a template names but the row does not give is an error (StrictUndefined), not an empty string: an
email that says "Dear ," is worse than one not sent.
"""

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Literal

from jinja2 import Template, TemplateSyntaxError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from batchcall.email_templates import repository, sandbox
from batchcall.email_templates.sandbox import BoundedSandbox
from batchcall.email_templates.schemas import EmailTemplateCreate, EmailTemplateUpdate
from batchcall.kit.errors import Conflict, Invalid
from batchcall.kit.tenancy import get_owned
from batchcall.models import EmailTemplate
from batchcall.providers.base import EmailContent

Part = Literal["subject", "html", "text"]

_PLAIN = BoundedSandbox(autoescape=False)
_ESCAPED = BoundedSandbox(autoescape=True)
_ENVIRONMENTS: dict[Part, BoundedSandbox] = {"subject": _PLAIN, "html": _ESCAPED, "text": _PLAIN}


class TemplateFailed(Exception):
    """A template that cannot be rendered with these values: a value it names is missing, it reached for
    what the sandbox forbids, or an expression of its own failed. The message names the template, the part
    and the cause."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@lru_cache(maxsize=128)
def _compiled(part: Part, source: str) -> Template:
    """``source`` compiled for ``part``; kept, because a campaign renders the same template for every row
    and compiling costs far more than rendering."""
    return _ENVIRONMENTS[part].compile_bounded(source)


def _parts(template: EmailTemplate) -> dict[Part, str | None]:
    return {"subject": template.subject, "html": template.html, "text": template.text}


def _check(template: EmailTemplate) -> None:
    """Refuse a template a part of which does not compile or uses what the sandbox does not allow (see
    sandbox.py), or that has no body."""
    faults: dict[str, str] = {}
    for part, source in _parts(template).items():
        if source is None:
            continue
        try:
            _compiled(part, source)
        except TemplateSyntaxError as exc:
            faults[part] = f"line {exc.lineno}: {exc.message}"
    # A body of nothing (or of spaces, which a request body loses) is no body either.
    if not template.html and not template.text:
        faults["html"] = faults["text"] = "an email needs an html or a text body, or both"
    if faults:
        raise Invalid.of_fields(faults.items())


def _flush(session: Session, name: str) -> None:
    """Flush in a savepoint, so that a name the workspace already has, even one a concurrent request took
    a moment ago, is a 409 and leaves the session usable; the unique constraint is the one check."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"An email template named '{name}' already exists in this workspace") from None


def create(session: Session, workspace_id: str, data: EmailTemplateCreate, now: datetime) -> EmailTemplate:
    template = EmailTemplate(workspace_id=workspace_id, created_at=now, updated_at=now, **data.model_dump())
    _check(template)
    session.add(template)
    _flush(session, data.name)
    return template


def get(session: Session, workspace_id: str, template_id: str) -> EmailTemplate:
    return get_owned(session, EmailTemplate, workspace_id, template_id, "Email template")


def find(
    session: Session, workspace_id: str, *, name: str | None, template_id: str | None
) -> EmailTemplate | None:
    """The workspace's template a sender names: by id when one is given, else by name; None when it names
    none of this workspace's."""
    if template_id is not None:
        return repository.find_by_id(session, workspace_id, template_id)
    if name is not None:
        return repository.find_by_name(session, workspace_id, name)
    return None


def list_templates(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[EmailTemplate], int]:
    return repository.list_templates(session, workspace_id, limit, offset)


def update(
    session: Session, workspace_id: str, template_id: str, data: EmailTemplateUpdate, now: datetime
) -> EmailTemplate:
    template = get(session, workspace_id, template_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        # A body given as null is removed (the other must remain); a name or subject cannot be.
        if value is not None or field in ("html", "text"):
            setattr(template, field, value)
    _check(template)
    template.updated_at = now
    _flush(session, template.name)
    return template


def delete(session: Session, workspace_id: str, template_id: str) -> None:
    session.delete(get(session, workspace_id, template_id))
    session.flush()


def _render(template: EmailTemplate, part: Part, source: str, values: Mapping[str, object]) -> str:
    try:
        return sandbox.render(_compiled(part, source), values)
    # Whatever a template raises is the template's failure, not the sender's: a missing value, the
    # sandbox's SecurityError (its budget spent among them), and as much an expression of its own (1 / 0,
    # a filter given the wrong type). So is a template stored before the sandbox refused what it uses.
    except Exception as exc:
        raise TemplateFailed(f"email template '{template.name}': {part}: {exc}") from exc


def one_line(subject: str) -> str:
    """A subject as one header line, whatever line breaks it holds: no value can add a header."""
    return " ".join(subject.split())


def render(template: EmailTemplate, values: Mapping[str, object]) -> EmailContent:
    """The email ``template`` makes of ``values``, its subject on one line."""
    subject = _render(template, "subject", template.subject, values)
    return EmailContent(
        subject=one_line(subject),
        text=None if template.text is None else _render(template, "text", template.text, values),
        html=None if template.html is None else _render(template, "html", template.html, values),
    )
