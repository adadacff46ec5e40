"""Dialect E, call contact bulk: the documented request, its limits, promptTags and requestMetadata."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialects.conftest import dial_until, make_agent, make_number, tag_of
from tests.support import Tenant, batch_of, callable_agent, make_tenant

PATH = "/ai-phone-calls/call-contact-bulk"


@pytest.fixture
def template_id(client: TestClient, tenant: Tenant) -> str:
    agent = make_agent(
        client, tenant, prompt_template="Remind {{first_name}} that invoice {{invoice}} is overdue"
    )
    make_number(client, tenant, "+966112345678", agent["id"])
    agent_id: str = agent["id"]
    return agent_id


def _call(client: TestClient, tenant: Tenant, body: dict[str, Any], template: bool = True) -> Any:
    """POST the body; one that names no template gets the tenant's callable agent, as E's batches need
    one (``template=False``: as it is)."""
    if template and "aiSettingsTemplateId" not in body:
        body = {**body, "aiSettingsTemplateId": callable_agent(client, tenant)}
    return client.post(PATH, json=body, headers=tenant.headers)


def test_the_documented_request_starts_every_call(
    client: TestClient, tenant: Tenant, template_id: str
) -> None:
    # The seed documents the body field by field without a literal example: this sends each field.
    body = {
        "contacts": [
            {
                "numberToCall": "0501234567",
                "firstName": "Sara",
                "lastName": "Al-Harbi",
                "metadata": {"invoiceId": "INV-1001", "amount": 250},
                "promptTags": {"invoice": "INV-1001"},
            },
            {"numberToCall": "+966551234567", "firstName": "Omar"},
        ],
        "aiSettingsTemplateId": template_id,
        "updateExisting": False,
        "countryCode": "SA",
        "batchSize": 50,
    }
    response = _call(client, tenant, body)

    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {
        "batchId",
        "totalContacts",
        "initiated",
        "skipped",
        "errors",
        "errorCount",
        "calls",
    }
    assert (answer["totalContacts"], answer["initiated"], answer["skipped"], answer["errors"]) == (
        2,
        2,
        0,
        [],
    )
    assert answer["errorCount"] == 0
    first, second = answer["calls"]
    assert set(first) == {
        "callId", "numberToCall", "firstName", "lastName", "status", "skipReason", "requestMetadata",
        "promptTags",
    }  # fmt: skip
    assert (first["numberToCall"], first["firstName"], first["lastName"]) == (
        "+966501234567",
        "Sara",
        "Al-Harbi",
    )
    assert (first["status"], first["skipReason"]) == ("queued", None)
    assert first["requestMetadata"] == {"invoiceId": "INV-1001", "amount": 250}
    assert first["promptTags"] == {"invoice": "INV-1001"}
    assert (second["numberToCall"], second["requestMetadata"], second["promptTags"]) == (
        "+966551234567",
        {},
        {},
    )

    batch = batch_of(client, tenant, answer["batchId"])
    assert (batch["status"], batch["agent_id"], batch["max_concurrent_calls"]) == ("active", template_id, 50)
    call = client.get(f"/v1/calls/{first['callId']}", headers=tenant.headers).json()
    assert (call["metadata"], call["variables"]) == (first["requestMetadata"], {"invoice": "INV-1001"})


def test_defaults(client: TestClient, runtime: Runtime, tenant: Tenant) -> None:
    answer = _call(client, tenant, {"contacts": [{"numberToCall": "+12125551000"}]}).json()
    batch = batch_of(client, tenant, answer["batchId"])
    assert batch["agent_id"] == callable_agent(client, tenant)
    assert batch["respect_recipient_timezone"] is True
    assert batch["max_concurrent_calls"] == runtime.settings.call_contact_bulk_batch_size == 10
    runtime.settings.call_contact_bulk_batch_size = 40
    answer = _call(client, tenant, {"contacts": [{"numberToCall": "+12125551001"}]}).json()
    assert batch_of(client, tenant, answer["batchId"])["max_concurrent_calls"] == 40


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"countryCode": "sa"}, "countryCode"),
        ({"countryCode": "SAU"}, "countryCode"),
        ({"countryCode": "S1"}, "countryCode"),
        ({"batchSize": 9}, "batchSize"),
        ({"batchSize": 1001}, "batchSize"),
        ({"aiSettingsTemplateId": "not-a-uuid"}, "aiSettingsTemplateId"),
        ({"contacts": []}, "contacts"),
        ({"contacts": {"numberToCall": "+12125551000"}}, "contacts"),
        ({"updateExisting": "maybe"}, "updateExisting"),
    ],
)
def test_bad_fields_are_422_in_fastapis_shape(
    client: TestClient, tenant: Tenant, fields: dict[str, Any], field: str
) -> None:
    response = _call(client, tenant, {"contacts": [{"numberToCall": "+12125551000"}], **fields})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][:2] == ["body", field]
    assert client.get("/v1/batches", headers=tenant.headers).json()["data"] == []


@pytest.mark.parametrize("size", [10, 1000])
def test_batch_size_bounds_are_inclusive(client: TestClient, tenant: Tenant, size: int) -> None:
    response = _call(client, tenant, {"contacts": [{"numberToCall": "+12125551000"}], "batchSize": size})
    assert response.status_code == 201
    assert batch_of(client, tenant, response.json()["batchId"])["max_concurrent_calls"] == size


def test_country_code_parses_local_numbers(client: TestClient, tenant: Tenant) -> None:
    answer = _call(
        client, tenant, {"contacts": [{"numberToCall": "020 7946 0018"}], "countryCode": "GB"}
    ).json()
    assert answer["calls"][0]["numberToCall"] == "+442079460018"


def test_contacts_that_cannot_be_called_make_a_207_or_a_422(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/dnc", json={"phone_number": "+12125551002"}, headers=tenant.headers)
    contacts = [{"numberToCall": "+12125551000"}, {"numberToCall": "12"}, {"numberToCall": "+12125551002"}]
    partial = _call(client, tenant, {"contacts": contacts})
    assert partial.status_code == 207
    answer = partial.json()
    assert (answer["totalContacts"], answer["initiated"], answer["skipped"]) == (3, 1, 2)
    assert answer["errors"][0].startswith("contacts[1].numberToCall: '12'")
    assert answer["errors"][1] == "contacts[2].numberToCall: +12125551002 is on the do-not-call list"
    assert [(c["numberToCall"], c["status"]) for c in answer["calls"]] == [
        ("+12125551000", "queued"),
        ("+12125551002", "skipped"),
    ]
    assert answer["calls"][1]["skipReason"] == "+12125551002 is on the do-not-call list"

    none = _call(client, tenant, {"contacts": [{"numberToCall": "12"}]})
    assert none.status_code == 422
    assert none.json()["detail"].startswith("No contact can be called: contacts[0].numberToCall")


def test_a_contact_that_breaks_the_contact_object_is_one_contact_not_called(
    client: TestClient, tenant: Tenant
) -> None:
    contacts = [
        {"firstName": "No Number"},
        {"numberToCall": "+12125551000", "firstName": "x" * 256},
        "not an object",
        {"numberToCall": "+12125551001"},
    ]
    response = _call(client, tenant, {"contacts": contacts})
    assert response.status_code == 207, response.text
    answer = response.json()
    assert (answer["initiated"], answer["skipped"], answer["errorCount"]) == (1, 3, 3)
    assert answer["errors"] == [
        "contacts[0].numberToCall: Field required",
        "contacts[1].firstName: String should have at most 255 characters",
        "contacts[2]: must be an object with numberToCall",
    ]

    none = _call(client, tenant, {"contacts": [{"firstName": "No Number"}]})
    assert none.status_code == 422
    assert none.json() == {"detail": "No contact can be called: contacts[0].numberToCall: Field required"}


def test_a_contact_with_a_nul_character_is_one_contact_not_called_on_every_database(
    client: TestClient, tenant: Tenant
) -> None:
    # PostgreSQL cannot store a NUL, SQLite can: either way it is the row's fault, not the request's.
    contacts = [
        {"numberToCall": "+12125551000", "firstName": "Ada\u0000"},
        {"numberToCall": "+12125551001", "promptTags": {"plan\u0000": "gold"}},
        {"numberToCall": "+12125551002", "metadata": {"notes": ["\u0000"]}},
        {"numberToCall": "+12125551003", "firstName": "\\u0000 is only text"},
    ]
    response = _call(client, tenant, {"contacts": contacts})
    assert response.status_code == 207, response.text
    answer = response.json()
    assert (answer["initiated"], answer["skipped"], answer["errorCount"]) == (1, 3, 3)
    nul = "contains a NUL character (\\u0000), which cannot be stored"
    assert answer["errors"] == [f"contacts[0]: {nul}", f"contacts[1]: {nul}", f"contacts[2]: {nul}"]
    assert [c["numberToCall"] for c in answer["calls"]] == ["+12125551003"]


def test_a_million_contacts_are_refused_by_their_count_before_any_is_read(
    client: TestClient, tenant: Tenant
) -> None:
    # No documented limit of its own: the native cap holds, and the answer is about the count alone.
    response = _call(client, tenant, {"contacts": [{}] * 1_000_001})
    assert response.status_code == 422
    assert response.json() == {"detail": "At most 100000 contacts per request; this one has 1000001"}
    assert client.get("/v1/batches", headers=tenant.headers).json()["data"] == []


def test_at_most_max_errors_listed_contacts_are_named_and_all_are_counted(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.max_errors_listed = 2
    contacts = [{"numberToCall": "12"} for _ in range(5)] + [{"numberToCall": "+12125551000"}]
    answer = _call(client, tenant, {"contacts": contacts}).json()
    assert (answer["initiated"], answer["skipped"], answer["errorCount"]) == (1, 5, 5)
    assert [error.split(":")[0] for error in answer["errors"]] == [
        "contacts[0].numberToCall",
        "contacts[1].numberToCall",
    ]

    none = _call(client, tenant, {"contacts": contacts[:5]})
    assert none.status_code == 422
    assert none.json()["detail"].endswith("; and 3 more")
    assert none.json()["detail"].count("contacts[") == 2


def test_contact_fields_are_bounded_like_native_rows(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"next": deep}
    contacts = [
        {"numberToCall": "+12125551000", "metadata": deep},
        {"numberToCall": "+12125551001", "promptTags": {"note": "x" * 70_000}},
        {"numberToCall": "+12125551002", "metadata": {"ok": True}},
    ]
    answer = _call(client, tenant, {"contacts": contacts}).json()
    assert answer["initiated"] == 1
    assert answer["errors"] == [
        "contacts[0].metadata: nests deeper than 32 levels (BATCHCALL_MAX_JSON_DEPTH)",
        "contacts[1].promptTags: is larger than 65536 bytes as JSON (BATCHCALL_MAX_ROW_JSON_BYTES)",
    ]


def test_update_existing_overwrites_known_contacts_only_when_asked(
    client: TestClient, tenant: Tenant
) -> None:
    client.post(
        "/v1/contacts",
        json={
            "phone_number": "+12125551000",
            "first_name": "Old",
            "last_name": "Name",
            "email": "old@example.com",
        },
        headers=tenant.headers,
    )
    contact = {
        "numberToCall": "+12125551000",
        "firstName": "New",
        "lastName": "Person",
        "email": "new@example.com",
    }

    def known() -> tuple[str, str, str]:
        found = client.get("/v1/contacts?phone=%2B12125551000", headers=tenant.headers).json()["data"][0]
        return found["first_name"], found["last_name"], found["email"]

    _call(client, tenant, {"contacts": [contact]})
    assert known() == ("Old", "Name", "old@example.com")
    _call(client, tenant, {"contacts": [contact], "updateExisting": True})
    assert known() == ("New", "Person", "new@example.com")


def test_keys_scopes_and_templates(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"contacts": [{"numberToCall": "+12125551000"}]}
    missing = client.post(PATH, json=body)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Missing API key: send 'Authorization: Bearer <key>'"}
    reader = make_tenant(runtime, "Readers", scopes=["read"])
    assert _call(client, reader, body, template=False).status_code == 403
    foreign = make_agent(client, other_tenant)["id"]
    unknown = _call(client, tenant, {**body, "aiSettingsTemplateId": foreign})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": f"Agent {foreign} not found"}


def test_the_template_must_be_an_active_ready_agent_with_a_caller_id(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"contacts": [{"numberToCall": "+12125551000"}]}
    for flags, reason in [({"active": False}, "is not active"), ({"ready": False}, "is not ready for calls")]:
        agent = make_agent(client, tenant, **flags)["id"]
        make_number(client, tenant, f"+1415555{len(reason):04d}", agent)
        refused = _call(client, tenant, {**body, "aiSettingsTemplateId": agent})
        assert refused.status_code == 422, refused.text
        assert refused.json() == {"detail": f"Agent {agent} {reason}"}
    lonely = make_agent(client, tenant)["id"]
    refused = _call(client, tenant, {**body, "aiSettingsTemplateId": lonely})
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("At least one valid outbound phone number is required")
    assert client.get("/v1/batches", headers=tenant.headers).json()["data"] == []


def test_contacts_without_a_template_are_not_called(client: TestClient, tenant: Tenant) -> None:
    # E's contacts carry no instruction of their own: without the template nothing would speak.
    refused = _call(client, tenant, {"contacts": [{"numberToCall": "+12125551000"}]}, template=False)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].endswith(
        "has no agent: give aiSettingsTemplateId (an active agent), so that its calls have someone to speak"
    )
    assert client.get("/v1/batches", headers=tenant.headers).json()["data"] == []


def test_the_dialect_has_its_own_tag(client: TestClient) -> None:
    assert tag_of(client, PATH, "post") == ["dialect E: call contact bulk"]


def test_prompt_tags_fill_the_prompt_when_the_call_is_dialled(
    client: TestClient, tenant: Tenant, template_id: str, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    body = {
        "contacts": [
            {"numberToCall": "+12125551000", "firstName": "Sara", "promptTags": {"invoice": "INV-1"}},
            {"numberToCall": "+12125550004", "firstName": "Omar", "promptTags": {"invoice": "INV-2"}},
        ],
        "aiSettingsTemplateId": template_id,
    }
    answer = _call(client, tenant, body).json()
    batch_id = answer["batchId"]

    dial_until(dispatcher, clock, lambda: batch_of(client, tenant, batch_id)["status"] == "completed")
    details = [client.get(f"/v1/calls/{c['callId']}", headers=tenant.headers).json() for c in answer["calls"]]
    assert [(d["status"], d["outcome"]) for d in details] == [
        ("completed", "completed"),
        ("voicemail", "voicemail"),
    ]
    assert [d["attempts"][0]["prompt"] for d in details] == [
        "Remind Sara that invoice INV-1 is overdue",
        "Remind Omar that invoice INV-2 is overdue",
    ]
