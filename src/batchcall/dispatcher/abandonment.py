"""A call a person answered is abandoned when no agent speaks within two seconds of the answer (the US
Telemarketing Sales Rule, 16 CFR 310.4(b)(4), and Ofcom's persistent-misuse policy both count it so).

The media bridge times the agent's first audio on each answered call. Each batch answers its abandoned
calls among the live-answered ones; a batch whose rate goes over its ``max_abandon_rate`` (3 % unless it
says) pauses itself with the reason, as the circuit breaker does, until an operator resumes it. The rate
is the batch's whole record, not a recent sample: one abandoned call of the first ten pauses a batch at
3 %, as the rule over a campaign would count it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.batches import repository as batches
from batchcall.batches import transitions as batch_transitions
from batchcall.calls import repository as calls
from batchcall.calls import views
from batchcall.dispatcher import repository, waiting
from batchcall.models import Attempt, Batch, BatchStatus

# The most a person may wait, after answering, to hear the agent.
ABANDONED_AFTER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Abandonment:
    live_answered: int
    abandoned: int
    limit: float

    @property
    def rate(self) -> float:
        return self.abandoned / self.live_answered if self.live_answered else 0.0

    @property
    def over(self) -> bool:
        return self.rate > self.limit

    def reason(self) -> str:
        return (
            f"abandoned calls: {self.abandoned} of {self.live_answered} calls a person answered heard no "
            f"agent within {ABANDONED_AFTER_SECONDS:g} s ({self.rate:.1%}), over the batch's "
            f"max_abandon_rate of {self.limit:.1%}; make the agent answer faster, then resume"
        )


def of_batches(session: Session, batches_: Sequence[Batch]) -> dict[str, Abandonment]:
    counts = repository.abandonment_counts(session, [b.id for b in batches_], ABANDONED_AFTER_SECONDS)
    return {
        batch.id: Abandonment(*counts.get(batch.id, (0, 0)), limit=batch.max_abandon_rate)
        for batch in batches_
    }


def record_first_audio(session: Session, attempt_id: str, seconds: float, now: datetime) -> None:
    """The agent's first audio on the attempt came ``seconds`` after the answer (or never, in a stream of
    ``seconds``): kept on the attempt, after its call's lock, so that this and the call's ending take
    turns and whichever comes second pauses the batch the call took over its limit."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        return
    views.lock_live_calls(session, [attempt.call_id])
    calls.record_agent_audio(session, attempt_id, seconds)
    pause_over_limit(session, [attempt_id], now)


def pause_over_limit(session: Session, attempt_ids: Sequence[str], now: datetime) -> None:
    """Pause each running batch that these ended attempts took over its abandoned-call limit."""
    session.flush()
    for batch_id in sorted(repository.abandoned_batches(session, attempt_ids, ABANDONED_AFTER_SECONDS)):
        batch = batches.lock(session, batch_id)
        if batch is None or batch.status != BatchStatus.ACTIVE:
            continue
        abandonment = of_batches(session, [batch])[batch.id]
        if abandonment.over:
            batch_transitions.move(session, batch, BatchStatus.PAUSED, now, abandonment.reason())
            waiting.record(batch, waiting.abandoning(abandonment.reason()))
