"""Dialect E, call contact bulk (seeds/E-call-contact-bulk.txt).

``POST /ai-phone-calls/call-contact-bulk`` with a Bearer key starts one call per contact at once: a batch
whose agent is ``aiSettingsTemplateId`` and whose concurrency is ``batchSize``. ``promptTags`` fill the
agent's ``{{key}}`` placeholders when each call starts; ``metadata`` stays on the call and is reported as
``requestMetadata``. 201 when every contact is called, 207 when some could not be, 422 when none could;
errors come as FastAPI's ``{"detail": ...}``. The seed documents no limit on ``contacts``: the native one
(``settings.max_rows_per_request``) applies.
"""

from itertools import islice
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, ValidationError, WithJsonSchema
from sqlalchemy.orm import Session

from batchcall.auth.dependencies import DbSession
from batchcall.batches import service as batches
from batchcall.batches.schemas import BatchCreate
from batchcall.calls import ingestion
from batchcall.calls.ingestion import IngestOptions
from batchcall.dialects.auth import BearerWriter
from batchcall.dialects.routing import Fault, envelope_route
from batchcall.ingest.rows import RowError, RowWording
from batchcall.kit.errors import Invalid
from batchcall.kit.schema import Camel
from batchcall.web.routing import runtime_of

TAG = "dialect E: call contact bulk"
ANSWER_PAGE = 2_000
# How E names its contacts and their fields, for the messages about contacts that were not called.
CONTACTS = RowWording(
    fields={
        "phone_number": "numberToCall",
        "first_name": "firstName",
        "last_name": "lastName",
        "variables": "promptTags",
    },
    array="contacts",
    rows="contacts",
)


# E's contacts carry no instruction, so its batches need the template (the agent); E has no caller-id
# field: the template's numbers are its caller ids.
STARTING = batches.Starting(agent_field="aiSettingsTemplateId", caller_field=None)


class ContactIn(Camel):
    number_to_call: str = Field(min_length=1, max_length=64, description="Phone number to call")
    first_name: str | None = Field(default=None, max_length=255)
    last_name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(
        default=None, max_length=320, description="Updated on a known contact with updateExisting"
    )
    metadata: dict[str, Any] | None = Field(
        default=None, description="Stored on the call, reported as requestMetadata"
    )
    prompt_tags: dict[str, Any] | None = Field(
        default=None, description="Values for the {{key}} placeholders of the agent's prompt"
    )


class CallContactBulk(Camel):
    # Counted before any is read, then each is checked on its own, so a bad contact is reported, not fatal.
    contacts: Annotated[
        list[Any], WithJsonSchema({"type": "array", "items": ContactIn.model_json_schema(), "minItems": 1})
    ] = Field(min_length=1)
    ai_settings_template_id: UUID | None = Field(default=None, description="The agent (AI settings template)")
    update_existing: bool = Field(default=False, description="Update firstName, lastName and email if known")
    country_code: str | None = Field(
        default=None, min_length=2, max_length=2, pattern=r"^[A-Z]{2}$", description="To parse local numbers"
    )
    batch_size: int | None = Field(
        default=None, ge=10, le=1000, description="Contacts processed at once (default: the server's)"
    )


class CallOut(Camel):
    call_id: str
    number_to_call: str | None
    first_name: str | None
    last_name: str | None
    status: str
    skip_reason: str | None
    request_metadata: dict[str, Any]
    prompt_tags: dict[str, Any]


class CallsStarted(Camel):
    batch_id: str
    total_contacts: int
    initiated: int
    skipped: int
    errors: list[str] = Field(
        description="The first contacts not called, at most the server's max_errors_listed"
    )
    error_count: int = Field(description="How many contacts were not called, listed in errors or not")
    calls: list[CallOut]


def render(fault: Fault) -> JSONResponse:
    """FastAPI's own error shape: the list of field errors for a bad body, else a message."""
    detail: Any = fault.validation or fault.message
    return JSONResponse({"detail": detail}, status_code=fault.status_code)


router = APIRouter(prefix="/ai-phone-calls", tags=[TAG], route_class=envelope_route(render))


def _native_row(number: int, raw: Any) -> Any:
    """One contact as a native row, or the reason it is not one."""
    if not isinstance(raw, dict):
        return RowError(number, "row", "must be an object with numberToCall")
    try:
        contact = ContactIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        return RowError(number, str(first["loc"][0]) if first["loc"] else "row", first["msg"])
    return {
        "phone_number": contact.number_to_call,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "metadata": contact.metadata or {},
        "variables": contact.prompt_tags or {},
    }


@router.post(
    "/call-contact-bulk",
    status_code=201,
    response_model=CallsStarted,
    responses={207: {"model": CallsStarted}},
)
def call_contact_bulk(
    request: Request, body: CallContactBulk, principal: BearerWriter, session: DbSession
) -> Response:
    """Call every contact now; one that cannot be called (bad number, do-not-call list) is reported. The
    template must be an active, ready agent with a caller id (409 otherwise)."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    settings = BatchCreate(
        name=f"Call contact bulk {now:%Y-%m-%d %H:%M:%S}",
        agent_id=str(body.ai_settings_template_id) if body.ai_settings_template_id else None,
        max_concurrent_calls=body.batch_size or runtime.settings.call_contact_bulk_batch_size,
        schedule="draft",
    )
    batch = batches.create(session, principal.workspace_id, settings, now, dialect="e")
    rows = ((number, _native_row(number, raw)) for number, raw in enumerate(body.contacts, start=1))
    options = IngestOptions.of(runtime.settings, body.country_code, body.update_existing, wording=CONTACTS)
    count = len(body.contacts)
    result = ingestion.submit(session, principal.workspace_id, batch.id, rows, now, options, count)
    if result.accepted == 0:
        raise Invalid("No contact can be called: " + result.errors.summary(CONTACTS))
    batches.schedule(session, principal.workspace_id, batch.id, now, STARTING)
    started = CallsStarted(
        batch_id=batch.id,
        total_contacts=count,
        initiated=result.accepted,
        skipped=result.skipped,
        errors=[error.as_text(CONTACTS) for error in result.errors],
        error_count=result.errors.count,
        calls=[],
    )
    answer = {**started.model_dump(mode="json", by_alias=True), "calls": _calls_json(session, batch.id)}
    return Response(orjson.dumps(answer), 201 if result.skipped == 0 else 207, media_type="application/json")


def _calls_json(session: Session, batch_id: str) -> orjson.Fragment:
    """The batch's calls as one JSON array, written a page at a time: at E's cap of 100,000 contacts,
    the calls as models and then as dicts would cost many times the answer itself."""
    pages: list[bytes] = []
    found = ingestion.iter_calls(session, batch_id)
    while page := list(islice(found, ANSWER_PAGE)):
        outs = [
            CallOut(
                call_id=call.id,
                number_to_call=call.to,
                first_name=call.first_name,
                last_name=call.last_name,
                status=call.status,
                skip_reason=call.skip_reason,
                request_metadata=call.metadata_,
                prompt_tags=call.variables,
            ).model_dump(mode="json", by_alias=True)
            for call in page
        ]
        pages.append(orjson.dumps(outs)[1:-1])
    return orjson.Fragment(b"[" + b",".join(pages) + b"]")
