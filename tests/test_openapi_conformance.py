"""The OpenAPI document describes what the server does: schemathesis sends valid and invalid requests to
every operation and checks each answer against the document.

A valid request must be accepted, an invalid one refused, and every answer must have a documented status,
content type and body. What the document cannot say is excused only by ``EXCLUSIONS``, each with its reason.
"""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as sc
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation

from batchcall.app import create_app
from batchcall.config import Settings
from batchcall.dialects.c_batch_call import AGENT_PREFIX, public_batch_id
from batchcall.kit.clock import ManualClock
from batchcall.providers.simulated.config import SimulatedSettings
from batchcall.runtime import Runtime
from tests import routes
from tests.conftest import START, UNLIMITED
from tests.support import Tenant, add_rows, create_batch, make_tenant

EXAMPLES_PER_MODE = 5
CHECKS = (
    sc.not_a_server_error,
    sc.status_code_conformance,
    sc.response_schema_conformance,
    sc.content_type_conformance,
    sc.positive_data_acceptance,
    sc.negative_data_rejection,
)


@dataclass(frozen=True)
class Exclusion:
    """A refusal the document cannot foresee: on ``operations`` (or every one), ``check`` may fail when each
    thing the answer refuses (or, for a 2xx, each row error it reports) matches ``refusal``."""

    operations: frozenset[str] | None
    check: str
    refusal: str
    reason: str


