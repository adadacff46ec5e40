"""Dialect A, the bulk calls JSON API: the seed's example, every documented field, default and limit."""

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall import db
from batchcall.config import Settings
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import Workspace
from batchcall.runtime import Runtime
from tests.dialects.conftest import dial_until, tag_of
from tests.support import Tenant, batch_of, calls_of, make_tenant, register_numbers

# The seed's example as written; only the host and key differ (the workspace is called "aventora").
SEED_EXAMPLE = """
{
"domain_name": "aventora",
"campaign_name": "June SMS follow-up",
"source_system": "twenty",
"source_org_id": "workspace-uuid",
"call_type": "informational",
"rows": [
{
"phone_number": "+14165550000",
"instruction": "Confirm appointment time",
"name": "Jane Doe",
"channel": "sms",
"source_record_id": "person-uuid"
}
]
}
"""
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# A's batches call from the workspace's numbers assigned to no agent.
CALLER_ID = "+12025550101"


def _calling_tenant(client: TestClient, runtime: Runtime, name: str) -> Tenant:
    tenant = make_tenant(runtime, name)
    register_numbers(client, tenant, CALLER_ID)
    return tenant


@pytest.fixture
def tenant(client: TestClient, runtime: Runtime) -> Tenant:
    return _calling_tenant(client, runtime, "Acme")


@pytest.fixture
def aventora(client: TestClient, runtime: Runtime) -> Tenant:
    return _calling_tenant(client, runtime, "Aventora")


def _submit(client: TestClient, tenant: Tenant, rows: list[Any], **fields: Any) -> Any:
    body = {"domain_name": tenant.slug, "rows": rows, **fields}
    return client.post("/bulk-calls/submit", json=body, headers=tenant.headers)


def _row(phone: str, **fields: Any) -> dict[str, Any]:
    return {"phone_number": phone, "instruction": "Confirm appointment time", **fields}


def test_the_seed_example_answers_as_documented(client: TestClient, aventora: Tenant) -> None:
    response = client.post("/bulk-calls/submit", json=json.loads(SEED_EXAMPLE), headers=aventora.headers)

    assert response.status_code == 200, response.text
    answer = response.json()
    # The seed's envelope, and how many errors there were (the errors listed stop at max_errors_listed).
    assert set(answer) == {
        "success", "batch_id", "queued_calls", "skipped_calls", "errors", "error_count", "message"
    }  # fmt: skip
    assert answer["success"] is True
    assert UUID.match(answer["batch_id"])
    assert answer["queued_calls"] == 1
    assert answer["skipped_calls"] == 0
    assert (answer["errors"], answer["error_count"]) == ([], 0)
    assert answer["message"] == "Batch created with 1 calls. Processing will start shortly."

    batch = batch_of(client, aventora, answer["batch_id"])
    assert batch["status"] == "active"
    assert batch["file_name"] == "June SMS follow-up"
    assert (batch["source_system"], batch["source_org_id"]) == ("twenty", "workspace-uuid")
    assert (batch["call_type"], batch["language"], batch["source_object"]) == (
        "informational",
        "en",
        "person",
    )
    [call] = calls_of(client, aventora, answer["batch_id"])
    assert (call["to"], call["channel"], call["name"]) == ("+14165550000", "sms", "Jane Doe")
    assert (call["instruction"], call["source_record_id"]) == ("Confirm appointment time", "person-uuid")


def test_campaign_fields_have_the_documented_defaults(client: TestClient, tenant: Tenant) -> None:
    answer = _submit(client, tenant, [_row("+14165550001")]).json()
    batch = batch_of(client, tenant, answer["batch_id"])
    assert batch["call_type"] == "informational"
    assert batch["language"] == "en"
    assert batch["source_object"] == "person"
    assert batch["file_name"] is None
    assert batch["max_calls_per_second"] is None

    chosen = _submit(
        client, tenant, [_row("+14165550002")], call_type="sales", language="fr", source_object="lead"
    ).json()
    batch = batch_of(client, tenant, chosen["batch_id"])
    assert (batch["call_type"], batch["language"], batch["source_object"]) == ("sales", "fr", "lead")


