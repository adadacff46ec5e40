from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class SessionContact(BaseModel):
    phone_number: str | None
    email: str | None
    name: str | None
    first_name: str | None
    last_name: str | None
    crm_contact_id: str | None
    contact_id: str | None = Field(description="The workspace's contact record, where there is one")


class SessionBatch(BaseModel):
    id: str
    name: str
    metadata: dict[str, Any]


class SessionAgent(BaseModel):
    id: str
    name: str
    language: str
    voice: dict[str, Any]


class AgentSession(BaseModel):
    """What an agent needs to hold one call's conversation, read with the call's session token."""

    call_id: str
    attempt_id: str
    attempt: int = Field(description="Which attempt of the call this is, from 1")
    channel: str
    to: str | None
    from_number: str | None = Field(serialization_alias="from")
    prompt: str | None = Field(description="The agent's prompt, rendered with the row's variables")
    instruction: str | None
    variables: dict[str, Any]
    metadata: dict[str, Any] = Field(description="The row's metadata")
    contact: SessionContact
    batch: SessionBatch
    agent: SessionAgent | None
    dispositions: list[str] = Field(description="The dispositions a result may carry")
    result_schema: dict[str, Any] | None = Field(description="The JSON Schema a result's data must satisfy")
    result_url: str = Field(description="Where the result is posted, with this token")
    expires_at: datetime