EVERY_OPERATION = None
ACCEPTED = "positive_data_acceptance"
REJECTED = "negative_data_rejection"
PHONE_FIELDS = (
    "phone_number|number|phoneNumber|numberToCall|to_number|from_number|from_numbers|callingNumbers"
)
B_STATE = frozenset(
    f"{method} /v1/batch-calls/{{batch_id}}{action}"
    for method, action in [
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/contacts"),
        ("POST", "/schedule"),
        ("POST", "/pause"),
        ("POST", "/resume"),
    ]
)
EXCLUSIONS = (
    Exclusion(
        EVERY_OPERATION,
        ACCEPTED,
        rf"(^|[.\] ])({PHONE_FIELDS})(\.\d+)?: |^give country_code for a national number",
        "A phone number is a string in the document: a string can match any pattern and still not be a "
        "number of any numbering plan, and a national form is read with a country code given beside it",
    ),
    Exclusion(
        EVERY_OPERATION,
        ACCEPTED,
        r"cannot be stored: (unsupported Unicode escape sequence|PostgreSQL text fields cannot contain NUL)"
        r"|contains a NUL character",
        "PostgreSQL cannot store a NUL character in text or JSON, and the server refuses one there with "
        "422; a document's strings cannot leave out one character short of a pattern on every field",
    ),
    Exclusion(
        EVERY_OPERATION,
        ACCEPTED,
        r"(^|[.\] ])email: .* is not an email address",
        "An e-mail address is a string in the document; a row refused for its number lists every other "
        "fault it has too, its e-mail among them (alone, on a phone row, a bad e-mail is only a warning)",
    ),
    Exclusion(
        EVERY_OPERATION,
        ACCEPTED,
        r"missing required variable\(s\): ",
        "Which variables a row must carry is the agent's (the workspace's state), not the document's; a "
        "request none of whose rows can be called is refused whole, so that it leaves no batch behind",
    ),
    Exclusion(
        EVERY_OPERATION,
        ACCEPTED,
        r"is not an ISO 3166-1 alpha-2 country code",
        "A country code is two letters in the document; not every pair of letters is a country",
    ),
    Exclusion(
        frozenset(
            {
                "POST /v1/batches/{batch_id}/calls/upload",
                "POST /bulk-calls/upload",
                "POST /v1/batch-calls/{batch_id}/contacts",
            }
        ),
        ACCEPTED,
        r"CSV file|^columns found: ",
        "An uploaded file is binary in the document: whether it is CSV with a phone number column cannot "
        "be said in it",
    ),
    Exclusion(
        frozenset({"POST /v1/batches", "PATCH /v1/batches/{batch_id}", "PATCH /v1/batch-calls/{batch_id}"}),
        ACCEPTED,
        r"^start_time and end_time go together",
        "A calling window needs both ends or neither; the fields are optional and nullable one by one",
    ),
    Exclusion(
        frozenset({"POST /v1/batches", "PATCH /v1/batches/{batch_id}", "POST /v1/batch-calls", *B_STATE}),
        ACCEPTED,
        r"^phone_number_ids: unknown phone number id|^(agent_id|contact_folder_id): .* does not exist"
        r"|^At least one valid outbound phone number is required|^Agent .* (cannot|has no)"
        r"|^Value error, (contact_folder_id|scheduled_at) is required when",
        "Which ids exist, and whether an agent has numbers to call from, is the workspace's state; dialect B "
        "answers an unknown id in a body with 422, as its seed does, where the native API answers 404; and "
        "a folder (or a time) is required by the value of another field",
    ),
    Exclusion(
        B_STATE,
        ACCEPTED,
        r"^Cannot \w+ batch|^Batch \S+ (cannot start|has no (agent|caller id))",
        "Whether a batch may change is its state, and whether it may start is also its agent's and its "
        "numbers'; dialect B answers a wrong state with 422, as its seed does, where the native API answers "
        "409",
    ),
    Exclusion(
        frozenset({"POST /v1/provider-accounts", "PATCH /v1/provider-accounts/{account_id}"}),
        ACCEPTED,
        r"^(credentials[.:]|channels: \w+ serves |api_base_url: )",
        "An account's credentials and channels are its vendor's to say (an object of any shape in the "
        "document), and whether a base URL may be reached is the network's",
    ),
    Exclusion(
        frozenset({"POST /v1/agents", "PATCH /v1/agents/{agent_id}"}),
        ACCEPTED,
        r"^(stream_url|sip_uri|voicemail_message): a '\w+' agent needs |^stream_url: ",
        "An agent's transport needs its address, and a 'message' voicemail its message, required by the "
        "value of another field; whether a stream URL may be reached is the network's",
    ),
    Exclusion(
        frozenset({"GET /v1/unsubscribe", "POST /v1/unsubscribe"}),
        ACCEPTED,
        r"This unsubscribe link is not valid",
        "An unsubscribe token is any string in the document; only one this server signed names an address",
    ),
    Exclusion(
        frozenset({"POST /v1/email-templates", "PATCH /v1/email-templates/{template_id}"}),
        ACCEPTED,
        r"^(subject|html|text): (line \d+: |an email needs an html or a text body)",
        "Whether a part compiles is Jinja2's to say, not the document's; and a template needs an html or a "
        "text body, which on a change is also the stored template's to say",
    ),
    Exclusion(
        frozenset({"POST /v1/calls/{call_id}/result"}),
        ACCEPTED,
        r"^(disposition|callback_at): |^data: cannot be stored as JSON",
        "Which dispositions a result may carry is its agent's, how far off a callback may be is the clock's, "
        "and a JSON number beyond 64 bits cannot be stored, though the document's object holds any value",
    ),
    Exclusion(
        frozenset({"POST /api/call/createBatch"}),
        ACCEPTED,
        r"^Give callingNumbers assigned to an agent, or agentId|^The calling numbers are assigned to",
        "Without agentId the agent is the one the calling numbers are assigned to: the workspace's state",
    ),
    Exclusion(
        frozenset(
            {
                "POST /v1/batch-calls/{batch_id}/contacts",
                "POST /bulk-calls/submit",
                "POST /api/call/addCallsToBatch",
                "POST /ai-phone-calls/call-contact-bulk",
            }
        ),
        REJECTED,
        r".",
        "Rows are checked one by one, and a bad row is reported in the answer (2xx), not refused with the "
        "request, as the seeds require; the document describes a good row",
    ),
)
# Operations whose every input is a string in the path (or none at all): no request is invalid by the
# document, so there are no negative cases.
WITHOUT_INVALID_REQUESTS = frozenset(
    {
        "GET /healthz",
        "GET /metrics",
        "POST /v1/providers/{provider}/events",
        "POST /v1/providers/twilio/messages",
        "GET /batch-call/{batch_call_id}",
    }
)


