"""How the simulated provider calls back: one status event as JSON, signed the way a vendor signs its own.

The signature is an HMAC-SHA256, under the installation's callback key, of ``<timestamp>.<body>``, the
timestamp being Unix seconds; both travel in headers. A callback is verified before its body is read, and
one signed further from now than the tolerance is refused, so a captured callback cannot be replayed later.
"""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from batchcall.kit.schema import Instant
from batchcall.models import CallStatus
from batchcall.providers.base import CallbackForged, ProviderRejected, StatusEvent

TIMESTAMP_HEADER = "X-Batchcall-Timestamp"
SIGNATURE_HEADER = "X-Batchcall-Signature"
SCHEME = "v1"
# Unix seconds for the next thirty thousand years; anything longer is not a timestamp of ours.
MAX_TIMESTAMP_DIGITS = 12


class CallbackEvent(BaseModel):
    """The body of a simulated callback: the event it reports, field by field."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    event_id: str
    provider_call_id: str
    status: CallStatus
    occurred_at: Instant
    attempt_id: str | None = None
    answered_at: Instant | None = None
    ended_at: Instant | None = None
    duration_seconds: float | None = None
    opted_out: bool = False
    error: str | None = None

    def to_event(self) -> StatusEvent:
        return StatusEvent(
            event_id=self.event_id,
            provider_call_id=self.provider_call_id,
            status=self.status,
            occurred_at=self.occurred_at,
            attempt_id=self.attempt_id,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            duration_seconds=self.duration_seconds,
            opted_out=self.opted_out,
            error=self.error,
        )


def encode(event: StatusEvent) -> bytes:
    return CallbackEvent.model_validate(event).model_dump_json().encode()


def decode(body: bytes) -> StatusEvent:
    """The event of a verified callback body; raises ProviderRejected for one that is not an event."""
    try:
        # orjson refuses nesting deeper than 1,024 levels with an error instead of exhausting the stack.
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProviderRejected(f"the callback body is not JSON ({error})") from None
    try:
        return CallbackEvent.model_validate(payload).to_event()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        raise ProviderRejected(f"the callback is not a status event ({problems})") from None


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def sign(key: bytes, body: bytes, now: datetime) -> dict[str, str]:
    """The headers that vouch for ``body`` as a callback sent at ``now``."""
    timestamp = str(int(now.timestamp()))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(key, timestamp, body),
    }


def verify(
    key: bytes, headers: Mapping[str, str], body: bytes, now: datetime, tolerance_seconds: float
) -> None:
    """Raise CallbackForged unless ``body`` was signed with ``key`` within the tolerance of ``now``."""
    named = {name.lower(): value for name, value in headers.items()}
    timestamp = named.get(TIMESTAMP_HEADER.lower())
    given = named.get(SIGNATURE_HEADER.lower())
    if timestamp is None or given is None:
        raise CallbackForged(f"the callback is unsigned: it needs {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        raise CallbackForged(f"the callback's {TIMESTAMP_HEADER} is not a time in Unix seconds")
    if not hmac.compare_digest(given.encode(), signature(key, timestamp, body).encode()):
        raise CallbackForged("the callback's signature does not match its body")
    if abs(now.timestamp() - int(timestamp)) > tolerance_seconds:
        raise CallbackForged(
            f"the callback is stale: signed at {timestamp}, more than {tolerance_seconds:g} seconds from now"
        )
