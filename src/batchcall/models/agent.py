from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from batchcall.models.base import Base, IdMixin

# How many callbacks (a time the person asked to be called at) one call may have, unless its agent says.
DEFAULT_MAX_CALLBACKS = 2


class Transport(StrEnum):
    """How an answered call reaches the agent."""

    # The call speaks the rendered prompt and hangs up: reminders, and tests.
    SAY = "say"
    # The call's audio goes to the agent's WebSocket over Twilio Media Streams, through this server's bridge.
    STREAM = "stream"
    # The call is bridged to the agent's SIP URI.
    SIP = "sip"


class Voicemail(StrEnum):
    """What a call a machine answered does (answering-machine detection's verdict)."""

    # Hang up at once: nothing is left on the machine.
    HANGUP = "hangup"
    # Wait for the beep, leave the agent's voicemail_message (rendered) or voicemail_audio_url, hang up.
    MESSAGE = "message"
    # Hang up, and reach the person on the batch's next fallback channel (SMS to the number, without one).
    FALLBACK = "fallback"


class Agent(IdMixin, Base):
    __tablename__ = "agents"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prompt_template: Mapped[str] = mapped_column(Text, default="")
    # What a text of this agent says (with the same placeholders); without one, a text says the row's
    # instruction.
    sms_template: Mapped[str | None] = mapped_column(Text)
    required_variables: Mapped[list[str]]
    # Values of template variables a row leaves out.
    defaults: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str] = mapped_column(String(16), default="en")
    voice: Mapped[dict[str, Any]]
    transport: Mapped[str] = mapped_column(String(8), default=Transport.SAY)
    stream_url: Mapped[str | None] = mapped_column(Text)
    sip_uri: Mapped[str | None] = mapped_column(Text)
    # What the agent's results may say: a JSON Schema their data must satisfy, the workspace's own
    # dispositions beside the standard ones, the dispositions that retry the call, and how many callbacks
    # one call may ask for.
    result_schema: Mapped[dict[str, Any] | None]
    dispositions: Mapped[list[str]] = mapped_column(default=list)
    retry_dispositions: Mapped[list[str]] = mapped_column(default=list)
    max_callbacks: Mapped[int] = mapped_column(default=DEFAULT_MAX_CALLBACKS)
    voicemail: Mapped[str] = mapped_column(String(8), default=Voicemail.HANGUP)
    # What a ``message`` agent leaves after the beep: the text (with the prompt's placeholders), said, or
    # the recording at the URL, played.
    voicemail_message: Mapped[str | None] = mapped_column(Text)
    voicemail_audio_url: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    ready: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
