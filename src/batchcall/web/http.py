"""Error handlers and the body-size cap, so no input reaches the caller as a bare 500."""

import logging
import sqlite3
from typing import Any

import limits.errors
import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchcall.bounds import settings_in_effect
from batchcall.kit.errors import AppError, validation_message

log = logging.getLogger("batchcall.http")

# How long a client is asked to wait while the database or the rate limit storage cannot be reached.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
DATABASE_DOWN_ERRORS = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
)


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **details}


def describe_validation(
    exc: RequestValidationError, limit: int | None = None
) -> tuple[str, list[dict[str, str]]]:
    """One line naming the bad fields, and the fields one by one: at most ``limit`` of them (by default
    settings.max_errors_listed), the line saying how many more there were."""
    found = exc.errors()
    limit = limit or settings_in_effect().max_errors_listed
    errors = [{"field": _field_of(err), "message": validation_message(err)} for err in found[:limit]]
    message = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
    if len(found) > limit:
        message += f"; and {len(found) - limit} more"
    return message, errors


def _field_of(error: ErrorDetails) -> str:
    """The field a pydantic error is about, as the sender named it; none for a body that is not JSON, whose
    location is the character the parser stopped at."""
    if error["type"] == "json_invalid":
        return ""
    return ".".join(str(part) for part in error["loc"] if part != "body")


# What the database refuses to store, for a reason in the request: PostgreSQL refuses NUL characters in text
# and JSON, and numbers beyond its column types.
UNSTORABLE_ERRORS = (sqlalchemy.exc.DataError, psycopg.DataError)


def unstorable_message(exc: Exception) -> str:
    """The answer to a request with a value the database refused (one of UNSTORABLE_ERRORS)."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return f"A value in the request cannot be stored: {reason}"


def database_cause(exc: Exception) -> Exception:
    """The driver's own error behind SQLAlchemy's wrapper, or the error itself."""
    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else None
    return orig if orig is not None else exc


def is_database_down(exc: Exception) -> bool:
    """Whether the database, not the request, failed: no connection, a lost one, a lock not granted in time.

    SQLite reports mistakes in SQL as operational errors too, with the generic SQLITE_ERROR code; those are
    bugs, not outages. A statement past PostgreSQL's own limits fails the same way on every retry.
    """
    cause = database_cause(exc)
    if isinstance(cause, sqlite3.Error):
        return cause.sqlite_errorcode & 0xFF != sqlite3.SQLITE_ERROR
    return not isinstance(cause, psycopg.errors.ProgramLimitExceeded)


def unavailable(request: Request, what: str, cause: Exception) -> JSONResponse:
    """503 while something the server needs cannot be reached, logged in one line per failed request:
    during an outage every request fails alike, and tracebacks would bury the log."""
    reason = str(cause).strip().splitlines()[:1]
    log.warning(
        "%s unavailable on %s %s: %s: %s",
        what,
        request.method,
        request.url.path,
        type(cause).__name__,
        reason[0] if reason else "",
    )
    return JSONResponse(
        error_body("unavailable", f"The {what} cannot be reached; retry shortly"),
        status_code=503,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **jsonable_encoder(exc.details)),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        message, errors = describe_validation(exc)
        return JSONResponse(error_body("invalid", message, errors=errors), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = "payload_too_large" if exc.status_code == 413 else "http_error"
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    async def unstorable(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body("invalid", unstorable_message(exc)), status_code=422)

    for refusal in UNSTORABLE_ERRORS:
        app.add_exception_handler(refusal, unstorable)

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_down(exc):
            raise exc
        return unavailable(request, "database", database_cause(exc))

    @app.exception_handler(limits.errors.StorageError)
    async def rate_limit_storage_down(request: Request, exc: limits.errors.StorageError) -> JSONResponse:
        return unavailable(request, "rate limit storage", exc)

    for error in DATABASE_DOWN_ERRORS:
        app.add_exception_handler(error, database_down)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal", "Internal error; it has been logged"), status_code=500)


def body_too_large(cap: int) -> HTTPException:
    """The refusal of a body over ``cap`` bytes: an HTTPException, which FastAPI's body parsing lets through
    (it turns other errors into 400), answered 413 ``payload_too_large`` by the handler above."""
    return HTTPException(413, f"Request body exceeds {cap} bytes")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body of ``request``, refused as BodySizeLimit refuses once it passes ``max_bytes``: a route whose
    bodies are all small (a provider callback) holds no more than that in memory, however long the stream."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise body_too_large(max_bytes)
    return bytes(body)


# Where BodySizeLimit keeps the number of body bytes read so far, in the request's ASGI state, for the
# middleware inside it (ReleaseMemory) to read once the request is answered.
BODY_BYTES = "body_bytes"


class BodySizeLimit:
    """Refuse bodies over the cap with 413, whether or not Content-Length says so up front. File uploads
    (multipart) have a cap of their own: they are streamed to disk, not held in memory like JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        cap = self.max_upload_bytes if upload else self.max_bytes
        declared = headers.get(b"content-length")
        # A length longer than the cap's own digits is over the cap without being read as a number
        # (Python refuses to convert strings of thousands of digits).
        if (
            declared is not None
            and declared.isdigit()
            and (len(declared) > len(str(cap)) or int(declared) > cap)
        ):
            await self._refuse(send, cap)
            return
        state = scope.setdefault("state", {})
        state[BODY_BYTES] = 0

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state[BODY_BYTES] += len(message.get("body", b""))
                if state[BODY_BYTES] > cap:
                    raise body_too_large(cap)
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send: Send, cap: int) -> None:
        refusal = body_too_large(cap)
        response = JSONResponse(
            error_body("payload_too_large", refusal.detail), status_code=refusal.status_code
        )
        await send(
            {"type": "http.response.start", "status": refusal.status_code, "headers": response.raw_headers}
        )
        await send({"type": "http.response.body", "body": response.body})
