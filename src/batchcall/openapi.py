"""The OpenAPI document says what the server answers: every operation lists the error statuses it can
really give, each in the envelope it is answered in (the native one, or its dialect's).

FastAPI documents a 422 with its own ``HTTPValidationError`` on every operation and nothing else; the server
answers in other shapes and with more statuses. ``install`` replaces the app's document with FastAPI's,
its error answers rewritten from the rules below.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from batchcall.batches.schemas import TIME_ZONES
from batchcall.web.http import UNAVAILABLE_RETRY_AFTER_SECONDS

Schema = dict[str, Any]
COMPONENTS = "#/components/schemas/"
RESPONSES = "#/components/responses/"

# Why an operation answers each status, natively; a dialect may answer the same fault with another status.
REASONS = {
    400: "The body cannot be parsed: not JSON, or a broken form",
    401: "No credential, or one that is not valid",
    403: "The credential may not do this: a scope it lacks, a workspace it does not own, a bad signature",
    404: "Something the request names does not exist, or is not the caller's",
    409: "The state of what the request names does not allow it",
    413: "The body is larger than the server accepts",
    422: "The input is not acceptable; the message names each field",
    429: "A rate limit is reached (per key, per client, or of failed authentications)",
    503: "The database or the rate limit storage cannot be reached",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1, "examples": [UNAVAILABLE_RETRY_AFTER_SECONDS]},
    }
}

NATIVE_ERROR: Schema = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "A code: invalid, not_found, wrong_state, ..."},
        "message": {"type": "string", "description": "What went wrong, for a person"},
        "errors": {
            "type": "array",
            "description": "A bad input's fields, at most the server's max_errors_listed",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    # Some faults carry details of their own, such as a rate limit's retry_after_seconds.
    "additionalProperties": True,
}
C_ERROR: Schema = {
    "title": "DialectCError",
    "type": "object",
    "required": ["message", "status", "error", "data"],
    "properties": {
        "message": {"type": "string"},
        "status": {"const": "error"},
        "error": {"type": "string"},
        "data": {"type": "null"},
    },
}
D_ERROR: Schema = {
    "title": "DialectDError",
    "type": "object",
    "required": ["message", "status", "code", "errorMessage", "data"],
    "properties": {
        "message": {"type": "string", "description": "The status's phrase"},
        "status": {"const": False},
        "code": {"type": "integer", "description": "The HTTP status"},
        "errorMessage": {"type": "string"},
        "data": {"type": "null"},
    },
}
E_ERROR: Schema = {
    "title": "DialectEError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "description": "A bad body's field errors as pydantic lists them, else a message",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["loc", "msg", "type"],
                        "properties": {
                            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
            ],
        }
    },
}


@dataclass(frozen=True)
class Envelope:
    """How the operations under ``prefix`` answer a fault: in which body, and with which status for each
    native one (see each dialect's ``render``)."""

    prefix: str
    schema: str
    statuses: Mapping[int, int] = field(default_factory=dict)


NATIVE = Envelope("/", "Error")
# Longest prefix first: "/batch-call" would also match "/batch-calls".
ENVELOPES = (
    Envelope("/v1/batch-calls", "Error", {409: 422}),
    Envelope("/bulk-calls", "BulkSubmitAnswer", {422: 400}),
    Envelope("/batch-call", "DialectCError"),
    Envelope("/api/call", "DialectDError", {401: 403, 409: 400, 422: 400}),
    Envelope("/ai-phone-calls", "DialectEError"),
)
ERROR_SCHEMAS = {
    "Error": NATIVE_ERROR,
    "DialectCError": C_ERROR,
    "DialectDError": D_ERROR,
    "DialectEError": E_ERROR,
}

# What the general rules in ``native_statuses`` cannot see in the document.
EXTRA_STATUSES: dict[tuple[str, str], set[int]] = {
    # A body naming an agent, a number, a contact, a batch that may not exist; a batch created to start at
    # once that cannot leave draft (no agent to speak, no caller id).
    ("POST", "/v1/phone-numbers"): {404, 409},
    ("POST", "/v1/batches"): {404, 409},
    ("POST", "/bulk-calls/submit"): {409},
    ("POST", "/bulk-calls/upload"): {409},
    ("POST", "/api/call/createBatch"): {404},
    ("POST", "/api/call/addCallsToBatch"): {404, 409},
    ("POST", "/ai-phone-calls/call-contact-bulk"): {404, 409},
    ("POST", "/batch-call"): {404},
    # State transitions, and rows added to a batch that no longer takes them.
    ("PATCH", "/v1/batches/{batch_id}"): {409},
    ("DELETE", "/v1/batches/{batch_id}"): {409},
    ("POST", "/v1/batches/{batch_id}/schedule"): {409},
    ("POST", "/v1/batches/{batch_id}/pause"): {409},
    ("POST", "/v1/batches/{batch_id}/resume"): {409},
    ("POST", "/v1/batches/{batch_id}/cancel"): {409},
    ("POST", "/v1/batches/{batch_id}/retry"): {409},
    ("POST", "/v1/batches/{batch_id}/calls"): {409},
    ("POST", "/v1/batches/{batch_id}/calls/upload"): {409},
    ("PATCH", "/v1/batch-calls/{batch_id}"): {409},
    ("DELETE", "/v1/batch-calls/{batch_id}"): {409},
    ("POST", "/v1/batch-calls/{batch_id}/contacts"): {409},
    ("POST", "/v1/batch-calls/{batch_id}/schedule"): {409},
    ("POST", "/v1/batch-calls/{batch_id}/pause"): {409},
    ("POST", "/v1/batch-calls/{batch_id}/resume"): {409},
    # A result of a call never dialled, or a different result of an attempt that has one.
    ("POST", "/v1/calls/{call_id}/result"): {409},
    # An agent's session: its token, not a key (401 when it is not genuine or has expired).
    ("GET", "/v1/agent-sessions/{token}"): {401},
    # Signed instead of keyed: a tasks link that is not valid (401) or has expired (403); a provider callback
    # unsigned or wrongly signed (403), too large (413), or not an event (422).
    ("GET", "/batch-call/{batch_call_id}/tasks"): {401, 403},
    ("POST", "/v1/providers/{provider}/events"): {403, 413, 422},
    # Twilio's TwiML request: signed by Twilio, at a URL signed for the attempt (403 when either is not).
    ("POST", "/v1/providers/twilio/twiml/{attempt_id}"): {403, 413},
    # A text a person sent to a workspace's number: signed by one of this server's Twilio accounts or 403.
    ("POST", "/v1/providers/twilio/messages"): {403, 413},
    # An email's unsubscribe link that is not one this server signed (answered as a page, by the route);
    # the one-click POST carries a small form, not a large body.
    ("GET", "/v1/unsubscribe"): {404},
    ("POST", "/v1/unsubscribe"): {404, 413},
    # Secrets cannot be sealed or opened without the right BATCHCALL_SECRET_KEYS; a channel is taken.
    ("POST", "/v1/provider-accounts"): {409},
    ("GET", "/v1/provider-accounts"): {409},
    ("GET", "/v1/provider-accounts/{account_id}"): {409},
    ("PATCH", "/v1/provider-accounts/{account_id}"): {409},
    ("POST", "/v1/provider-accounts/{account_id}/verify"): {409},
    # An email template's name is taken in the workspace.
    ("POST", "/v1/email-templates"): {409},
    ("PATCH", "/v1/email-templates/{template_id}"): {409},
}


def native_statuses(method: str, path: str, operation: Schema) -> set[int]:
    """The error statuses an operation can give, as the native API words them."""
    # Every route counts against its client's rate limit, whose storage may be out of reach like the database.
    found = {429, 503}
    if operation.get("security"):
        found |= {401, 403}
    if operation.get("parameters") or "requestBody" in operation:
        found.add(422)
    if "{" in path:
        found.add(404)
    if "requestBody" in operation:
        found |= {400, 413}
    return found | EXTRA_STATUSES.get((method, path), set())


def envelope_of(path: str) -> Envelope:
    return next((e for e in ENVELOPES if path.startswith(e.prefix)), NATIVE)


def error_responses(method: str, path: str, operation: Schema) -> dict[int, Envelope]:
    """The operation's error statuses, each with the envelope it is answered in."""
    envelope = envelope_of(path)
    # The outage handlers answer outside any route, so in the native body whatever the dialect.
    return {
        envelope.statuses.get(native, native): NATIVE if native == 503 else envelope
        for native in native_statuses(method, path, operation)
    }


def response_name(envelope: Envelope, status: int) -> str:
    return f"{envelope.schema}{status}"


def shared_response(envelope: Envelope, status: int) -> Schema:
    """An envelope's answer with a status, with every reason a fault can be answered with it."""
    why = [reason for native, reason in REASONS.items() if envelope.statuses.get(native, native) == status]
    body: Schema = {"$ref": COMPONENTS + envelope.schema}
    # A body over the cap is refused before routing when its Content-Length says so, and by the route when
    # it does not.
    if status == 413 and envelope.schema != NATIVE.schema:
        body = {"anyOf": [body, {"$ref": COMPONENTS + NATIVE.schema}]}
    return {
        "description": "; or ".join(why),
        "content": {"application/json": {"schema": body}},
        **({"headers": RETRY_AFTER} if status in (429, 503) else {}),
    }


def _share_time_zones(node: Any) -> Any:
    """Each time zone field's enum of some 600 names, replaced by a reference to one copy of it."""
    if isinstance(node, list):
        return [_share_time_zones(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("enum") == TIME_ZONES:
        rest = {k: v for k, v in node.items() if k not in ("enum", "type", "maxLength")}
        return {"$ref": COMPONENTS + "TimeZone", **rest}
    return {key: _share_time_zones(value) for key, value in node.items()}


def document(generate: Callable[[], Schema]) -> Schema:
    """FastAPI's document with the error answers the server really gives."""
    spec: Schema = _share_time_zones(generate())
    responses: dict[str, Schema] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            # A route's own error answer stays where it is a page for a person (text/html), not an envelope.
            answers = {
                status: answer
                for status, answer in operation["responses"].items()
                if not status.startswith(("4", "5")) or "text/html" in answer.get("content", {})
            }
            for status, envelope in sorted(error_responses(method.upper(), path, operation).items()):
                if str(status) in answers:
                    continue
                name = response_name(envelope, status)
                responses.setdefault(name, shared_response(envelope, status))
                answers[str(status)] = {"$ref": RESPONSES + name}
            operation["responses"] = answers
    spec["components"]["responses"] = dict(sorted(responses.items()))
    schemas = spec["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(ERROR_SCHEMAS)
    schemas["TimeZone"] = {
        "title": "TimeZone",
        "type": "string",
        "description": "An IANA time zone name",
        "enum": TIME_ZONES,
    }
    return spec


def install(app: FastAPI) -> None:
    """Serve ``document`` at /openapi.json (and to /docs), built once on first request."""
    generate = app.openapi

    def openapi() -> Schema:
        if app.openapi_schema is None:
            app.openapi_schema = document(generate)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
