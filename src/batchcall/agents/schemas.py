from datetime import datetime
from typing import Any

from pydantic import Field

from batchcall.kit.schema import Read, Write


class AgentCreate(Write):
    name: str = Field(min_length=1, max_length=255)
    prompt_template: str = ""
    required_variables: list[str] = Field(default_factory=list)
    language: str = Field(default="en", min_length=2, max_length=16)
    voice: dict[str, Any] = Field(default_factory=dict)
    active: bool = True
    ready: bool = True


class AgentUpdate(Write):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    prompt_template: str | None = None
    required_variables: list[str] | None = None
    language: str | None = Field(default=None, min_length=2, max_length=16)
    voice: dict[str, Any] | None = None
    active: bool | None = None
    ready: bool | None = None


class Agent(Read):
    id: str
    name: str
    prompt_template: str
    required_variables: list[str]
    language: str
    voice: dict[str, Any]
    active: bool
    ready: bool
    created_at: datetime
