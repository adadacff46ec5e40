"""Adding calls to a batch: every row is checked, the good ones stored in bulk, the rest reported.

``submit`` is the way in for every route that adds rows (the native API, each dialect): it refuses a request
with more rows than it may carry, locks the batch, and hands the rows to ``add_calls``.

Each request is a submission with an id of its own: every call it adds keeps that id and its row in it
(``source_row``), and each row it could make no call of is kept in ``rejected_rows`` as it came, with its
reasons, to be downloaded, fixed and sent again. A person is called once per batch: a row to a number (an
address, for e-mail) that already has a call waiting or in flight in the batch is skipped as a duplicate,
whichever submission added that call.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain, islice
from typing import Any, Self

from sqlalchemy.orm import Session

from batchcall.agents import service as agents
from batchcall.batches import transitions as batch_transitions
from batchcall.calls import repository
from batchcall.calls.errors import RowErrors
from batchcall.config import Settings
from batchcall.contacts import repository as contacts
from batchcall.ingest.parallel import normalized_chunks
from batchcall.ingest.phone import PhoneError
from batchcall.ingest.rows import (
    NATIVE_WORDING,
    CallDraft,
    InvalidRow,
    RowError,
    RowLimits,
    RowRules,
    RowWording,
    rules_for,
)
from batchcall.kit.errors import Invalid
from batchcall.kit.ids import contact_id, new_id
from batchcall.kit.tenancy import get_owned
from batchcall.models import WAITING, Attempt, Batch, BatchStatus, Call, CallStatus, Channel, RejectedRow
from batchcall.observability import SUBMITTED_ROWS

CHUNK_ROWS = 10_000


DEFAULT_ERRORS_LISTED: int = Settings.model_fields["max_errors_listed"].default
DEFAULT_MAX_ROWS: int = Settings.model_fields["max_rows_per_request"].default


@dataclass(frozen=True)
class IngestOptions:
    country_code: str | None = None
    update_existing_contacts: bool = False
    # A row to a number the batch is still waiting to call updates that call instead of adding one.
    update_waiting: bool = False
    row_limits: RowLimits = field(default_factory=RowLimits)
    errors_listed: int = DEFAULT_ERRORS_LISTED
    # The most rows one request may carry (a dialect with a smaller cap of its own keeps it in its schema).
    max_rows: int = DEFAULT_MAX_ROWS
    # How the request's answer words its rows: the refusal of too many is in the dialect's words.
    wording: RowWording = NATIVE_WORDING
    # When set, the rows are taken in chunks of this many, and a chunk with an invalid row is not written at
    # all (dialect D's chunks); otherwise every valid row is written, whatever the others.
    whole_chunks: int | None = None
    # A completed batch is made active again for the new calls (dialect D's batches take calls for as long
    # as they exist); otherwise a completed batch refuses them.
    reopen_completed: bool = False
    # Check every row and answer as the submission would, writing nothing.
    dry_run: bool = False
    # A CSV file's columns in its order, each as (the field its rows carry it under, the file's name for
    # it) (csvfile.CsvTable.field_columns): a rejected row is kept with every column of the file, by the
    # file's names, to be fixed and uploaded again.
    file_columns: Sequence[tuple[str, str]] = ()

    @classmethod
    def of(
        cls,
        settings: Settings,
        country_code: str | None = None,
        update_existing_contacts: bool = False,
        update_waiting: bool = False,
        *,
        wording: RowWording = NATIVE_WORDING,
        whole_chunks: int | None = None,
        reopen_completed: bool = False,
        dry_run: bool = False,
        file_columns: Sequence[tuple[str, str]] = (),
    ) -> Self:
        """The options of a request, with the limits the server's settings give it."""
        return cls(
            country_code,
            update_existing_contacts,
            update_waiting,
            RowLimits.of(settings),
            settings.max_errors_listed,
            settings.max_rows_per_request,
            wording,
            whole_chunks,
            reopen_completed,
            dry_run,
            file_columns,
        )


