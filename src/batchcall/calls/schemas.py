from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from batchcall.ingest.rows import MAX_COUNTRY_CHARS
from batchcall.kit.schema import Read
from batchcall.models import Attempt as AttemptRow
from batchcall.models import CallResult
from batchcall.results.schemas import ResultRead


class RowErrorOut(Read):
    """A row error as answered, read from an ingest.rows.RowError."""

    row: int
    field: str
    message: str


class AddCalls(BaseModel):
    # Read by hand (calls.api), which refuses any other field; this says so in the OpenAPI document.
    model_config = ConfigDict(extra="forbid")

    rows: list[Any] = Field(description="Rows to call; each an object with the row fields")
    country_code: Annotated[str, Field(max_length=MAX_COUNTRY_CHARS)] | None = Field(
        default=None,
        description="Country of national numbers: an ISO 3166-1 code or a name ('GB', 'GBR', 'UK')",
    )
    update_existing: bool = Field(default=False, description="Overwrite contacts' names and email")


class AddCallsResult(BaseModel):
    accepted: int
    skipped: int = Field(description="Rows that became no waiting call: invalid, or skipped with a reason")
    errors: list[RowErrorOut] = Field(
        description="The first row errors in row order, at most the server's max_errors_listed; every "
        "error of a row is listed, one per field at fault"
    )
    error_count: int = Field(description="How many row errors there were, listed or not")
    warnings: list[RowErrorOut] = Field(
        description="Faults of rows taken all the same (the field left out, or the number's country used), "
        "the first max_errors_listed in row order"
    )
    warning_count: int = Field(description="How many warnings there were, listed or not")
    warned: int = Field(description="Rows taken with at least one warning")
    mapped_columns: dict[str, str] = Field(
        description="Columns or keys stored under the agent's spelling of a variable: as sent -> the agent's"
    )
    call_ids: list[str] = Field(description="The calls added or updated; none in a dry run")
    submission_id: str = Field(description="This submission: its calls and rejected rows carry it")
    rejected_url: str | None = Field(
        default=None, description="Where this submission's invalid rows can be downloaded as CSV, to fix"
    )
    dry_run: bool = Field(default=False, description="Checked only: nothing was written")


class AttemptSummary(Read):
    """What the provider reported of one attempt: carried by the ``call.*`` webhooks too."""

    id: str
    number: int
    provider: str
    provider_account_id: str | None = Field(description="The workspace's provider account that placed it")
    provider_call_id: str | None
    channel: str
    to: str | None
    from_number: str | None = Field(serialization_alias="from")
    status: str
    outcome: str | None
    answered_by: str | None = Field(description="Who answered, by answering-machine detection")
    error: str | None
    error_code: str | None = Field(description="The provider's error code, where it gave one")
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    cost_micros: int | None = Field(description="The provider's price, in millionths of the currency")
    currency: str | None
    agent_audio_after_seconds: float | None = Field(
        description="How long after the call's media stream began the agent first spoke"
    )


class AttemptRead(AttemptSummary):
    prompt: str | None = Field(description="The agent's prompt as rendered for this attempt")
    result: ResultRead | None = Field(default=None, description="What the agent reported of the conversation")

    @classmethod
    def of(cls, attempt: AttemptRow, call_prompt: str | None, result: CallResult | None) -> "AttemptRead":
        """The attempt with the prompt rendered for it (its own where it differs from its call's, which is
        kept once on the call) and its agent's result."""
        answer = cls.model_validate(attempt)
        if attempt.prompt is None:
            answer.prompt = call_prompt
        answer.result = ResultRead.model_validate(result) if result is not None else None
        return answer


class CallSummary(Read):
    id: str
    batch_id: str
    row_number: int = Field(
        description="The call's place in its batch: the order calls are listed and dialled"
    )
    submission_id: str | None = Field(description="The submission that added the call")
    row: int | None = Field(
        validation_alias="source_row", description="The call's row in that submission, as its errors name it"
    )
    status: str
    channel: str
    to: str | None
    from_number: str | None = Field(serialization_alias="from")
    email: str | None
    name: str | None
    first_name: str | None
    last_name: str | None
    instruction: str | None
    variables: dict[str, Any]
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    scheduled_time: datetime | None
    call_type: str | None
    max_retries: int | None
    source_record_id: str | None
    crm_contact_id: str | None
    outcome: str | None
    skip_reason: str | None
    attempts: int = Field(validation_alias="attempt_count")
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class CallDetail(CallSummary):
    attempts: list[AttemptRead]  # type: ignore[assignment]
    result: ResultRead | None = Field(description="The agent's result of the latest attempt that has one")

    @classmethod
    def of(cls, summary: CallSummary, attempts: list[AttemptRead]) -> "CallDetail":
        result = next((a.result for a in reversed(attempts) if a.result is not None), None)
        return cls(**summary.model_dump(exclude={"attempts"}), attempts=attempts, result=result)
