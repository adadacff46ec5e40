from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from batchcall.bounds import PromptText, StoredJson
from batchcall.kit.schema import Read, Write

VariableNames = Annotated[list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=1000)]


class AgentCreate(Write):
    name: str = Field(min_length=1, max_length=255)
    prompt_template: PromptText = Field(
        default="", description="With {{variable}} placeholders; at most the server's max_prompt_chars"
    )
    required_variables: VariableNames = Field(default_factory=list)
    language: str = Field(default="en", min_length=2, max_length=16)
    voice: StoredJson = Field(default_factory=dict)
    active: bool = True
    ready: bool = True


class AgentUpdate(Write):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    prompt_template: PromptText | None = None
    required_variables: VariableNames | None = None
    language: str | None = Field(default=None, min_length=2, max_length=16)
    voice: StoredJson | None = None
    active: bool | None = None
    ready: bool | None = None


class AgentRead(Read):
    id: str
    name: str
    prompt_template: str
    required_variables: list[str]
    language: str
    voice: dict[str, Any]
    active: bool
    ready: bool
    created_at: datetime