@dataclass(frozen=True)
class RefusedChunk:
    """A chunk (of IngestOptions.whole_chunks rows) not written because a row of it is invalid."""

    # From 1, in the order of the request's rows.
    number: int
    # Its invalid rows, listed while the request has room for them (max_errors_listed in all).
    errors: RowErrors


@dataclass
class IngestResult:
    errors: RowErrors
    accepted: int = 0
    # Rows that became no waiting call: invalid ones, and valid ones skipped (duplicate, do-not-call...).
    skipped: int = 0
    call_ids: list[str] = field(default_factory=list)
    # With whole chunks: the chunks not written; their rows are in none of the counts above.
    refused_chunks: list[RefusedChunk] = field(default_factory=list)
    # The id of the request that added the rows: its calls and rejected rows carry it.
    submission_id: str = ""
    # Faults of rows that were taken all the same, listed as the errors are.
    warnings: RowErrors = field(default_factory=lambda: RowErrors(DEFAULT_ERRORS_LISTED))
    # Rows taken with at least one warning.
    warned: int = 0
    # Keys of the rows stored under the agent's spelling of a variable: as submitted -> the agent's.
    mapped_columns: dict[str, str] = field(default_factory=dict)
    # Invalid rows kept for download (none in a dry run).
    rejected: int = 0
    dry_run: bool = False


@dataclass
class _Submission:
    """What one request has seen so far, across its chunks."""

    id: str
    batch: Batch
    rules: RowRules
    options: IngestOptions
    now: datetime
    dedup_since: datetime | None
    next_row_number: int
    result: IngestResult
    # With whole chunks: the room for the refused chunks' errors, shared by them all.
    refused_errors: RowErrors
    first_row_of: dict[str, int] = field(default_factory=dict)


def submit(
    session: Session,
    workspace_id: str,
    batch_id: str,
    rows: Iterable[tuple[int, Any]],
    now: datetime,
    options: IngestOptions,
    count: int | None = None,
) -> IngestResult:
    """Add ``rows`` (row number, raw row) to the workspace's batch ``batch_id``, as a route does.

    ``count``, the number of rows when the request says it before they are read (a JSON array, not a CSV
    file), refuses a request of more than ``options.max_rows`` as a whole before any is read. The batch is
    locked for the rest of the transaction, so its status cannot change under the new calls."""
    if count is not None and count > options.max_rows:
        raise Invalid(f"At most {options.max_rows} {options.wording.rows} per request; this one has {count}")
    batch = batch_transitions.lock(session, workspace_id, batch_id)
    if options.reopen_completed and batch.status == BatchStatus.COMPLETED:
        batch_transitions.move(session, batch, BatchStatus.ACTIVE, now, "reopened for new calls")
    return add_calls(session, batch, rows, now, options, size_hint=count)


def add_calls(
    session: Session,
    batch: Batch,
    rows: Iterable[tuple[int, Any]],
    now: datetime,
    options: IngestOptions = IngestOptions(),
    size_hint: int | None = None,
) -> IngestResult:
    """Check and store ``rows`` (row number, raw row) for ``batch``, which this transaction holds (locked,
    or created); nothing is written if this raises.

    ``size_hint``, the number of rows when known, lets small submissions share the work out finely."""
    batch_transitions.require_state(batch, "add_calls")
    submission_id = new_id()
    submission = _Submission(
        id=submission_id,
        batch=batch,
        rules=_rules(session, batch, options),
        options=options,
        now=now,
        dedup_since=now - timedelta(days=batch.dedup_days) if batch.dedup_days else None,
        next_row_number=repository.next_row_number(session, batch.id),
        result=IngestResult(
            RowErrors(options.errors_listed),
            submission_id=submission_id,
            warnings=RowErrors(options.errors_listed),
            dry_run=options.dry_run,
        ),
        refused_errors=RowErrors(options.errors_listed),
    )
    # Each chunk is stored as soon as it is normalised, while the workers normalise the next ones.
    normalized = normalized_chunks(rows, submission.rules, CHUNK_ROWS, size_hint)
    if options.whole_chunks is None:
        for chunk in normalized:
            _store(session, submission, chunk)
    else:
        _store_whole_chunks(session, submission, normalized, options.whole_chunks)
    if options.dry_run:
        return submission.result
    SUBMITTED_ROWS.labels("accepted").inc(submission.result.accepted)
    SUBMITTED_ROWS.labels("skipped").inc(submission.result.skipped)
    # New calls may be due before the time the batch last said it would dial; and a running batch whose
    # new calls were all skipped has nothing left to end.
    batch_transitions.wake(session, [batch.id])
    batch_transitions.settle(session, [batch.id], now)
    return submission.result


