"""Whether an ended attempt is tried again, and when, and on which channel.

One budget per call: a call is dialled at most ``1 + max_retries`` times in all (the row's
``max_retries`` when it gave one, else the batch's ``max_retry_attempts``), whatever mix of outcomes
led there, besides the callbacks the person asked for (capped on their own, by the agent) and one attempt
for each step of its batch's ``fallback_channels`` it takes. A retry waits ``retry_delay_seconds``; the
claim then holds it to the calling window.

A call that ends without reaching the person (no answer, busy, a voicemail, a failure) and has no retry
left moves on to the next channel of its batch's fallback chain, at once: voice, then an SMS to the same
number, for example. A machine that answers the call of an agent whose voicemail is 'fallback' moves it on
at once, retries or not (to an SMS when the batch names no chain). Each step is an attempt like any other:
the claim keeps it to that channel's rules (the recipient's hours, the do-not-call list, the caps).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from batchcall.models import CallStatus, Channel

# The outcomes after which the person was not reached, so another channel may reach them.
UNREACHED = (CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.VOICEMAIL, CallStatus.FAILED)
# Where a 'fallback' agent's call goes after a machine answered, when its batch names no chain.
MACHINE_FALLBACK = (Channel.SMS,)


class AttemptBudget(Protocol):
    """What a call has used of its budget and its own limit (a ``Call``, or just those columns)."""

    @property
    def attempt_count(self) -> int: ...
    @property
    def max_retries(self) -> int | None: ...
    @property
    def callbacks(self) -> int: ...
    @property
    def fallbacks(self) -> int: ...


class Reachable(AttemptBudget, Protocol):
    """A call as the fallback chain reads it: its budget, its channel and the person's number and address."""

    @property
    def channel(self) -> str: ...
    @property
    def to(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Fallback:
    """The call moves on to ``channel``, step ``step`` (from 1) of its batch's chain."""

    channel: str
    step: int


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Try again at ``at``, or (``at`` None) let the call end with its attempt's outcome; ``reason`` says
    which rule decided."""

    at: datetime | None
    reason: str
    # The attempt at ``at`` is a callback the person asked for, not a retry.
    callback: bool = False
    # The attempt at ``at`` goes out on another channel, the next of the fallback chain.
    fallback: Fallback | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A batch's retry settings."""

    max_retry_attempts: int
    retry_delay_seconds: int
    retry_on: tuple[str, ...]
    fallback_channels: tuple[str, ...] = ()

    def attempts_allowed(self, call: AttemptBudget) -> int:
        retries = call.max_retries if call.max_retries is not None else self.max_retry_attempts
        return 1 + retries + call.callbacks + call.fallbacks

    def decide(
        self, call: Reachable, outcome: str, ended_at: datetime, machine_falls_back: bool = False
    ) -> RetryDecision:
        """What follows an attempt of ``call`` that ended in ``outcome`` at ``ended_at``: a retry on its
        channel while the rules allow one, else the next channel of the chain when the person was not
        reached; at once after a machine answered, when ``machine_falls_back`` (its agent's voicemail)."""
        at_once = machine_falls_back and outcome == CallStatus.VOICEMAIL
        decision = None if at_once else self._retried(call, outcome, ended_at)
        if decision is not None and (decision.at is not None or outcome not in UNREACHED):
            return decision
        chain = self.fallback_channels or (MACHINE_FALLBACK if at_once else ())
        step = _next_step(call, chain)
        if step is None:
            return decision or RetryDecision(None, f"{outcome}: a machine answered, and no channel is left")
        return RetryDecision(
            ended_at,
            f"{outcome}: moves on to {step.channel} (fallback {step.step} of {len(chain)})",
            fallback=step,
        )

    def _retried(self, call: AttemptBudget, outcome: str, ended_at: datetime) -> RetryDecision:
        if outcome not in self.retry_on:
            named = ", ".join(self.retry_on) or "nothing"
            return RetryDecision(None, f"{outcome} is not retried (retry_on: {named})")
        return self.retry(call, outcome, ended_at)

    def retry(self, call: AttemptBudget, cause: str, ended_at: datetime) -> RetryDecision:
        """Another attempt after the delay, for ``cause``, while the call has attempts left."""
        allowed = self.attempts_allowed(call)
        if call.attempt_count >= allowed:
            return RetryDecision(None, f"{cause} after attempt {call.attempt_count} of {allowed}: none left")
        return RetryDecision(
            ended_at + timedelta(seconds=self.retry_delay_seconds),
            f"{cause} is retried after {self.retry_delay_seconds} s "
            f"(attempt {call.attempt_count + 1} of {allowed})",
        )


def _next_step(call: Reachable, chain: Sequence[str]) -> Fallback | None:
    """The chain's next channel after the steps the call has taken that can reach the person: another than
    the one it is on, with the number or address that channel needs."""
    for index in range(call.fallbacks, len(chain)):
        channel = chain[index]
        needs = call.email if channel == Channel.EMAIL else call.to
        if channel != call.channel and needs:
            return Fallback(channel, index + 1)
    return None
