"""Whether an ended attempt is tried again, and when.

One budget per call: a call is dialled at most ``1 + max_retries`` times in all (the row's
``max_retries`` when it gave one, else the batch's ``max_retry_attempts``), whatever mix of outcomes
led there, besides the callbacks the person asked for (capped on their own, by the agent). A retry waits
``retry_delay_seconds``; the claim then holds it to the calling window.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class AttemptBudget(Protocol):
    """What a call has used of its budget and its own limit (a ``Call``, or just those columns)."""

    @property
    def attempt_count(self) -> int: ...
    @property
    def max_retries(self) -> int | None: ...
    @property
    def callbacks(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Try again at ``at``, or (``at`` None) let the call end with its attempt's outcome; ``reason`` says
    which rule decided."""

    at: datetime | None
    reason: str
    # The attempt at ``at`` is a callback the person asked for, not a retry.
    callback: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A batch's retry settings."""

    max_retry_attempts: int
    retry_delay_seconds: int
    retry_on: tuple[str, ...]

    def attempts_allowed(self, call: AttemptBudget) -> int:
        retries = call.max_retries if call.max_retries is not None else self.max_retry_attempts
        return 1 + retries + call.callbacks

    def decide(self, call: AttemptBudget, outcome: str, ended_at: datetime) -> RetryDecision:
        """What follows an attempt of ``call`` that ended in ``outcome`` at ``ended_at``."""
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
