"""What the dialects share: the fault a request ends in, and a route class that answers it in an envelope.

Each dialect's router uses ``envelope_route(render)``, so every error its endpoints raise, from
authentication to a wrong batch state, reaches the caller in that dialect's own shape and status.
"""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from batchcall.kit.errors import AppError
from batchcall.web.http import UNSTORABLE_ERRORS, describe_validation, unstorable_message
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Fault:
    """Why a request failed, before a dialect words it."""

    status_code: int
    code: str
    message: str
    # A bad body's field errors, at most settings.max_errors_listed, as described and in pydantic's shape.
    errors: list[dict[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    validation: list[Any] = field(default_factory=list)
    # How many field errors there were, listed or not.
    error_count: int = 0


# What a request can fail with, each answered in the dialect's envelope; a value the database refuses to store
# (UNSTORABLE_ERRORS) is the caller's input, as a field that fails validation is.
FAILURES = (AppError, RequestValidationError, ValidationError, HTTPException, *UNSTORABLE_ERRORS)


def fault_of(exc: Exception, errors_listed: int) -> Fault:
    """The fault of a request that failed with ``exc``, one of FAILURES."""
    if isinstance(exc, ValidationError):
        # A native schema built from a dialect's fields refused them: the caller's input, not a server fault.
        exc = RequestValidationError(exc.errors(include_url=False))
    if isinstance(exc, AppError):
        return Fault(exc.status_code, exc.code, exc.message, details=jsonable_encoder(exc.details))
    if isinstance(exc, RequestValidationError):
        message, errors = describe_validation(exc, errors_listed)
        found = exc.errors()
        return Fault(
            422,
            "invalid",
            message,
            errors,
            validation=jsonable_encoder(found[:errors_listed]),
            error_count=len(found),
        )
    if isinstance(exc, HTTPException):
        code = "payload_too_large" if exc.status_code == 413 else "http_error"
        return Fault(exc.status_code, code, str(exc.detail))
    return Fault(422, "invalid", unstorable_message(exc))


Render = Callable[[Fault], Response]


def envelope_route(render: Render) -> type[APIRoute]:
    """A unit-of-work route whose failures are answered by ``render`` (after the rollback)."""

    class EnvelopeRoute(UnitOfWorkRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer_in_envelope(request: Request) -> Response:
                try:
                    return await handler(request)
                except FAILURES as exc:
                    response = render(fault_of(exc, runtime_of(request).settings.max_errors_listed))
                    if isinstance(exc, AppError):
                        response.headers.update(exc.headers)
                    return response

            return answer_in_envelope

    return EnvelopeRoute


def parse_body(model: type[M], raw: bytes) -> M:
    """A JSON body read by hand (where multipart is also taken), failing as FastAPI's own parsing does."""
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None