def _store_whole_chunks(
    session: Session, submission: _Submission, normalized: Iterable[list[CallDraft | InvalidRow]], size: int
) -> None:
    """Store the rows ``size`` at a time, each chunk only if none of its rows is invalid.

    Each chunk is a submission of its own, as dialect D's seed processes them: a row repeating a number of
    an earlier chunk finds that chunk's call waiting, and (with update_waiting) updates it. The invalid
    rows of a refused chunk are kept as rejected rows, its valid ones are not (they were never refused)."""
    outcomes = chain.from_iterable(normalized)
    for number, chunk in enumerate(iter(lambda: list(islice(outcomes, size)), []), start=1):
        invalid = [outcome for outcome in chunk if isinstance(outcome, InvalidRow)]
        if not invalid:
            submission.first_row_of.clear()
            _store(session, submission, chunk)
            continue
        errors = RowErrors(submission.options.errors_listed)
        errors.add(error for row in invalid for error in row.errors)
        submission.result.refused_chunks.append(RefusedChunk(number, submission.refused_errors.take(errors)))
        _keep_rejected(session, submission, invalid)


def _rules(session: Session, batch: Batch, options: IngestOptions) -> RowRules:
    """The batch's rules for its rows. The agent's required variables are required but for those it has a
    default for; a row's keys are matched to every variable the agent names (required, in its template,
    with a default) in any case and spelling."""
    required: list[str] = []
    named: list[str] = []
    if batch.agent_id:
        agent = agents.get(session, batch.workspace_id, batch.agent_id)
        defaults = agent.defaults or {}
        required = [name for name in agent.required_variables if name not in defaults]
        named = [*agent.required_variables, *agents.PLACEHOLDER.findall(agent.prompt_template), *defaults]
    try:
        return rules_for(
            batch.channel, batch.timezone, options.country_code, required, options.row_limits, named
        )
    except PhoneError as exc:
        raise Invalid(f"country_code: {exc}") from None


def _store(session: Session, submission: _Submission, normalized: list[CallDraft | InvalidRow]) -> None:
    result, dry_run = submission.result, submission.options.dry_run
    errors: list[RowError] = []
    warnings: list[RowError] = []
    drafts: list[CallDraft] = []
    invalid: list[InvalidRow] = []
    for outcome in normalized:
        if isinstance(outcome, InvalidRow):
            invalid.append(outcome)
            errors.extend(outcome.errors)
            result.skipped += 1
            continue
        drafts.append(outcome)
        if outcome.warnings:
            warnings.extend(outcome.warnings)
            result.warned += 1
        for submitted, spelled in outcome.renamed.items():
            result.mapped_columns.setdefault(submitted, spelled)
    _keep_rejected(session, submission, invalid)
    if submission.options.update_waiting:
        drafts = _update_waiting(session, submission, drafts)
    skip_reasons = _skip_reasons(session, submission, drafts)
    batch, now = submission.batch, submission.now
    contact_rows: dict[str, dict[str, Any]] = {}
    call_rows: list[dict[str, Any]] = []
    for draft in drafts:
        reason = skip_reasons.get(draft.row)
        if reason is not None:
            errors.append(RowError(draft.row, _dedup_field(draft), reason))
            result.skipped += 1
        contact = None
        if draft.to is not None:
            contact = contact_id(batch.workspace_id, draft.to)
            contact_rows[contact] = _contact_row(batch.workspace_id, contact, draft, now)
        call_rows.append(_call_row(submission, draft, contact, reason))
    if not dry_run:
        contacts.upsert_contacts(
            session, list(contact_rows.values()), submission.options.update_existing_contacts
        )
        repository.insert_calls(session, call_rows)
    result.errors.add(errors)
    result.warnings.add(warnings)
    for row in call_rows:
        if row["status"] != CallStatus.SKIPPED:
            result.accepted += 1
            if not dry_run:
                result.call_ids.append(row["id"])


