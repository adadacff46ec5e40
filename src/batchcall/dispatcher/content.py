"""What a call says, as the claim renders it for the attempt it starts: the spoken prompt, the text of an
SMS, or an email's subject and parts (from the workspace's template the row names, or the row itself)."""

from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from batchcall.agents.service import Prompt, render_prompt
from batchcall.calls.views import DueCall
from batchcall.email_templates import service as email_templates
from batchcall.models import Call, Channel, EmailTemplate
from batchcall.providers.base import EmailContent


def prompt_values(call: DueCall | Call) -> dict[str, object]:
    """What an agent's template may name: the row's variables and the person's own fields (where known)."""
    person = {
        "name": call.name,
        "first_name": call.first_name,
        "last_name": call.last_name,
        "email": call.email,
        "phone_number": call.to,
    }
    # A field the row left empty must not blank out a variable of the same name (C's dynamic_variables).
    return {**call.variables, **{key: value for key, value in person.items() if value is not None}}


def message_of(call: DueCall, agent_prompt: Prompt | None) -> str | None:
    """What the call says: the agent's template for its channel (its sms_template for a text), rendered
    with the row's values, or the row's own instruction when the agent has none."""
    template = agent_prompt.texted() if agent_prompt and call.channel == Channel.SMS else agent_prompt
    if template is not None and template.template:
        return render_prompt(template, prompt_values(call))
    return call.instruction


@dataclass
class Emails:
    """The emails of one claim's calls, with the workspace's templates read once each."""

    session: Session
    workspace_id: str
    # The subject of an email whose row and template give none: its batch's name.
    fallback_subject: str
    _templates: dict[tuple[str | None, str | None], EmailTemplate | None] = field(default_factory=dict)

    def compose(self, call: DueCall, text: str | None) -> EmailContent | str:
        """The email ``call`` sends (``text`` being what it says without a template), or why there is none."""
        named = (call.email_template_id, call.email_template_name)
        if named == (None, None):
            if not text:
                return "the email is empty: give the row an instruction or an email template"
            return EmailContent(email_templates.one_line(call.email_subject or self.fallback_subject), text)
        if named not in self._templates:
            self._templates[named] = email_templates.find(
                self.session, self.workspace_id, name=named[1], template_id=named[0]
            )
        template = self._templates[named]
        if template is None:
            return f"the email template '{named[0] or named[1]}' is not one of this workspace's"
        values = {**prompt_values(call), **(call.email_template_params or {})}
        try:
            rendered = email_templates.render(template, values)
        except email_templates.TemplateFailed as failed:
            return failed.message
        if call.email_subject:
            return replace(rendered, subject=email_templates.one_line(call.email_subject))
        return rendered
