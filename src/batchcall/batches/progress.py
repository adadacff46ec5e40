"""A batch's progress for people at a terminal, drawn with Rich from the batch as the API answers it."""

from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.text import Text

from batchcall.models import BatchStatus

FINAL_STATUSES = frozenset({BatchStatus.COMPLETED.value, BatchStatus.CANCELED.value})
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


def done(batch: dict[str, Any]) -> int:
    """Calls that reached a terminal state."""
    counters = batch["counters"]
    return int(counters["total"]) - int(counters["queued"]) - int(counters["in_progress"])


def waiting(batch: dict[str, Any]) -> str | None:
    """Why the running batch dials nobody now, in words with until when; None while it dials, and for a
    draft or a batch that has ended."""
    if batch["status"] in FINAL_STATUSES or batch["status"] == BatchStatus.DRAFT:
        return None
    if batch.get("waiting_detail"):
        return f"waiting: {batch['waiting_detail']}"
    return f"next call at {batch['next_dial_at']}" if batch.get("next_dial_at") else None


def render(batch: dict[str, Any]) -> RenderableType:
    bar = Progress(
        TextColumn(f"[bold]{escape(batch['name'])}[/bold] {batch['status']}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
    )
    bar.add_task("calls", total=max(int(batch["counters"]["total"]), 1), completed=done(batch))
    # One line that wraps on a narrow terminal, naming the counters that are not zero.
    counts = [f"{name} {batch['counters'][name]}" for name in SHOWN_COUNTERS if batch["counters"].get(name)]
    notes = [Text(", ".join(counts) or "no calls yet"), Text(f"batch {batch['id']}")]
    if batch.get("status_reason"):
        notes.append(Text(f"reason: {batch['status_reason']}"))
    said = waiting(batch)
    if said:
        notes.append(Text(said))
    return Group(bar, *notes)
