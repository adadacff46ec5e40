"""A batch's progress for people at a terminal: read from the database, drawn with Rich."""

from rich.console import Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from batchcall.batches import service
from batchcall.batches.schemas import BatchRead
from batchcall.models import Batch, BatchStatus
from batchcall.runtime import Runtime

FINAL_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.CANCELED})
SHOWN_COUNTERS = (
    "queued",
    "in_progress",
    "completed",
    "no_answer",
    "busy",
    "voicemail",
    "failed",
    "skipped",
    "canceled",
    "expired",
    "unknown",
)


def snapshot(runtime: Runtime, batch_id: str) -> BatchRead | None:
    """The batch as the API answers it, whatever its workspace (the operator reads the store directly)."""
    with runtime.sessions() as session:
        batch = session.get(Batch, batch_id)
        return service.present(session, [batch])[0] if batch is not None else None


def done(batch: BatchRead) -> int:
    """Calls that reached a terminal state."""
    counters = batch.counters
    return counters.total - counters.queued - counters.in_progress


def render(batch: BatchRead) -> RenderableType:
    bar = Progress(
        TextColumn(f"[bold]{batch.name}[/bold] {batch.status}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
    )
    bar.add_task("calls", total=max(batch.counters.total, 1), completed=done(batch))
    table = Table(*SHOWN_COUNTERS)
    table.add_row(*(str(getattr(batch.counters, name)) for name in SHOWN_COUNTERS))
    notes = []
    if batch.status_reason:
        notes.append(f"reason: {batch.status_reason}")
    if batch.next_dial_at is not None:
        notes.append(f"next dial at {batch.next_dial_at.isoformat()}")
    return Group(bar, table, *notes)
