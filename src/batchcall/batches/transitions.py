"""Every change of a batch's status, whoever causes it: the API's actions, the dispatcher, the breaker.

    draft -> scheduled -> active <-> paused -> completed -> active (a retry, or dialect D's new calls)
    any of draft, scheduled, active, paused -> canceled

``move`` is the one function that changes a batch's status: it refuses a move the machine does not have,
keeps the timestamps (``started_at``, ``completed_at``), wakes the dispatcher for a batch that becomes
active, and queues the ``batch.status_changed`` event. ``settle`` completes a batch the moment its last
call ends, paused or not; the call transitions call it whenever calls end.
"""

import logging
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from batchcall.batches import repository
from batchcall.dispatcher import waiting
from batchcall.kit.errors import Conflict
from batchcall.kit.tenancy import get_owned
from batchcall.models import Batch, BatchStatus
from batchcall.webhooks import service as webhooks
from batchcall.webhooks.schemas import EventType

log = logging.getLogger("batchcall.batches")

# The statuses a batch may move to from each.
MOVES: dict[str, frozenset[BatchStatus]] = {
    BatchStatus.DRAFT: frozenset({BatchStatus.SCHEDULED, BatchStatus.ACTIVE, BatchStatus.CANCELED}),
    BatchStatus.SCHEDULED: frozenset({BatchStatus.ACTIVE, BatchStatus.PAUSED, BatchStatus.CANCELED}),
    BatchStatus.ACTIVE: frozenset({BatchStatus.PAUSED, BatchStatus.COMPLETED, BatchStatus.CANCELED}),
    BatchStatus.PAUSED: frozenset(
        {BatchStatus.ACTIVE, BatchStatus.SCHEDULED, BatchStatus.COMPLETED, BatchStatus.CANCELED}
    ),
    BatchStatus.COMPLETED: frozenset({BatchStatus.ACTIVE}),
    BatchStatus.CANCELED: frozenset(),
}
# The statuses each request on a batch may start from.
ACTIONS: dict[str, frozenset[BatchStatus]] = {
    "schedule": frozenset({BatchStatus.DRAFT}),
    "pause": frozenset({BatchStatus.ACTIVE, BatchStatus.SCHEDULED}),
    "resume": frozenset({BatchStatus.PAUSED}),
    "cancel": frozenset({BatchStatus.DRAFT, BatchStatus.SCHEDULED, BatchStatus.ACTIVE, BatchStatus.PAUSED}),
    "update": frozenset({BatchStatus.DRAFT}),
    "delete": frozenset({BatchStatus.DRAFT, BatchStatus.COMPLETED, BatchStatus.CANCELED}),
    "add_calls": frozenset(
        {BatchStatus.DRAFT, BatchStatus.SCHEDULED, BatchStatus.ACTIVE, BatchStatus.PAUSED}
    ),
    "retry": frozenset({BatchStatus.COMPLETED}),
}
# A batch in one of these has its calls dialled, or held while paused, until the last one ends.
RUNNING = (BatchStatus.ACTIVE, BatchStatus.PAUSED)
FINAL = (BatchStatus.COMPLETED, BatchStatus.CANCELED)


def lock(session: Session, workspace_id: str, batch_id: str) -> Batch:
    """The workspace's batch, locked until the transaction ends, so that its moves and the calls added to
    it take turns (the ownership check comes first: no other workspace's row is ever locked)."""
    get_owned(session, Batch, workspace_id, batch_id, "Batch")
    batch = repository.lock(session, batch_id)
    assert batch is not None
    return batch


def require_state(batch: Batch, action: str) -> None:
    """Refuse ``action`` on a batch whose status does not allow it, naming the statuses that would."""
    allowed = ACTIONS[action]
    if batch.status not in allowed:
        needed = " or ".join(sorted(allowed))
        verb = action.replace("_", " ")
        raise Conflict(
            f"Cannot {verb} batch {batch.id}: it is {batch.status}, and this needs {needed}",
            batch_status=batch.status,
        )


def move(session: Session, batch: Batch, to: BatchStatus, now: datetime, reason: str | None = None) -> None:
    """Change the batch's status to ``to``, with everything that goes with it."""
    previous = batch.status
    if to not in MOVES[previous]:
        raise Conflict(f"Batch {batch.id} cannot go from {previous} to {to}", batch_status=previous)
    log.info(
        "batch %s: %s -> %s%s",
        batch.id,
        previous,
        to,
        f" ({reason})" if reason else "",
        extra={"batch_id": batch.id, "from": previous, "to": str(to), "reason": reason},
    )
    batch.status = to
    batch.status_reason = reason
    batch.updated_at = now
    batch.completed_at = now if to in FINAL else None
    # Whatever the batch waited for before, its new status says it, and the dispatcher looks afresh.
    waiting.record(batch, None)
    if to == BatchStatus.ACTIVE:
        batch.started_at = batch.started_at or now
    _publish(session, batch, previous)
    if to == BatchStatus.ACTIVE and previous in (BatchStatus.DRAFT, BatchStatus.SCHEDULED):
        # Every call it was given may have been skipped already.
        settle(session, [batch.id], now)


def settle(session: Session, batch_ids: Iterable[str], now: datetime) -> None:
    """Complete each of these batches, active or paused, that has calls and none left to end.

    Each batch row is locked before its calls are counted, so of two transactions that end a batch's last
    two calls, the second to take the lock sees the first's ending and completes the batch."""
    for batch_id in sorted(set(batch_ids)):
        batch = repository.lock(session, batch_id)
        if (
            batch is not None
            and batch.status in RUNNING
            and not repository.has_open_calls(session, batch_id)
            and repository.has_calls(session, batch_id)
        ):
            move(session, batch, BatchStatus.COMPLETED, now)


def wake(session: Session, batch_ids: Collection[str] = (), workspace_id: str | None = None) -> None:
    """Forget when these batches (or every batch of the workspace) said they would dial next: something
    they waited for changed (a new call, a retry coming due, a setting), so the dispatcher looks at them
    again on its next pass."""
    repository.forget_next_dial(session, batch_ids, workspace_id)


def _publish(session: Session, batch: Batch, previous: str) -> None:
    """Queue the batch.status_changed event of the move just made, for the endpoints that subscribe."""
    event = EventType.BATCH_STATUS_CHANGED
    if not webhooks.listening(session, batch.workspace_id, event):
        return
    data: dict[str, Any] = {
        "id": batch.id,
        "name": batch.name,
        "status": batch.status,
        "previous_status": previous,
        "status_reason": batch.status_reason,
        "metadata": batch.metadata_,
        "counters": repository.counters(session, [batch.id])[batch.id].model_dump(),
    }
    webhooks.enqueue(session, batch.workspace_id, event, data, batch.updated_at)
