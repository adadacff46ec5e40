"""Whether an ended attempt is tried again, and when.

One budget per call: a call is dialled at most ``1 + max_retries`` times in all (the row's
``max_retries`` when it gave one, else the batch's ``max_retry_attempts``), whatever mix of outcomes
led there. A retry waits ``retry_delay_seconds``; the claim then holds it to the calling window.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol


class RetryPolicy(Protocol):
    """The batch's retry settings (a ``Batch``, or just those columns of it)."""

    @property
    def max_retry_attempts(self) -> int: ...
    @property
    def retry_delay_seconds(self) -> int: ...
    @property
    def retry_on(self) -> Sequence[str]: ...


class AttemptBudget(Protocol):
    """What a call has used of its budget and its own limit (a ``Call``, or just those columns)."""

    @property
    def attempt_count(self) -> int: ...
    @property
    def max_retries(self) -> int | None: ...


def attempts_allowed(batch: RetryPolicy, call: AttemptBudget) -> int:
    retries = call.max_retries if call.max_retries is not None else batch.max_retry_attempts
    return 1 + retries


def retry_at(batch: RetryPolicy, call: AttemptBudget, outcome: str, ended_at: datetime) -> datetime | None:
    """When to try ``call`` again after an attempt that ended in ``outcome``; None to end it."""
    if outcome not in batch.retry_on or call.attempt_count >= attempts_allowed(batch, call):
        return None
    return ended_at + timedelta(seconds=batch.retry_delay_seconds)
