import re
from datetime import datetime
from typing import Annotated, Any

import jsonschema_rs
from pydantic import AfterValidator, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from batchcall.bounds import PromptText, StoredJson, within_json_bounds
from batchcall.kit.schema import Read, Write
from batchcall.models.agent import DEFAULT_MAX_CALLBACKS, Transport, Voicemail
from batchcall.results.dispositions import MAX_OWN_DISPOSITIONS, Disposition

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


# The drafts a result_schema may name in ``$schema``: their meta-schemas are built in, so none is fetched.
DRAFTS = frozenset(
    {
        "http://json-schema.org/draft-04/schema",
        "http://json-schema.org/draft-06/schema",
        "http://json-schema.org/draft-07/schema",
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    }
)


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema a result's data can be checked against: of a known draft (2020-12 unless it says),
    valid for it, and complete in itself, since no schema is ever fetched from elsewhere."""
    draft = schema.get("$schema")
    if draft is not None and (not isinstance(draft, str) or draft.removesuffix("#") not in DRAFTS):
        raise ValueError(f"$schema names no draft this server knows: use one of {', '.join(sorted(DRAFTS))}")
    try:
        jsonschema_rs.meta.validate(schema)
        jsonschema_rs.validator_for(schema, offline=True)
    except jsonschema_rs.ValidationError as fault:
        raise ValueError(f"is not a usable JSON Schema: {fault.message}") from None
    except jsonschema_rs.ReferencingError as fault:
        raise ValueError(f"is not a usable JSON Schema: {fault}") from None
    return schema


ResultSchema = Annotated[StoredJson, AfterValidator(_json_schema)]
StreamUrl = Annotated[str, Field(max_length=2048, description="The agent's WebSocket: a ws:// or wss:// URL")]
SIP_URI = re.compile(r"^sips?:[^\s?]+$")


def _sip_uri(uri: str) -> str:
    if not SIP_URI.match(uri):
        raise ValueError(
            "is not a SIP URI such as sip:agent@sip.example.com (without headers: the bridge adds them)"
        )
    return uri


SipUri = Annotated[
    str,
    AfterValidator(_sip_uri),
    Field(
        max_length=1024,
        json_schema_extra={"pattern": SIP_URI.pattern},
        description="The agent's SIP URI (sip:agent@sip.example.com), without headers: the bridge adds them",
    ),
]
OwnDispositions = Annotated[list[Disposition], Field(max_length=MAX_OWN_DISPOSITIONS)]
MaxCallbacks = Annotated[int, Field(ge=0, le=10)]

TRANSPORT_DESCRIPTION = (
    "How an answered call reaches the agent: 'say' speaks the rendered prompt; 'stream' connects the call's "
    "audio to stream_url over Twilio Media Streams; 'sip' bridges the call to sip_uri"
)
RESULT_SCHEMA_DESCRIPTION = "A JSON Schema the data of the agent's results must satisfy"
DISPOSITIONS_DESCRIPTION = "The workspace's own dispositions for this agent, beside the standard ones"
RETRY_DESCRIPTION = (
    "Dispositions after which the call is tried again, under its batch's retry delay, window and attempt "
    "limit (do_not_call never is)"
)
CALLBACKS_DESCRIPTION = "How many callbacks (a result's callback_at) one call may have"
VOICEMAIL_DESCRIPTION = (
    "What a call a machine answered does: 'hangup' at once; 'message' waits for the beep and leaves "
    "voicemail_message (rendered) or plays voicemail_audio_url; 'fallback' hangs up and reaches the person "
    "on the batch's next fallback channel (an SMS to the number when the batch names none)"
)
VOICEMAIL_MESSAGE_DESCRIPTION = "What a 'message' agent says after the beep, with {{variable}} placeholders"
AudioUrl = Annotated[
    str,
    Field(
        max_length=2048,
        pattern=r"^https?://\S+$",
        description="A recording a 'message' agent plays after the beep: an http(s) URL Twilio fetches",
    ),
]


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
    transport: Transport = Field(default=Transport.SAY, description=TRANSPORT_DESCRIPTION)
    stream_url: StreamUrl | None = None
    sip_uri: SipUri | None = None
    result_schema: ResultSchema | None = Field(default=None, description=RESULT_SCHEMA_DESCRIPTION)
    dispositions: OwnDispositions = Field(default_factory=list, description=DISPOSITIONS_DESCRIPTION)
    retry_dispositions: OwnDispositions = Field(default_factory=list, description=RETRY_DESCRIPTION)
    max_callbacks: MaxCallbacks = Field(default=DEFAULT_MAX_CALLBACKS, description=CALLBACKS_DESCRIPTION)
    voicemail: Voicemail = Field(default=Voicemail.HANGUP, description=VOICEMAIL_DESCRIPTION)
    voicemail_message: PromptText | None = Field(default=None, description=VOICEMAIL_MESSAGE_DESCRIPTION)
    voicemail_audio_url: AudioUrl | None = None
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
    transport: Transport | None = Field(default=None, description=TRANSPORT_DESCRIPTION)
    stream_url: StreamUrl | None = None
    sip_uri: SipUri | None = None
    result_schema: ResultSchema | None = Field(default=None, description=RESULT_SCHEMA_DESCRIPTION)
    dispositions: OwnDispositions | None = Field(default=None, description=DISPOSITIONS_DESCRIPTION)
    retry_dispositions: OwnDispositions | None = Field(default=None, description=RETRY_DESCRIPTION)
    max_callbacks: MaxCallbacks | None = Field(default=None, description=CALLBACKS_DESCRIPTION)
    voicemail: Voicemail | None = Field(default=None, description=VOICEMAIL_DESCRIPTION)
    voicemail_message: PromptText | None = Field(default=None, description=VOICEMAIL_MESSAGE_DESCRIPTION)
    voicemail_audio_url: AudioUrl | None = None
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
    transport: str
    stream_url: str | None
    sip_uri: str | None
    result_schema: dict[str, Any] | None
    dispositions: list[str]
    retry_dispositions: list[str]
    max_callbacks: int
    voicemail: str
    voicemail_message: str | None
    voicemail_audio_url: str | None
    active: bool
    ready: bool
    created_at: datetime
