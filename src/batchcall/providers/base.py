"""What every provider offers the dispatcher: one typed Protocol and the values that cross it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from batchcall.models import TERMINAL


@dataclass(frozen=True, slots=True)
class EmailContent:
    """An email as rendered for one attempt: its subject, and a plain text part, an HTML one, or both."""

    subject: str
    text: str | None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class DialRequest:
    """One attempt to place: who to reach, from which caller id, with which prompt."""

    call_id: str
    attempt_id: str
    channel: str
    to: str
    from_number: str | None
    prompt: str | None
    workspace_id: str
    # The vendor that places it, and the workspace's account with it (None: the process default).
    provider: str = ""
    account_id: str | None = None
    # For an email: what it says (``prompt`` is its text part).
    email: EmailContent | None = None
    # For a call: whether a machine that answers is left a message after its beep (the agent's voicemail
    # is 'message'), so the vendor listens for the end of the greeting.
    leaves_message: bool = False


@dataclass(frozen=True, slots=True)
class VoicemailMessage:
    """What a call leaves on the machine that answered it: a text to say, or a recording to play."""

    text: str | None = None
    audio_url: str | None = None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A change of one provider call, as a callback or a status fetch reports it.

    ``event_id`` is unique per provider: a redelivered event has the same id and is acted on once.
    ``status`` is a call status (``ringing``, ``in_progress`` or a terminal one); ``opted_out`` says the
    person asked not to be called again.
    """

    event_id: str
    provider_call_id: str
    status: str
    occurred_at: datetime
    attempt_id: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: float | None = None
    opted_out: bool = False
    error: str | None = None
    error_code: str | None = None
    # The vendor's answering-machine verdict (Twilio's AnsweredBy: human, machine_start, fax, ...).
    answered_by: str | None = None
    cost_micros: int | None = None
    currency: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.status in TERMINAL


class NoStatus(StrEnum):
    """What a provider answers for a dial it cannot give the status of by our attempt id."""

    # The provider has no such call: the dial never reached it, so it can be placed again.
    NOT_PLACED = "not_placed"
    # The provider keeps no record it can search by our attempt id: only a callback can tell.
    CANNOT_TELL = "cannot_tell"


# How a vendor's answering-machine verdict begins when no person took the call (Twilio's AnsweredBy:
# machine_start, machine_end_beep, ..., fax): the call reached a voicemail.
MACHINE_ANSWERS = ("machine_", "fax")


def status_event_id(provider_call_id: str, status: str) -> str:
    """The id of the event that moves a call to ``status``: the same whether a callback or a fetch saw it."""
    return f"{provider_call_id}:{status}"


class ProviderError(Exception):
    """A provider refused or failed a request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProviderUnavailable(ProviderError):
    """A temporary fault: nothing was placed; try again after ``retry_after_seconds``."""

    def __init__(self, message: str, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ProviderUnanswered(ProviderError):
    """A request that went out and got no answer: the provider may have placed the call (or taken the
    message), and only a callback or a look-up can tell. Nothing is recorded of it, and it is never placed
    again before the provider is asked."""


class ProviderRejected(ProviderError):
    """A permanent fault: this attempt cannot succeed; it ends failed with the message as its reason.

    ``code`` is the vendor's error code; ``opted_out`` says the vendor refused because the person
    unsubscribed (Twilio's 21610), so they are not contacted again on any channel."""

    def __init__(self, message: str, code: str | None = None, opted_out: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.opted_out = opted_out


class CallbackForged(ProviderRejected):
    """A callback that cannot be shown to come from the provider: unsigned, wrongly signed, or signed too
    long ago (or ahead) to tell from a replay. Nothing in it may be acted on."""


@dataclass(frozen=True, slots=True)
class Account:
    """What a provider is built from: a workspace's provider account, its secrets opened, or (``id`` None)
    the process default one from settings."""

    id: str | None
    vendor: str
    credentials: Mapping[str, Any]
    api_base_url: str | None = None
    calls_per_second: float = 1.0


@dataclass(frozen=True, slots=True)
class Verification:
    """What checking an account's credentials with its vendor found."""

    ok: bool
    detail: str
    account_status: str | None = None
    caller_ids_owned: tuple[str, ...] = ()
    caller_ids_not_owned: tuple[str, ...] = ()


class Provider(Protocol):
    """A channel vendor. The simulated provider is one like any other."""

    name: str

    def start_call(self, request: DialRequest) -> str:
        """Place the call; answer the provider's id for it. Raises ProviderUnavailable or ProviderRejected."""
        ...

    def end_call(self, provider_call_id: str) -> None:
        """Hang up a call that is still ringing or talking."""
        ...

    def leave_message(self, provider_call_id: str, message: VoicemailMessage) -> None:
        """On a call a machine answered, once its greeting ended: say or play ``message``, then hang up."""
        ...

    def fetch_status(self, provider_call_id: str) -> StatusEvent:
        """The call's current state, asked of the provider. Raises ProviderRejected for an unknown id."""
        ...

    def lookup(self, attempt_ids: Sequence[str]) -> Mapping[str, StatusEvent | NoStatus]:
        """The provider's own record of each dial, found by our attempt id (which travels with the call:
        in its callback URL, and as the vendor's client reference where it has one), for dials whose
        provider id was never recorded: the call's status with its provider id, or why there is none.

        Raises ProviderUnavailable when the provider cannot be asked now.
        """
        ...

    def poll_events(self) -> Sequence[StatusEvent]:
        """Events ready in this process; a provider that calls back over HTTP has none."""
        ...

    def parse_callback(self, headers: Mapping[str, str], body: bytes, url: str = "") -> Sequence[StatusEvent]:
        """Events in a callback request, after checking it really comes from the provider; ``url`` is the
        one it called (this server's public URL with the query), for vendors that sign it.

        Raises CallbackForged when the request is not genuine, and ProviderRejected when it is but is
        not understood; a request is checked before its body is read.
        """
        ...

    def verify(self, caller_ids: Sequence[str]) -> Verification:
        """Check the credentials with the vendor: whether they work, and which of ``caller_ids`` the
        account owns. Raises nothing: a fault is what the answer says."""
        ...
