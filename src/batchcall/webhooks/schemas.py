import base64
import binascii
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AnyHttpUrl, Field, UrlConstraints

from batchcall.kit import outbound
from batchcall.kit.schema import Read, Write
from batchcall.models import TERMINAL


class EventType(StrEnum):
    """What an endpoint can subscribe to. ``*`` subscribes to all of them, including ones added later."""

    CALL_STATUS_CHANGED = "call.status_changed"
    CALL_COMPLETED = "call.completed"
    CALL_NO_ANSWER = "call.no_answer"
    CALL_BUSY = "call.busy"
    CALL_VOICEMAIL = "call.voicemail"
    CALL_FAILED = "call.failed"
    CALL_CANCELED = "call.canceled"
    CALL_EXPIRED = "call.expired"
    CALL_SKIPPED = "call.skipped"
    CALL_UNKNOWN = "call.unknown"
    # The agent posted what came of the conversation.
    CALL_RESULT = "call.result"
    BATCH_STATUS_CHANGED = "batch.status_changed"


ALL_EVENTS = "*"
# The event a call sends when it reaches each terminal status.
ENDED_EVENT: dict[str, EventType] = {status: EventType(f"call.{status}") for status in TERMINAL}

SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
# What _secret accepts, as a pattern for the OpenAPI document: base64 of 24 to 64 bytes, its last quad
# padded when their count is not a multiple of three.
_B64 = "[A-Za-z0-9+/]"
SECRET_PATTERN = (
    f"^{SECRET_PREFIX}(?:(?:{_B64}{{4}}){{8,21}}(?:{_B64}{{2}}==)?|(?:{_B64}{{4}}){{8,20}}{_B64}{{3}}=)$"
)
# Room for an attempt's reason around the excerpt of what the receiver said.
SHOWN_ERROR_CHARS = 2 * outbound.EXCERPT_CHARS


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def _events(events: list[str]) -> list[str]:
    known = {e.value for e in EventType}
    unknown = [e for e in events if e != ALL_EVENTS and e not in known]
    if unknown:
        raise ValueError(
            f"unknown event type(s) {', '.join(unknown)}; use '*' or any of {', '.join(sorted(known))}"
        )
    return list(dict.fromkeys(events))


def _secret(secret: str) -> str:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a secret starts with '{SECRET_PREFIX}' followed by base64")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after '{SECRET_PREFIX}' is not valid base64") from None
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        raise ValueError(f"the key must be {low} to {high} bytes once decoded, not {len(key)}")
    return secret


def _shown_error(error: str | None) -> str | None:
    # Rows stored before replies were cut to an excerpt are shown as if they had been.
    return None if error is None else outbound.excerpt(error, SHOWN_ERROR_CHARS)


Url = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048, allowed_schemes=["http", "https"])]
Events = Annotated[
    list[Annotated[str, Field(json_schema_extra={"enum": [ALL_EVENTS, *(e.value for e in EventType)]})]],
    Field(
        min_length=1,
        max_length=len(EventType) + 1,
        description="Event types to receive, or ['*'] for every one: "
        + ", ".join(e.value for e in EventType),
    ),
    AfterValidator(_events),
]
Secret = Annotated[
    str,
    Field(
        max_length=128,
        description="The signing secret, 'whsec_' + base64 of 24 to 64 random bytes; generated if omitted",
        json_schema_extra={"pattern": SECRET_PATTERN},
    ),
    AfterValidator(_secret),
]


class EndpointCreate(Write):
    url: Url = Field(
        description="Where events are POSTed (http or https); it must reach a public address unless the "
        f"server sets {outbound.ALLOW_SETTING}"
    )
    events: Events = Field(default_factory=lambda: [ALL_EVENTS])
    secret: Secret | None = None
    active: bool = True


class EndpointUpdate(Write):
    url: Url | None = None
    events: Events | None = None
    secret: Secret | None = None
    active: bool | None = None


class Endpoint(Read):
    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class EndpointCreated(Endpoint):
    secret: str = Field(description="Shown only here: verify the webhook-signature header with it")


class Delivery(Read):
    id: str = Field(description="Also the webhook-id header, the same on every attempt")
    endpoint_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: Annotated[str | None, AfterValidator(_shown_error)] = Field(
        description="Why the last attempt failed, with at most a short printable excerpt of the reply"
    )
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None
