"""A submission as a whole, on both databases: a person is called once per batch whichever submission named
them; a dry run answers the full report and writes nothing; the rows no call was made of can be downloaded,
fixed and sent again; every call knows the submission and row that added it, and the export says so."""

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall import db
from batchcall.auth import service as auth
from batchcall.kit.clock import ManualClock
from batchcall.models import Call, CallStatus, RejectedRow
from batchcall.runtime import Runtime
from tests.store import count, set_columns, snapshot
from tests.support import Tenant, add_rows, batch_of, calls_of, create_batch

ADA = "+14155550101"
BOB = "+14155550102"
CY = "+14155550103"


def upload(
    client: TestClient, tenant: Tenant, batch_id: str, data: bytes, dry_run: bool = False, **form: str
) -> dict[str, Any]:
    response = client.post(
        f"/v1/batches/{batch_id}/calls/upload",
        params={"dry_run": "true"} if dry_run else {},
        files={"file": ("contacts.csv", data, "text/csv")},
        data=form,
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rejected_csv(client: TestClient, tenant: Tenant, url: str) -> list[dict[str, str]]:
    response = client.get(url, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


# Once per batch.


def test_a_person_with_a_call_waiting_is_skipped_by_a_later_submission_naming_the_row_of_that_call(
    client: TestClient, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant, dedup_days=0)
    first = add_rows(client, tenant, batch["id"], [{"phone_number": BOB}, {"phone_number": ADA}])
    again = add_rows(client, tenant, batch["id"], [{"phone_number": "(415) 555-0101"}, {"phone_number": CY}])
    assert (again["accepted"], again["skipped"]) == (1, 1)
    assert again["errors"] == [
        {
            "row": 1,
            "field": "phone_number",
            "message": f"duplicate: {ADA} already has a call waiting in this batch "
            f"(row 2 of an earlier submission, {first['submission_id']})",
        }
    ]
    assert [c["to"] for c in calls_of(client, tenant, batch["id"], status="queued")] == [BOB, ADA, CY]


def test_the_same_file_uploaded_twice_queues_each_person_once(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant, dedup_days=0)
    data = f"phone,name\n{ADA},Ada\n{BOB},Bob\n".encode()
    assert upload(client, tenant, batch["id"], data)["accepted"] == 2
    again = upload(client, tenant, batch["id"], data)
    assert (again["accepted"], again["skipped"]) == (0, 2)
    assert all(e["message"].startswith("duplicate: ") for e in again["errors"])
    assert batch_of(client, tenant, batch["id"])["counters"]["queued"] == 2


def test_a_person_whose_call_is_in_flight_is_a_duplicate_and_one_whose_call_ended_is_not(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = create_batch(client, tenant, dedup_days=0)
    first = add_rows(client, tenant, batch["id"], [{"phone_number": ADA}, {"phone_number": BOB}])
    ringing, ended = first["call_ids"]
    set_columns(runtime, Call, ringing, status=CallStatus.RINGING)
    set_columns(runtime, Call, ended, status=CallStatus.COMPLETED)
    again = add_rows(client, tenant, batch["id"], [{"phone_number": ADA}, {"phone_number": BOB}])
    assert again["accepted"] == 1
    [error] = again["errors"]
    assert error["row"] == 1
    assert error["message"].startswith(
        f"duplicate: {ADA} already has a call in progress in this batch (row 1 "
    )


def test_an_email_batch_is_once_per_address(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant, channel="email", dedup_days=0)
    add_rows(client, tenant, batch["id"], [{"email": "ada@example.com"}])
    again = add_rows(
        client, tenant, batch["id"], [{"email": "ada@example.com"}, {"email": "bob@example.com"}]
    )
    assert again["accepted"] == 1
    assert [(e["row"], e["field"]) for e in again["errors"]] == [(1, "email")]
    assert "ada@example.com already has a call waiting" in again["errors"][0]["message"]


def test_another_batch_may_call_the_same_person(client: TestClient, tenant: Tenant) -> None:
    first = create_batch(client, tenant, dedup_days=0)
    second = create_batch(client, tenant, dedup_days=0)
    add_rows(client, tenant, first["id"], [{"phone_number": ADA}])
    assert add_rows(client, tenant, second["id"], [{"phone_number": ADA}])["accepted"] == 1


# Dry run.


def test_a_dry_run_answers_the_full_report_and_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = create_batch(client, tenant, dedup_days=0)
    add_rows(client, tenant, batch["id"], [{"phone_number": CY}])
    rows = [
        {"phone_number": ADA, "email": "ada@", "Plan": "gold"},
        {"phone_number": "12"},
        {"phone_number": ADA},
        {"phone_number": CY},
    ]
    before, batch_before = snapshot(runtime), batch_of(client, tenant, batch["id"])
    response = client.post(
        f"/v1/batches/{batch['id']}/calls",
        params={"dry_run": "true"},
        json={"rows": rows},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    checked = response.json()
    assert snapshot(runtime) == before
    assert batch_of(client, tenant, batch["id"]) == batch_before
    assert checked["dry_run"] is True
    assert (checked["call_ids"], checked["rejected_url"]) == ([], None)
    # The same rows sent for real are answered alike, but for what was written.
    real = add_rows(client, tenant, batch["id"], rows)
    assert real["dry_run"] is False
    for key in (
        "accepted",
        "skipped",
        "error_count",
        "warnings",
        "warning_count",
        "warned",
        "mapped_columns",
    ):
        assert checked[key] == real[key], key
    assert [(e["row"], e["field"]) for e in checked["errors"]] == [
        (2, "phone_number"),
        (3, "phone_number"),
        (4, "phone_number"),
    ]
    assert (checked["accepted"], checked["skipped"], checked["warned"]) == (1, 3, 1)
    assert len(real["call_ids"]) == 1


def test_a_dry_run_of_an_upload_writes_nothing(client: TestClient, tenant: Tenant, runtime: Runtime) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    checked = upload(client, tenant, batch["id"], f"Phone;Name\n{ADA};Ada\nnope;Bob\n".encode(), dry_run=True)
    assert (checked["accepted"], checked["skipped"], checked["call_ids"]) == (1, 1, [])
    assert snapshot(runtime) == before
    assert count(runtime, RejectedRow) == 0


def test_a_dry_run_is_refused_as_the_real_request_would_be(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    assert client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers).status_code == 200
    response = client.post(
        f"/v1/batches/{batch['id']}/calls",
        params={"dry_run": "true"},
        json={"rows": [{"phone_number": ADA}]},
        headers=tenant.headers,
    )
    assert response.status_code == 409


# Rejected rows and row numbers.


def test_an_uploads_invalid_rows_download_by_the_files_own_columns_with_every_reason(
    client: TestClient, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    data = (
        "Phone Number,E-mail,Max Retries,Note\n"
        f"{ADA},ada@example.com,,fine\n"
        "\n"
        "07911 123456,bob@,many,=HYPERLINK()\n"
        f"{BOB},,,ok\n"
    ).encode()
    answer = upload(client, tenant, batch["id"], data)
    assert (answer["accepted"], answer["skipped"]) == (2, 1)
    assert answer["rejected_url"] == (
        f"/v1/batches/{batch['id']}/rejected?submission_id={answer['submission_id']}"
    )
    [rejected] = rejected_csv(client, tenant, answer["rejected_url"])
    assert list(rejected) == ["row", "reason", "Phone Number", "E-mail", "Max Retries", "Note"]
    assert rejected["row"] == "3"
    reasons = rejected["reason"].split("; ")
    assert [reason.split(":")[0] for reason in reasons] == ["phone_number", "email", "max_retries"]
    assert (rejected["Phone Number"], rejected["E-mail"], rejected["Max Retries"]) == (
        "07911 123456",
        "bob@",
        "many",
    )
    # A cell is shown as text, never run as a formula.
    assert rejected["Note"] == "'=HYPERLINK()"


def test_the_download_fixed_and_uploaded_again_is_taken(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    answer = upload(client, tenant, batch["id"], b"Phone,Plan\n07911 123456,gold\n")
    assert answer["accepted"] == 0
    response = client.get(answer["rejected_url"], headers=tenant.headers)
    fixed = response.text.replace("07911 123456", "+44 7911 123456").encode()
    again = upload(client, tenant, batch["id"], fixed)
    assert (again["accepted"], again["skipped"], again["rejected_url"]) == (1, 0, None)
    [call] = calls_of(client, tenant, batch["id"])
    # The download's own columns are not the rows' variables.
    assert (call["to"], call["variables"]) == ("+447911123456", {"Plan": "gold"})


def test_json_rows_download_with_their_variables_as_columns(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client, tenant, batch["id"], [{"phone_number": "12", "variables": {"plan": "gold"}, "vip": True}]
    )
    [rejected] = rejected_csv(client, tenant, answer["rejected_url"])
    assert {k: rejected[k] for k in ("row", "phone_number", "plan", "vip")} == {
        "row": "1",
        "phone_number": "12",
        "plan": "gold",
        "vip": "true",
    }


def test_the_download_is_narrowed_to_a_submission_and_is_the_batchs_alone(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    batch = create_batch(client, tenant)
    first = add_rows(client, tenant, batch["id"], [{"phone_number": "1"}])
    clock.advance(1)
    second = add_rows(client, tenant, batch["id"], [{"phone_number": ADA}, {"phone_number": "2"}])
    everything = rejected_csv(client, tenant, f"/v1/batches/{batch['id']}/rejected")
    assert [(r["row"], r["phone_number"]) for r in everything] == [("1", "1"), ("2", "2")]
    only = rejected_csv(client, tenant, second["rejected_url"])
    assert [(r["row"], r["phone_number"]) for r in only] == [("2", "2")]
    assert first["submission_id"] != second["submission_id"]
    # A key that may only read may download; another workspace's may not see the batch.
    with db.unit_of_work(runtime.sessions) as session:
        reader = auth.create_key(session, tenant.workspace_id, runtime.clock.now(), scopes=["read"])
    response = client.get(first["rejected_url"], headers={"Authorization": f"Bearer {reader.api_key}"})
    assert response.status_code == 200
    assert client.get(first["rejected_url"], headers=other_tenant.headers).status_code == 404


def test_each_call_keeps_its_submission_and_row_and_the_export_shows_them(
    client: TestClient, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant, dedup_days=0)
    first = add_rows(client, tenant, batch["id"], [{"phone_number": ADA}])
    second = upload(client, tenant, batch["id"], f"phone\n\n{BOB}\n{ADA}\n".encode())
    response = client.get(f"/v1/batches/{batch['id']}/export", headers=tenant.headers)
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["submission_id"], r["row"], r["to"], r["status"]) for r in exported] == [
        (first["submission_id"], "1", ADA, "queued"),
        (second["submission_id"], "2", BOB, "queued"),
        (second["submission_id"], "3", ADA, "skipped"),
    ]
    assert "(row 1 of an earlier submission" in exported[2]["skip_reason"]
    listed = calls_of(client, tenant, batch["id"])
    assert [(c["submission_id"], c["row"], c["row_number"]) for c in listed] == [
        (first["submission_id"], 1, 1),
        (second["submission_id"], 2, 2),
        (second["submission_id"], 3, 3),
    ]


# Real files.


def test_a_semicolon_separated_windows_file_with_a_mis_cased_variable_column_is_taken(
    client: TestClient, tenant: Tenant
) -> None:
    agent = client.post(
        "/v1/agents",
        json={"name": "Dunning", "prompt_template": "Invoice {{invoice}}", "required_variables": ["invoice"]},
        headers=tenant.headers,
    ).json()
    client.post(
        "/v1/phone-numbers", json={"number": "+14155550100", "agent_id": agent["id"]}, headers=tenant.headers
    )
    batch = create_batch(client, tenant, agent_id=agent["id"])
    note = "\u201cPaid\u201d \u2013 12 \u20ac"
    data = f"Phone;Country;Invoice;Note\n07911 123456;United Kingdom;A-1;{note}\n+49 30 1234567;USA;A-2;x\n"
    answer = upload(client, tenant, batch["id"], data.encode("cp1252"))
    assert (answer["accepted"], answer["warned"], answer["errors"]) == (2, 1, [])
    assert answer["mapped_columns"] == {"Invoice": "invoice"}
    [warning] = answer["warnings"]
    assert (warning["row"], warning["field"]) == (2, "country_code")
    calls = calls_of(client, tenant, batch["id"])
    assert [(c["to"], c["variables"]) for c in calls] == [
        ("+447911123456", {"invoice": "A-1", "Note": note}),
        ("+49301234567", {"invoice": "A-2", "Note": "x"}),
    ]


@pytest.mark.parametrize("country", ["GB", "GBR", "United Kingdom", "UK"])
def test_a_requests_country_may_be_a_code_or_a_name(client: TestClient, tenant: Tenant, country: str) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(client, tenant, batch["id"], [{"phone_number": "07911 123456"}], country_code=country)
    assert answer["accepted"] == 1


def test_a_request_country_that_is_none_refuses_the_request_and_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    response = client.post(
        f"/v1/batches/{batch['id']}/calls",
        json={"rows": [{"phone_number": "07911 123456"}], "country_code": "Narnia"},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("country_code: 'Narnia' is not")
    assert snapshot(runtime) == before
