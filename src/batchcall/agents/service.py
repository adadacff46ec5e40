import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from batchcall.agents import repository
from batchcall.agents.schemas import AgentCreate, AgentUpdate
from batchcall.kit import outbound
from batchcall.kit.errors import Invalid
from batchcall.kit.tenancy import get_owned
from batchcall.models import Agent, Batch, Transport, Voicemail
from batchcall.results.dispositions import DO_NOT_CALL, allowed

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def create(
    session: Session, workspace_id: str, data: AgentCreate, now: datetime, *, allow_private: bool = False
) -> Agent:
    agent = Agent(workspace_id=workspace_id, created_at=now, **data.model_dump())
    _check_bridge(agent, allow_private)
    session.add(agent)
    session.flush()
    return agent


def _check_bridge(agent: Agent, allow_private: bool) -> None:
    """Refuse an agent its calls could not reach (a transport without its address, an address this server
    may not connect to), a 'message' agent with nothing to leave on a machine, or one whose retry
    dispositions are none of its own."""
    if agent.transport == Transport.STREAM:
        if not agent.stream_url:
            message = "a 'stream' agent needs the WebSocket URL its calls are connected to"
            raise Invalid.of_fields([("stream_url", message)])
        try:
            outbound.check_url(
                agent.stream_url, allow_private=allow_private, schemes=outbound.WEBSOCKET_SCHEMES
            )
        except outbound.TargetRefused as refusal:
            raise Invalid.of_fields([("stream_url", refusal.message)]) from None
    if agent.transport == Transport.SIP and not agent.sip_uri:
        raise Invalid.of_fields([("sip_uri", "a 'sip' agent needs the SIP URI its calls are bridged to")])
    if agent.voicemail == Voicemail.MESSAGE and not (agent.voicemail_message or agent.voicemail_audio_url):
        message = "a 'message' agent needs the voicemail_message it says or the voicemail_audio_url it plays"
        raise Invalid.of_fields([("voicemail_message", message)])
    retriable = [code for code in allowed(agent.dispositions) if code != DO_NOT_CALL]
    unknown = [code for code in agent.retry_dispositions if code not in retriable]
    if unknown:
        message = f"{', '.join(unknown)} cannot retry: use any of {', '.join(retriable)}"
        raise Invalid.of_fields([("retry_dispositions", message)])


def get(session: Session, workspace_id: str, agent_id: str) -> Agent:
    return get_owned(session, Agent, workspace_id, agent_id, "Agent")


def of_batch(session: Session, batch_id: str) -> Agent | None:
    """The agent a batch's calls speak with, where it names one."""
    batch = session.get(Batch, batch_id)
    return session.get(Agent, batch.agent_id) if batch is not None and batch.agent_id else None


def unfit_to_call(agent_id: str, active: bool, ready: bool) -> str | None:
    """Why the agent may not place calls (an agent that does must be switched on and ready), or None."""
    if not active:
        return f"Agent {agent_id} is not active"
    if not ready:
        return f"Agent {agent_id} is not ready for calls"
    return None


def require_callable(agent: Agent) -> None:
    unfit = unfit_to_call(agent.id, agent.active, agent.ready)
    if unfit is not None:
        raise Invalid(unfit)


def update(
    session: Session, workspace_id: str, agent_id: str, data: AgentUpdate, *, allow_private: bool = False
) -> Agent:
    agent = get(session, workspace_id, agent_id)
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(agent, name, value)
    _check_bridge(agent, allow_private)
    session.flush()
    return agent


def delete(session: Session, workspace_id: str, agent_id: str) -> None:
    session.delete(get(session, workspace_id, agent_id))
    session.flush()


def list_agents(session: Session, workspace_id: str, limit: int, offset: int) -> tuple[list[Agent], int]:
    return repository.list_agents(session, workspace_id, limit, offset)


@dataclass(frozen=True, slots=True)
class Prompt:
    """What an agent says: its template, what it texts, and the values of variables a row leaves out."""

    template: str
    defaults: Mapping[str, Any]
    # Why the agent may not place calls now (switched off, not ready); None while it may.
    unfit: str | None = None
    sms_template: str | None = None
    # What a call a machine answers does (a ``Voicemail``).
    voicemail: str = Voicemail.HANGUP

    def texted(self) -> "Prompt | None":
        """The agent's text message as a prompt of its own, when it has one."""
        return Prompt(self.sms_template, self.defaults, self.unfit) if self.sms_template else None


def prompt_of(session: Session, agent_id: str) -> Prompt | None:
    parts = repository.prompt_parts(session, agent_id)
    if parts is None:
        return None
    template, sms_template, defaults, active, ready, voicemail = parts
    return Prompt(template, defaults, unfit_to_call(agent_id, active, ready), sms_template, voicemail)


def render_prompt(prompt: Prompt, variables: Mapping[str, Any]) -> str:
    """Fill ``{{name}}`` placeholders with the row's value, else the agent's default, else nothing: a
    placeholder never reaches the person as written."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = variables.get(name)
        if value is None or value == "":
            value = prompt.defaults.get(name)
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(substitute, prompt.template)