def _keep_rejected(session: Session, submission: _Submission, invalid: list[InvalidRow]) -> None:
    """Keep the invalid rows as they came, with every reason: a CSV file's with all its columns (an empty
    cell too, to be filled in), by the file's own names, in its order."""
    if submission.options.dry_run or not invalid:
        return
    batch = submission.batch
    repository.insert_rejected(
        session,
        [
            {
                "id": new_id(),
                "workspace_id": batch.workspace_id,
                "batch_id": batch.id,
                "submission_id": submission.id,
                "row": row.row,
                "reason": row.reason,
                "values": _as_submitted(row, submission.options.file_columns),
                "created_at": submission.now,
            }
            for row in invalid
        ],
    )
    submission.result.rejected += len(invalid)


def _dedup_field(draft: CallDraft) -> str:
    return "email" if draft.channel == Channel.EMAIL else "phone_number"


def _as_submitted(row: InvalidRow, file_columns: Sequence[tuple[str, str]]) -> list[list[Any]]:
    """The row's fields as [name, value] pairs: by its file's columns when it came in a file."""
    if not file_columns:
        return [[key, value] for key, value in row.values.items()]
    # A record that could not be read as CSV has no values: its columns are left empty, its reason says why.
    return [[column, row.values.get(name, "")] for name, column in file_columns]


def _update_waiting(session: Session, submission: _Submission, drafts: list[CallDraft]) -> list[CallDraft]:
    """Update the waiting calls that rows name again (the first such row each); answer the other rows."""
    phones = {d.to for d in drafts if d.to is not None}
    waiting = repository.waiting_calls_to(session, submission.batch, phones)
    result, now = submission.result, submission.now
    remaining: list[CallDraft] = []
    updates: list[dict[str, Any]] = []
    for draft in drafts:
        call_id = waiting.get((draft.channel, draft.to)) if draft.to is not None else None
        if call_id is None or submission.first_row_of.setdefault(draft.dedup_key, draft.row) != draft.row:
            remaining.append(draft)
            continue
        # The call is updated, and now stands for this row of this submission.
        status, due = _waiting_state(draft, now)
        updates.append(
            {
                "id": call_id,
                "email": draft.email,
                "scheduled_time": draft.scheduled_time,
                **draft.fields,
                "status": status,
                "next_attempt_at": due,
                "submission_id": submission.id,
                "source_row": draft.row,
                "updated_at": now,
            }
        )
        result.accepted += 1
        if not submission.options.dry_run:
            result.call_ids.append(call_id)
    if not submission.options.dry_run:
        repository.update_calls(session, updates)
    return remaining


def _skip_reasons(session: Session, submission: _Submission, drafts: list[CallDraft]) -> dict[int, str]:
    """Rows that are valid but must not be called: repeats within the submission, do-not-call numbers,
    people the batch already has a call waiting or in flight for, numbers reached lately."""
    reasons: dict[int, str] = {}
    for draft in drafts:
        first = submission.first_row_of.setdefault(draft.dedup_key, draft.row)
        if first != draft.row:
            reasons[draft.row] = f"duplicate of row {first} in this submission"
    candidates = [d for d in drafts if d.row not in reasons]
    phones = {d.to for d in candidates if d.to is not None and d.channel != Channel.EMAIL}
    emails = {d.email for d in candidates if d.email is not None and d.channel == Channel.EMAIL}
    batch = submission.batch
    blocked = contacts.blocked_numbers(session, batch.workspace_id, phones)
    live = repository.live_calls_to(session, batch, phones - blocked, emails)
    recent: set[str] = set()
    if submission.dedup_since is not None:
        recent = repository.numbers_contacted_since(
            session, batch.workspace_id, phones - blocked, submission.dedup_since
        )
    for draft in candidates:
        address = draft.email if draft.channel == Channel.EMAIL else draft.to
        earlier = live.get((draft.channel, address)) if address is not None else None
        if draft.to is not None and draft.to in blocked:
            reasons[draft.row] = f"{draft.to} is on the do-not-call list"
        elif earlier is not None:
            reasons[draft.row] = _duplicate_reason(submission, address or "", earlier)
        elif draft.to is not None and draft.to in recent:
            reasons[draft.row] = f"{draft.to} was contacted within the last {batch.dedup_days} day(s)"
    return reasons


