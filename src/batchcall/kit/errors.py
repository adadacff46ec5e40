"""Errors that carry their HTTP status and a message a user can act on."""

from collections.abc import Iterable
from typing import Any

from pydantic_core import ErrorDetails

# Pydantic's words before the message of a validator that raised: noise to the person reading it.
_VALIDATOR_PREFIXES = ("Value error, ", "Assertion failed, ")


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        # What the answer must carry besides its body, such as Retry-After.
        self.headers: dict[str, str] = {}


class Invalid(AppError):
    """The payload is well formed but its content is not acceptable."""

    status_code = 422
    code = "invalid"

    @classmethod
    def of_fields(cls, faults: Iterable[tuple[str, str]]) -> "Invalid":
        """A 422 naming each field at fault (field, message), in the shape a body's validation errors are
        answered in."""
        listed = list(faults)
        return cls(
            "; ".join(f"{field}: {message}" for field, message in listed),
            errors=[{"field": field, "message": message} for field, message in listed],
        )


class NotFound(AppError):
    """The thing does not exist, or the caller may not see it."""

    status_code = 404
    code = "not_found"


class Conflict(AppError):
    """The thing is in a state that does not allow the request."""

    status_code = 409
    code = "wrong_state"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class RateLimited(AppError):
    """Too many requests; ``retry_after_seconds`` is when the limit lets the next one through."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_seconds: int, **details: Any) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds, **details)
        self.headers = {"Retry-After": str(retry_after_seconds)}


def validation_message(error: ErrorDetails) -> str:
    """One pydantic error in the words of the person who sent the value: a validator's own message without
    pydantic's prefix, and a body that is not JSON said so (pydantic names the character it stopped at as
    if it were a field)."""
    if error["type"] == "json_invalid":
        position = error["loc"][-1] if error["loc"] else None
        where = f" at character {position}" if isinstance(position, int) else ""
        reason = (error.get("ctx") or {}).get("error", "")
        return f"The body is not valid JSON{where}" + (f": {reason}" if reason else "")
    message = error["msg"]
    for prefix in _VALIDATOR_PREFIXES:
        message = message.removeprefix(prefix)
    return message
