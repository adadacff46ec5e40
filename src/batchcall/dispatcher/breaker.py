"""A batch whose attempts mostly fail stops itself instead of burning through its list.

The breaker's sample is the batch's last 20 attempts that ended within two minutes and are evidence about
the provider: first attempts, and retries of numbers whose previous attempt did not fail (a retry after
no_answer or busy). A retry of a number that already failed is left out, so the retries of numbers that
fail by design, bunched at the end of a batch, cannot trip it. When more than half of those 20 failed, the
batch pauses with a reason saying so; an operator resumes it once the cause (provider, caller ids) is fixed.
"""

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from batchcall.dispatcher import repository
from batchcall.models import CallStatus

SAMPLE = 20
WINDOW = timedelta(minutes=2)


def tripped(session: Session, batch_id: str, now: datetime) -> str | None:
    """The reason to pause the batch, or None while it is healthy."""
    outcomes = repository.recent_provider_outcomes(session, batch_id, now - WINDOW, SAMPLE)
    failed = sum(1 for outcome in outcomes if outcome == CallStatus.FAILED)
    if failed * 2 <= SAMPLE:
        return None
    return (
        f"circuit breaker: {failed} of the last {len(outcomes)} attempts failed within "
        f"{int(WINDOW.total_seconds() // 60)} minutes (counting first attempts and retries of numbers that "
        "had not failed); check the provider and the caller ids, then resume"
    )
