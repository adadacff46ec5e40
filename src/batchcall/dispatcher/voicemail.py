"""What a call a machine answered does, as its agent's ``voicemail`` says, once the vendor's
answering-machine detection tells (Twilio's asynchronous ``AnsweredBy``, while the call goes on):

- ``hangup`` and ``fallback`` hang up at once (a ``fallback`` call then moves on to its next channel, which
  the retry rules decide when it ends);
- ``message`` waits for the greeting's end (the dial asked Twilio for ``DetectMessageEnd``), then says the
  agent's ``voicemail_message``, rendered for the row, or plays its ``voicemail_audio_url``, and hangs up.

The verdict is stored with the call's other events; what it asks of the vendor is done once the events are
written, outside the transaction, and a vendor that cannot be reached leaves the call as it is.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from batchcall.agents import service as agents
from batchcall.agents.service import Prompt, render_prompt
from batchcall.dispatcher.content import prompt_values
from batchcall.models import Call, Voicemail
from batchcall.providers.base import Provider, ProviderError, VoicemailMessage

log = logging.getLogger("batchcall.dispatcher")


@dataclass(frozen=True, slots=True)
class MachineAnswered:
    """The vendor said a machine answered this call, still on."""

    call_id: str
    batch_id: str
    provider_call_id: str


@dataclass(frozen=True, slots=True)
class Step:
    """What to ask of the vendor for one call: leave ``message`` and hang up, or (None) just hang up."""

    provider_call_id: str
    message: VoicemailMessage | None


def steps(session: Session, machines: Sequence[MachineAnswered]) -> list[Step]:
    """What each call a machine answered does; a batch without an agent lets its call go on as it would."""
    chosen: list[Step] = []
    for machine in machines:
        agent = agents.of_batch(session, machine.batch_id)
        if agent is None:
            continue
        if agent.voicemail != Voicemail.MESSAGE:
            chosen.append(Step(machine.provider_call_id, None))
            continue
        text = None
        if agent.voicemail_message:
            call = session.get(Call, machine.call_id)
            assert call is not None
            text = render_prompt(Prompt(agent.voicemail_message, agent.defaults), prompt_values(call))
        chosen.append(Step(machine.provider_call_id, VoicemailMessage(text, agent.voicemail_audio_url)))
    return chosen


def carry_out(provider: Provider, chosen: Sequence[Step]) -> None:
    """Ask the vendor for each step; one it refuses or cannot take is logged, and its call goes on."""
    for step in chosen:
        try:
            if step.message is None:
                provider.end_call(step.provider_call_id)
            else:
                provider.leave_message(step.provider_call_id, step.message)
        except ProviderError as fault:
            log.warning(
                "the voicemail step of call %s failed: %s",
                step.provider_call_id,
                fault.message,
                extra={"provider_call_id": step.provider_call_id},
            )
