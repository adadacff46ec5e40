"""An agent's session: what its call's token opens (the rendered prompt, the row, the contact, the batch),
and who a token is when it posts the call's result."""

from datetime import timedelta

from sqlalchemy.orm import Session

from batchcall.agent_sessions import tokens
from batchcall.agent_sessions.schemas import AgentSession, SessionAgent, SessionBatch, SessionContact
from batchcall.agents import service as agents
from batchcall.auth.service import Principal
from batchcall.kit.errors import Unauthorized
from batchcall.models import Attempt, Batch, Call
from batchcall.results.dispositions import allowed
from batchcall.runtime import Runtime


def issue(runtime: Runtime, attempt_id: str) -> str:
    """A token for the attempt's agent, working from now for ``agent_session_seconds``."""
    expires_at = runtime.clock.now() + timedelta(seconds=runtime.settings.agent_session_seconds)
    return tokens.issue(runtime.installation_secret(tokens.SESSION_KEY), attempt_id, expires_at)


def _opened(session: Session, runtime: Runtime, token: str) -> tuple[tokens.SessionToken, Attempt, Call]:
    read = tokens.read(runtime.installation_secret(tokens.SESSION_KEY), token, runtime.clock.now())
    attempt = session.get(Attempt, read.attempt_id)
    call = session.get(Call, attempt.call_id) if attempt is not None else None
    if attempt is None or call is None:
        # The call was deleted with its batch since.
        raise Unauthorized(tokens.REFUSED)
    return read, attempt, call


def principal_of(session: Session, runtime: Runtime, token: str) -> tuple[Principal, str]:
    """The workspace a genuine, unexpired token acts in, and the attempt it names; raises Unauthorized."""
    read, _, call = _opened(session, runtime, token)
    return Principal(call.workspace_id, f"agent-session:{read.attempt_id}", ()), read.attempt_id


def open_session(session: Session, runtime: Runtime, token: str, base_url: str) -> AgentSession:
    read, attempt, call = _opened(session, runtime, token)
    batch = session.get(Batch, call.batch_id)
    assert batch is not None
    agent = agents.of_batch(session, batch.id)
    return AgentSession(
        call_id=call.id,
        attempt_id=attempt.id,
        attempt=attempt.number,
        channel=call.channel,
        to=call.to,
        from_number=attempt.from_number,
        prompt=attempt.prompt or call.prompt,
        instruction=call.instruction,
        variables=call.variables,
        metadata=call.metadata_,
        contact=SessionContact(
            phone_number=call.to,
            email=call.email,
            name=call.name,
            first_name=call.first_name,
            last_name=call.last_name,
            crm_contact_id=call.crm_contact_id,
            contact_id=call.contact_id,
        ),
        batch=SessionBatch(id=batch.id, name=batch.name, metadata=batch.metadata_),
        agent=SessionAgent(id=agent.id, name=agent.name, language=agent.language, voice=agent.voice)
        if agent
        else None,
        dispositions=allowed(agent.dispositions if agent else []),
        result_schema=agent.result_schema if agent else None,
        result_url=f"{base_url}/v1/calls/{call.id}/result",
        expires_at=read.expires_at,
    )
