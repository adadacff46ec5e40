from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from batchcall.bounds import PromptText, StoredJson, within_json_bounds
from batchcall.kit.schema import Read, Write

VariableName = Annotated[str, Field(min_length=1, max_length=255)]
VariableNames = Annotated[list[VariableName], Field(max_length=1000)]


# The value of a variable a row leaves out: text or a number, as a row's own value would be; as large as a
# row's variables may be.
VariableDefaults = Annotated[
    dict[VariableName, StrictStr | StrictInt | StrictFloat | StrictBool], AfterValidator(within_json_bounds)
]
DEFAULTS_DESCRIPTION = (
    "Values of variables a row leaves out (name -> text or number): a required variable with a default "
    "may be left out, and the prompt renders the default"
)

SMS_DESCRIPTION = (
    "What a text of this agent says, with the same {{variable}} placeholders; without one, a text says "
    "the row's instruction"
)


class AgentCreate(Write):
    name: str = Field(min_length=1, max_length=255)
    prompt_template: PromptText = Field(
        default="", description="With {{variable}} placeholders; at most the server's max_prompt_chars"
    )
    sms_template: PromptText | None = Field(default=None, description=SMS_DESCRIPTION)
    required_variables: VariableNames = Field(default_factory=list)
    defaults: VariableDefaults = Field(default_factory=dict, description=DEFAULTS_DESCRIPTION)
    language: str = Field(default="en", min_length=2, max_length=16)
    voice: StoredJson = Field(default_factory=dict)
    active: bool = True
    ready: bool = True


class AgentUpdate(Write):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    prompt_template: PromptText | None = None
    sms_template: PromptText | None = Field(default=None, description=SMS_DESCRIPTION)
    required_variables: VariableNames | None = None
    defaults: VariableDefaults | None = Field(default=None, description=DEFAULTS_DESCRIPTION)
    language: str | None = Field(default=None, min_length=2, max_length=16)
    voice: StoredJson | None = None
    active: bool | None = None
    ready: bool | None = None


class AgentRead(Read):
    id: str
    name: str
    prompt_template: str
    sms_template: str | None
    required_variables: list[str]
    defaults: dict[str, Any]
    language: str
    voice: dict[str, Any]
    active: bool
    ready: bool
    created_at: datetime
