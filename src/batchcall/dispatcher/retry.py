"""Whether an ended attempt is tried again, and when.

One budget per call: a call is dialled at most ``1 + max_retries`` times in all (the row's
``max_retries`` when it gave one, else the batch's ``max_retry_attempts``), whatever mix of outcomes
led there. A retry waits ``retry_delay_seconds``; the claim then holds it to the calling window.
"""

from datetime import datetime, timedelta

from batchcall.models import Batch, Call


def attempts_allowed(batch: Batch, call: Call) -> int:
    retries = call.max_retries if call.max_retries is not None else batch.max_retry_attempts
    return 1 + retries


def retry_at(batch: Batch, call: Call, outcome: str, ended_at: datetime) -> datetime | None:
    """When to try ``call`` again after an attempt that ended in ``outcome``; None to end it."""
    if outcome not in batch.retry_on or call.attempt_count >= attempts_allowed(batch, call):
        return None
    return ended_at + timedelta(seconds=batch.retry_delay_seconds)