def test_every_row_field_reaches_the_call(client: TestClient, tenant: Tenant) -> None:
    row = _row(
        "416 555 0003",
        name="Jane Doe",
        channel="phone",
        call_type="reminder",
        scheduled_time="2026-12-01 10:30",
        user_phone_number="+14165559999",
        email_template_name="plain",
        email_subject="Your visit",
        email_template_id="tpl-1",
        email_template_params={"day": "Tuesday"},
        source_record_id="person-1",
        crm_contact_id="crm-1",
        unit="4B",
    )
    answer = _submit(client, tenant, [row]).json()
    assert answer["queued_calls"] == 1, answer
    [call] = calls_of(client, tenant, answer["batch_id"])
    assert call["to"] == "+14165550003"
    assert call["call_type"] == "reminder"
    assert call["scheduled_time"] == "2026-12-01T10:30:00Z"
    assert call["status"] == "scheduled"
    assert (call["source_record_id"], call["crm_contact_id"]) == ("person-1", "crm-1")
    assert call["variables"] == {"unit": "4B"}


def test_email_rows_take_email_or_email_address(client: TestClient, tenant: Tenant) -> None:
    rows = [
        {"channel": "email", "email": "jane@example.com", "instruction": "Send the invoice"},
        {"channel": "email", "email_address": "john@example.com", "instruction": "Send the invoice"},
        {"channel": "email", "instruction": "Send the invoice"},
    ]
    answer = _submit(client, tenant, rows).json()
    assert (answer["queued_calls"], answer["skipped_calls"]) == (2, 1)
    assert answer["errors"] == ["Row 3: email: is required for channel email"]
    emails = sorted(c["email"] for c in calls_of(client, tenant, answer["batch_id"]))
    assert emails == ["jane@example.com", "john@example.com"]


def test_bad_rows_are_skipped_as_row_n_strings(client: TestClient, tenant: Tenant) -> None:
    rows = [
        _row("+14165550004"),
        {"phone_number": "+14165550005"},
        _row("not a number"),
        _row("+14165550004"),
        "not an object",
    ]
    answer = _submit(client, tenant, rows).json()
    assert answer["success"] is True
    assert (answer["queued_calls"], answer["skipped_calls"]) == (1, 4)
    assert answer["errors"][0] == "Row 2: instruction: is required"
    assert answer["errors"][1].startswith("Row 3: phone_number: 'not a number'")
    assert answer["errors"][2] == "Row 4: phone_number: duplicate of row 1 in this submission"
    assert answer["errors"][3] == "Row 5: row: must be an object with fields"
    assert answer["message"] == "Batch created with 1 calls. Processing will start shortly."


def test_at_most_1000_rows_per_submit(client: TestClient, tenant: Tenant) -> None:
    rows = [_row(f"+1416555{i:04d}") for i in range(1001)]
    refused = _submit(client, tenant, rows)
    assert refused.status_code == 400
    assert refused.json()["success"] is False
    assert refused.json()["message"] == "At most 1000 rows per submit; this one has 1001"
    assert client.get("/bulk-calls/batches", headers=tenant.headers).json()["batches"] == []

    accepted = _submit(client, tenant, rows[:1000])
    assert accepted.status_code == 200
    assert accepted.json()["queued_calls"] == 1000