def credentials(path: str, tenant: Tenant) -> dict[str, str]:
    """Each dialect's own key headers: C sends the key's two halves, D the whole key; the others Bearer."""
    if path.startswith("/batch-call"):
        return {"X-API-KEY": tenant.key_id, "X-API-SECRET": tenant.key_secret}
    if path.startswith("/api/call"):
        return {"x-api-key": tenant.api_key}
    return tenant.headers


@cache
def schema() -> Any:
    return schemathesis.openapi.from_dict(routes.openapi())


@dataclass(frozen=True)
class Server:
    client: TestClient
    tenant: Tenant
    ids: dict[str, str]


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for every operation's cases: schemathesis keeps each app it calls alive until the process
    ends, and building one with its tenant and ids per operation would cost more than the cases."""
    settings = Settings(
        database_url=database_url,
        run_dispatcher=False,
        simulated=SimulatedSettings(ledger=str(tmp_path_factory.mktemp("conformance") / "ledger.jsonl")),
        allow_private_targets=True,
        rate_limit_per_key=UNLIMITED,
        rate_limit_per_client=UNLIMITED,
        auth_failure_limit=UNLIMITED,
    )
    runtime = Runtime.from_settings(settings, ManualClock(START))
    tenant = make_tenant(runtime, f"Conformance {uuid.uuid4()}")
    with TestClient(create_app(runtime)) as client:
        yield Server(client, tenant, real_ids(client, tenant, runtime))
    runtime.engine.dispose()


def real_ids(client: TestClient, tenant: Tenant, runtime: Runtime) -> dict[str, str]:
    """Ids that exist, so generated requests also reach past the 404 of a random id."""
    agent = client.post(
        "/v1/agents", json={"name": "A", "required_variables": ["plan"]}, headers=tenant.headers
    ).json()
    number = client.post(
        "/v1/phone-numbers", json={"number": "+14155550100", "agent_id": agent["id"]}, headers=tenant.headers
    )
    batch = create_batch(client, tenant, agent_id=agent["id"])
    [call_id] = add_rows(client, tenant, batch["id"], [{"phone_number": "+14155550101", "plan": "x"}])[
        "call_ids"
    ]
    contact = client.post("/v1/contacts", json={"phone_number": "+14155550102"}, headers=tenant.headers)
    entry = client.post("/v1/dnc", json={"phone_number": "+14155550103"}, headers=tenant.headers)
    folder = client.post("/v1/contact-folders", json={"name": "F"}, headers=tenant.headers)
    endpoint = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/"}, headers=tenant.headers)
    template = client.post(
        "/v1/email-templates", json={"name": "T", "subject": "Hi", "text": "Hi"}, headers=tenant.headers
    )
    suppression = client.post(
        "/v1/email-suppressions", json={"address": "a@example.com"}, headers=tenant.headers
    )
    return {
        "agent_id": agent["id"],
        "batch_id": batch["id"],
        "batch_call_id": public_batch_id(batch["id"]),
        "call_id": call_id,
        "number_id": number.json()["id"],
        "contact_id": contact.json()["id"],
        "entry_id": entry.json()["id"],
        "folder_id": folder.json()["id"],
        "endpoint_id": endpoint.json()["id"],
        "template_id": template.json()["id"],
        "suppression_id": suppression.json()["id"],
        "provider": runtime.settings.provider,
    }


# Fields of a body that name a resource, and the real id each takes.
BODY_IDS = {
    "agent_id": "agent_id",
    "agentId": "agent_id",
    "aiSettingsTemplateId": "agent_id",
    "batchId": "batch_id",
    "contact_folder_id": "folder_id",
}


def with_real_ids(case: Any, ids: dict[str, str]) -> None:
    if case.path_parameters:
        case.path_parameters = {name: ids.get(name, value) for name, value in case.path_parameters.items()}
    if isinstance(case.body, dict):
        # Dialect C's ids carry a prefix.
        agent = AGENT_PREFIX + ids["agent_id"] if case.operation.path == "/batch-call" else ids["agent_id"]
        real = {**ids, "agent_id": agent}
        case.body = {
            key: real[BODY_IDS[key]] if key in BODY_IDS and isinstance(value, str) else value
            for key, value in case.body.items()
        }


def refusals(response: Any) -> list[str]:
    """Each thing an error answer refuses, or each row error a 2xx answer reports, whatever the envelope."""
    try:
        body = response.json()
    except ValueError:
        return [response.text]
    if not isinstance(body, dict):
        return [str(body)]
    if response.status_code < 300:
        nested = body.get("data")
        data = nested if isinstance(nested, dict) else body
        listed = data.get("errors") or data.get("failedChunks") or []
    else:
        # D's message is the status's phrase, and its errorMessage the fault.
        listed = body.get("errors") or body.get("detail") or body.get("errorMessage") or body.get("message")
    if not isinstance(listed, list):
        return str(listed).split("; ")
    return [
        f"{item['field']}: {item['message']}".removeprefix(": ")
        if isinstance(item, dict) and "field" in item
        else f"{'.'.join(map(str, item['loc']))}: {item['msg']}"
        if isinstance(item, dict) and "loc" in item
        else str(item)
        for item in listed
    ]


def excused(operation: str, failure: Failure, response: Any) -> bool:
    """Whether every refusal in the answer is one an exclusion of this operation and check names."""
    applicable = [
        exclusion.refusal
        for exclusion in EXCLUSIONS
        if (exclusion.operations is EVERY_OPERATION or operation in exclusion.operations)
        and exclusion.check in failure.checks
    ]
    found = refusals(response)
    return bool(applicable and found) and all(
        any(re.search(refusal, text, re.DOTALL) for refusal in applicable) for text in found
    )


def conform(
    operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, tenant: Tenant, ids: dict[str, str]
) -> list[str]:
    label = f"{operation.method.upper()} {operation.path}"
    headers = credentials(operation.path, tenant)
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), use_real_ids=st.booleans())
    def run(case: Any, use_real_ids: bool) -> None:
        if use_real_ids and mode is GenerationMode.POSITIVE:
            with_real_ids(case, ids)
        elif use_real_ids and case.path_parameters:
            case.path_parameters = {n: ids.get(n, v) for n, v in case.path_parameters.items()}
        response = case.call(headers=headers, app=operation.app)
        try:
            case.validate_response(response, checks=list(CHECKS), headers=headers)
        except FailureGroup as group:
            found = list(group.exceptions)
        except Failure as single:
            found = [single]
        else:
            return
        for failure in found:
            if not excused(label, failure, response):
                failures.append(
                    f"{mode.value} {failure.title}: {failure.message}\n"
                    f"  [{response.status_code}] {response.text[:300]}\n  {case.as_curl_command()[:600]}"
                )

    run()
    return failures


@pytest.mark.parametrize("label", routes.all_operations())
def test_operation_conforms(label: str, server: Server) -> None:
    method, path = label.split(" ", 1)
    operation = schema()[path][method]
    operation.app = server.client.app
    failures = []
    for mode in GenerationMode:
        if mode is GenerationMode.NEGATIVE and label in WITHOUT_INVALID_REQUESTS:
            continue
        failures += conform(operation, mode, server.tenant, server.ids)
    assert not failures, "\n\n".join(failures)


def test_the_served_document_loads(server: Server) -> None:
    """/openapi.json is valid OpenAPI (schemathesis refuses it otherwise) with every operation, and /docs
    shows it."""
    served = schemathesis.openapi.from_asgi("/openapi.json", server.client.app)
    operations = []
    for loaded in served.get_all_operations():
        if isinstance(loaded, Err):
            raise loaded.err()
        operations.append(loaded.ok())
    assert {f"{o.method.upper()} {o.path}" for o in operations} == set(routes.all_operations())
    assert server.client.get("/docs").status_code == 200
