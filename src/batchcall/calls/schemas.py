from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from batchcall.bounds import CountryCode
from batchcall.kit.schema import Read
from batchcall.models import Attempt as AttemptRow


class RowErrorOut(Read):
    """A row error as answered, read from an ingest.rows.RowError."""

    row: int
    field: str
    message: str


class AddCalls(BaseModel):
    # Read by hand (calls.api), which refuses any other field; this says so in the OpenAPI document.
    model_config = ConfigDict(extra="forbid")

    rows: list[Any] = Field(description="Rows to call; each an object with the row fields")
    country_code: CountryCode | None = Field(
        default=None, description="Region for national numbers, ISO 3166-1 alpha-2"
    )
    update_existing: bool = Field(default=False, description="Overwrite contacts' names and email")


class AddCallsResult(BaseModel):
    accepted: int
    skipped: int
    errors: list[RowErrorOut] = Field(
        description="The first row errors in row order, at most the server's max_errors_listed"
    )
    error_count: int = Field(description="How many row errors there were, listed or not")
    call_ids: list[str]


class AttemptRead(Read):
    id: str
    number: int
    provider: str
    provider_call_id: str | None
    channel: str
    to: str | None
    from_number: str | None = Field(serialization_alias="from")
    prompt: str | None = Field(description="The agent's prompt as rendered for this attempt")
    status: str
    outcome: str | None
    error: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    cost_micros: int | None
    transcript: str | None
    summary: str | None

    @classmethod
    def of(cls, attempt: AttemptRow, call_prompt: str | None) -> "AttemptRead":
        """The attempt with the prompt rendered for it: its own where it differs from its call's, which is
        kept once on the call."""
        answer = cls.model_validate(attempt)
        if attempt.prompt is None:
            answer.prompt = call_prompt
        return answer


class CallSummary(Read):
    id: str
    batch_id: str
    row_number: int
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

    @classmethod
    def of(cls, summary: CallSummary, attempts: list[AttemptRead]) -> "CallDetail":
        return cls(**summary.model_dump(exclude={"attempts"}), attempts=attempts)