def test_at_most_max_errors_listed_rows_are_named_and_all_are_counted(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.max_errors_listed = 2
    rows = [_row("12") for _ in range(4)] + [
        _row("+14165550009", instruction="x" * 20_001),
        _row("+14165550010"),
    ]
    answer = _submit(client, tenant, rows).json()
    assert (answer["queued_calls"], answer["skipped_calls"], answer["error_count"]) == (1, 5, 5)
    assert [error.split(":")[0] for error in answer["errors"]] == ["Row 1", "Row 2"]

    runtime.settings.max_errors_listed = 10
    answer = _submit(client, tenant, rows).json()
    assert (
        answer["errors"][4]
        == "Row 5: instruction: is longer than 20000 characters (BATCHCALL_MAX_INSTRUCTION_CHARS)"
    )


def test_bad_requests_answer_400_in_the_envelope(client: TestClient, tenant: Tenant) -> None:
    for body in (
        {"rows": [_row("+14165550006")]},
        {"domain_name": tenant.slug, "rows": []},
        {"domain_name": 1},
    ):
        response = client.post("/bulk-calls/submit", json=body, headers=tenant.headers)
        assert response.status_code == 400, body
        answer = response.json()
        assert answer["success"] is False
        assert (answer["batch_id"], answer["queued_calls"], answer["skipped_calls"]) == (None, 0, 0)
        assert answer["errors"]
    malformed = client.post(
        "/bulk-calls/submit", content=b"{", headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400


def test_the_key_needs_call_management_and_its_own_domain(
    client: TestClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert _submit(client, tenant, [_row("+14165550007")]).status_code == 200
    missing = client.post(
        "/bulk-calls/submit", json={"domain_name": tenant.slug, "rows": [_row("+14165550007")]}
    )
    assert missing.status_code == 401
    assert missing.json()["success"] is False

    reader = make_tenant(runtime, "Readers", scopes=["read"])
    refused = _submit(client, reader, [_row("+14165550008")])
    assert refused.status_code == 403
    assert refused.json()["message"] == "This API key lacks the 'call_management' scope"
    assert client.get("/bulk-calls/batches", headers=reader.headers).status_code == 403

    foreign = client.post(
        "/bulk-calls/submit",
        json={"domain_name": other_tenant.slug, "rows": [_row("+14165550009")]},
        headers=tenant.headers,
    )
    assert foreign.status_code == 403
    assert foreign.json()["message"] == f"This API key does not belong to domain '{other_tenant.slug}'"
    assert client.get("/bulk-calls/batches", headers=other_tenant.headers).json()["batches"] == []


def test_customer_dedup_days_applies_to_bulk_rows(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    with db.unit_of_work(runtime.sessions) as session:
        workspace = session.get(Workspace, tenant.workspace_id)
        assert workspace is not None
        workspace.customer_dedup_days = 30
    assert _submit(client, tenant, [_row("+14165550010")]).json()["queued_calls"] == 1

    again = _submit(client, tenant, [_row("+14165550010"), _row("+14165550011")]).json()
    assert (again["queued_calls"], again["skipped_calls"]) == (1, 1)
    assert again["errors"] == ["Row 1: phone_number: +14165550010 was contacted within the last 30 day(s)"]
    assert batch_of(client, tenant, again["batch_id"])["dedup_days"] == 30


def test_bulk_call_rate_limit_is_the_default_calls_per_second(
    client: TestClient, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULK_CALL_RATE_LIMIT", "2.5")
    assert Settings().bulk_call_rate_limit == 2.5
    runtime.settings.bulk_call_rate_limit = 2.5
    answer = _submit(client, tenant, [_row("+14165550012")]).json()
    assert batch_of(client, tenant, answer["batch_id"])["max_calls_per_second"] == 2.5


def test_upload_takes_a_csv_with_the_campaign_as_form_fields(client: TestClient, tenant: Tenant) -> None:
    csv = (
        "Phone Number,Instruction,Name,Email Address,Channel,plan\n"
        "+14165550013,Confirm appointment time,Jane Doe,,sms,gold\n"
        ",Send the invoice,John Roe,john@example.com,email,\n"
        "+14165550014,,No Instruction,,,\n"
    )
    form = {"domain_name": tenant.slug, "source_system": "followupboss", "language": "es"}
    response = client.post(
        "/bulk-calls/upload", files={"file": ("june.csv", csv.encode())}, data=form, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["success"], answer["queued_calls"], answer["skipped_calls"]) == (True, 2, 1)
    assert answer["errors"] == ["Row 3: instruction: is required"]
    batch = batch_of(client, tenant, answer["batch_id"])
    assert (batch["file_name"], batch["source_system"], batch["language"]) == (
        "june.csv",
        "followupboss",
        "es",
    )
    calls = calls_of(client, tenant, answer["batch_id"])
    assert [(c["channel"], c["to"], c["email"]) for c in calls] == [
        ("sms", "+14165550013", None),
        ("email", None, "john@example.com"),
    ]
    assert calls[0]["variables"] == {"plan": "gold"}

    named = client.post(
        "/bulk-calls/upload",
        files={"file": ("june.csv", csv.encode())},
        data={**form, "campaign_name": "June"},
        headers=tenant.headers,
    ).json()
    assert batch_of(client, tenant, named["batch_id"])["file_name"] == "June"


def test_upload_refusals_write_nothing(client: TestClient, tenant: Tenant) -> None:
    no_phone = client.post(
        "/bulk-calls/upload",
        files={"file": ("x.csv", b"first,last\nJane,Doe\n")},
        data={"domain_name": tenant.slug},
        headers=tenant.headers,
    )
    assert no_phone.status_code == 400
    assert no_phone.json()["message"] == (
        "The CSV file has no phone number or email column; columns found: 'first', 'last'"
    )
    no_domain = client.post(
        "/bulk-calls/upload", files={"file": ("x.csv", b"phone\n+14165550015\n")}, headers=tenant.headers
    )
    assert no_domain.status_code == 400
    assert no_domain.json()["errors"] == ["domain_name: Field required"]
    assert client.get("/bulk-calls/batches", headers=tenant.headers).json()["batches"] == []


def test_batch_status_lists_and_reads_batches(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = _submit(client, tenant, [_row("+14165550016")], campaign_name="First").json()["batch_id"]
    second = _submit(client, tenant, [_row("+14165550017"), _row("bad")], campaign_name="Second").json()[
        "batch_id"
    ]

    listed = client.get("/bulk-calls/batches", headers=tenant.headers).json()
    assert listed["success"] is True
    assert {b["batch_id"] for b in listed["batches"]} == {first, second}
    assert listed["pagination"] == {"total": 2, "limit": 50, "offset": 0}
    page = client.get("/bulk-calls/batches?limit=1&offset=1", headers=tenant.headers).json()
    assert len(page["batches"]) == 1
    assert client.get("/bulk-calls/batches?limit=101", headers=tenant.headers).status_code == 400

    detail = client.get(f"/bulk-calls/batches/{second}", headers=tenant.headers).json()
    assert detail["success"] is True
    batch = detail["batch"]
    assert (batch["batch_id"], batch["file_name"], batch["status"]) == (second, "Second", "active")
    assert (batch["total_calls"], batch["queued_calls"], batch["skipped_calls"]) == (1, 1, 0)

    foreign = client.get(f"/bulk-calls/batches/{second}", headers=other_tenant.headers)
    assert foreign.status_code == 404
    assert foreign.json()["success"] is False
    assert client.get("/bulk-calls/batches/nope", headers=tenant.headers).status_code == 404


def test_the_dialect_has_its_own_tag(client: TestClient) -> None:
    for path, method in [
        ("/bulk-calls/submit", "post"),
        ("/bulk-calls/upload", "post"),
        ("/bulk-calls/batches", "get"),
        ("/bulk-calls/batches/{batch_id}", "get"),
    ]:
        assert tag_of(client, path, method) == ["dialect A: bulk calls"]


def test_submitted_rows_are_dialled_and_reported_finished(
    client: TestClient, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    rows = [_row("+12125551000"), _row("+12125550001"), _row("+12125551002", channel="sms")]
    batch_id = _submit(client, tenant, rows).json()["batch_id"]

    def finished() -> bool:
        batch = client.get(f"/bulk-calls/batches/{batch_id}", headers=tenant.headers).json()["batch"]
        return bool(batch["status"] == "completed")

    dial_until(dispatcher, clock, finished)
    batch = client.get(f"/bulk-calls/batches/{batch_id}", headers=tenant.headers).json()["batch"]
    assert batch["status"] == "completed"
    assert (batch["total_calls"], batch["completed_calls"], batch["busy_calls"]) == (3, 2, 1)
    assert batch["queued_calls"] == batch["in_progress_calls"] == 0
    assert batch["completed_at"] is not None
    ledger = [json.loads(line) for line in open(runtime.settings.simulated.ledger)]
    assert sorted(entry["to"] for entry in ledger) == ["+12125550001", "+12125551000", "+12125551002"]