def _duplicate_reason(submission: _Submission, address: str, earlier: repository.LiveCall) -> str:
    """Why a row to ``address`` is skipped: the batch's ``earlier`` call to it, named by its row."""
    state = "waiting" if earlier.status in WAITING else "in progress"
    if earlier.source_row is None:
        where = f"call {earlier.id}"
    elif earlier.submission_id == submission.id:
        where = f"row {earlier.source_row} of this submission"
    else:
        where = f"row {earlier.source_row} of an earlier submission, {earlier.submission_id}"
    return f"duplicate: {address} already has a call {state} in this batch ({where})"


def _contact_row(workspace_id: str, id_: str, draft: CallDraft, now: datetime) -> dict[str, Any]:
    first_name, last_name = draft.fields["first_name"], draft.fields["last_name"]
    if first_name is None and last_name is None and draft.fields["name"]:
        first_name, _, rest = draft.fields["name"].partition(" ")
        last_name = rest or None
    return {
        "id": id_,
        "workspace_id": workspace_id,
        "phone": draft.to,
        "first_name": first_name,
        "last_name": last_name,
        "email": draft.email,
        "attributes": {},
        "created_at": now,
        "updated_at": now,
    }


def _call_row(
    submission: _Submission, draft: CallDraft, contact: str | None, skip_reason: str | None
) -> dict[str, Any]:
    now = submission.now
    status, due = (CallStatus.SKIPPED, None) if skip_reason is not None else _waiting_state(draft, now)
    row_number = submission.next_row_number
    submission.next_row_number += 1
    return {
        "id": new_id(),
        "workspace_id": submission.batch.workspace_id,
        "batch_id": submission.batch.id,
        "contact_id": contact,
        "row_number": row_number,
        "submission_id": submission.id,
        "source_row": draft.row,
        "channel": draft.channel,
        "to": draft.to,
        "from_number": None,
        "email": draft.email,
        "scheduled_time": draft.scheduled_time,
        **draft.fields,
        "status": status,
        "skip_reason": skip_reason,
        "outcome": None,
        "attempt_count": 0,
        "next_attempt_at": due,
        "lease_owner": None,
        "lease_expires_at": None,
        "created_at": now,
        "updated_at": now,
        "completed_at": now if skip_reason is not None else None,
    }


def _waiting_state(draft: CallDraft, now: datetime) -> tuple[CallStatus, datetime]:
    """A call not placed yet is scheduled for its row's time, or queued to go now."""
    if draft.scheduled_time is not None and draft.scheduled_time > now:
        return CallStatus.SCHEDULED, draft.scheduled_time
    return CallStatus.QUEUED, now


def get(session: Session, workspace_id: str, call_id: str) -> Call:
    return get_owned(session, Call, workspace_id, call_id, "Call")


def attempts_of(session: Session, call: Call) -> list[Attempt]:
    return repository.attempts_of(session, call.id)


def list_calls(
    session: Session, batch: Batch, status: str | None, limit: int, offset: int
) -> tuple[list[Call], int]:
    return repository.list_calls(session, batch.id, status, limit, offset)


def iter_calls(session: Session, batch_id: str) -> Iterator[Call]:
    return repository.iter_calls(session, batch_id)


def iter_rejected(session: Session, batch_id: str, submission_id: str | None) -> Iterator[RejectedRow]:
    """The batch's rejected rows (of one submission, when named), submission by submission, row by row."""
    return repository.iter_rejected(session, batch_id, submission_id)
