from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from batchcall.bounds import StoredJson
from batchcall.kit.schema import Read, Write
from batchcall.results.dispositions import Disposition

MAX_TEXT_CHARS = 20_000
MAX_TURNS = 5_000
# What all the turns of a transcript may say together: hours of conversation, and no more.
MAX_TRANSCRIPT_CHARS = 500_000
# A call lasts at most a day; a turn's time is counted from the answer.
MAX_TURN_SECONDS = 86_400


class Turn(Write):
    """One turn of the conversation: who spoke, what they said, and when (seconds from the answer)."""

    speaker: Literal["agent", "contact"]
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
    at: Annotated[float, Field(ge=0, le=MAX_TURN_SECONDS, description="Seconds from the answer")]


class ResultCreate(Write):
    disposition: Disposition
    summary: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None
    transcript: Annotated[list[Turn], Field(max_length=MAX_TURNS)] = Field(default_factory=list)
    data: StoredJson = Field(
        default_factory=dict,
        description="What the conversation found, checked against the agent's result_schema",
    )
    opt_out: bool = Field(
        default=False, description="The person asked not to be contacted again: no channel reaches them"
    )
    callback_at: AwareDatetime | None = Field(
        default=None,
        description="The person asked to be called at this time: the next attempt goes then, or at the first "
        "lawful time after it",
    )

    @model_validator(mode="after")
    def _transcript_bounded(self) -> "ResultCreate":
        if sum(len(turn.text) for turn in self.transcript) > MAX_TRANSCRIPT_CHARS:
            raise ValueError(f"transcript: its turns say more than {MAX_TRANSCRIPT_CHARS} characters in all")
        return self


class Effects(BaseModel):
    """What a result did."""

    blocked: bool = Field(default=False, description="The number went on the do-not-call list")
    canceled_calls: int = Field(default=0, description="Calls of the person no longer placed, in any batch")
    next_attempt_at: datetime | None = Field(
        default=None, description="When the call is tried again because of this result (a callback, a retry)"
    )
    follow_up: str | None = Field(
        default=None, description="What the result means for the call's next attempt, and why"
    )


class ResultRead(Read):
    call_id: str
    attempt_id: str
    disposition: str
    summary: str | None
    transcript: list[dict[str, Any]]
    data: dict[str, Any]
    opt_out: bool
    callback_at: datetime | None
    effects: Effects
    posted_at: datetime
