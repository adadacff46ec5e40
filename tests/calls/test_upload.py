"""CSV upload and CSV export of a batch's calls through the API."""

import csv
import io
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from batchcall.runtime import Runtime
from tests.store import snapshot
from tests.support import Tenant, add_rows, create_batch


def upload(client: TestClient, tenant: Tenant, batch_id: str, data: bytes, **form: str) -> Any:
    return client.post(
        f"/v1/batches/{batch_id}/calls/upload",
        files={"file": ("contacts.csv", data, "text/csv")},
        data=form,
        headers=tenant.headers,
    )


TEXT = (
    "Phone Number,First Name,Last Name,Appointment,Email\n"
    "+1 (415) 555-0101,Zoë,Ångström,Dec 1,zoe@example.com\n"
    "\n"
    "not a number,Bad,Row,,\n"
    "+1 415.555.0102,José,Müller,Dec 2,jose@\n"
    "07911 123456,Nigel,Smith,Dec 3,\n"
)


@pytest.mark.parametrize(
    "data",
    [TEXT.encode(), b"\xef\xbb\xbf" + TEXT.encode(), TEXT.encode("latin-1")],
    ids=["utf-8", "utf-8-bom", "latin-1"],
)
def test_upload_in_each_encoding_keeps_good_rows_and_reports_bad_ones(
    client: TestClient, tenant: Tenant, data: bytes
) -> None:
    batch = create_batch(client, tenant)
    response = upload(client, tenant, batch["id"], data, country_code="GB")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["skipped"]) == (3, 1)
    # Row N is the spreadsheet's line N + 1: the blank line is row 2, counted and skipped.
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(3, "phone_number")]
    assert [(w["row"], w["field"]) for w in answer["warnings"]] == [(4, "email")]
    calls = client.get(f"/v1/batches/{batch['id']}/calls", headers=tenant.headers).json()["data"]
    assert [(c["to"], c["first_name"], c["last_name"]) for c in calls] == [
        ("+14155550101", "Zoë", "Ångström"),
        ("+14155550102", "José", "Müller"),
        ("+447911123456", "Nigel", "Smith"),
    ]
    assert calls[0]["variables"] == {"Appointment": "Dec 1"}
    assert calls[0]["email"] == "zoe@example.com"


@pytest.mark.parametrize(
    "header", ["phone", "phone_number", "Phone Number", "numberToCall", "to_number", "Mobile"]
)
def test_upload_understands_phone_header_aliases(client: TestClient, tenant: Tenant, header: str) -> None:
    batch = create_batch(client, tenant)
    response = upload(client, tenant, batch["id"], f"{header},plan\n4155550101,gold\n".encode())
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    [call] = client.get(f"/v1/batches/{batch['id']}/calls", headers=tenant.headers).json()["data"]
    assert (call["to"], call["variables"]) == ("+14155550101", {"plan": "gold"})


def test_a_file_without_a_phone_column_is_refused_naming_its_columns_and_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    response = upload(client, tenant, batch["id"], b"Name,Company\nAda,ACME\n")
    assert response.status_code == 422
    body = response.json()
    assert "'Name'" in body["message"]
    assert "'Company'" in body["message"]
    assert body["columns"] == ["Name", "Company"]
    assert snapshot(runtime) == before


def test_an_upload_with_a_bad_country_code_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    response = upload(client, tenant, batch["id"], b"phone\n07911123456\n", country_code="Narnia")
    assert response.status_code == 422
    assert "country_code" in response.json()["message"]
    assert snapshot(runtime) == before


def test_an_upload_without_a_file_is_refused(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    response = client.post(f"/v1/batches/{batch['id']}/calls/upload", headers=tenant.headers)
    assert response.status_code == 422
    assert "file" in response.json()["message"]


def test_upload_updates_existing_contacts_only_when_asked(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    upload(client, tenant, batch["id"], b"phone,first_name\n+14155550101,Ada\n")
    upload(client, tenant, batch["id"], b"phone,first_name\n+14155550101,Augusta\n")
    [contact] = client.get("/v1/contacts", headers=tenant.headers).json()["data"]
    assert contact["first_name"] == "Ada"
    upload(client, tenant, batch["id"], b"phone,first_name\n+14155550101,Augusta\n", update_existing="true")
    [contact] = client.get("/v1/contacts", headers=tenant.headers).json()["data"]
    assert contact["first_name"] == "Augusta"


def test_an_email_batch_uploads_a_file_of_addresses(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant, channel="email")
    response = upload(client, tenant, batch["id"], b"E-mail,Name\nada@example.com,Ada\nnope,Bob\n")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    assert answer["errors"][0]["row"] == 2


def test_export_has_one_row_per_call_in_the_order_they_were_added(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    upload(
        client,
        tenant,
        batch["id"],
        b"phone,name,plan\n+14155550101,Ada,gold\n+14155550102,Bob,\n+14155550101,Dup,\n",
    )
    response = client.get(f"/v1/batches/{batch['id']}/export", headers=tenant.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert batch["id"] in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # "row" is the row in the file that added the call, with that submission's id beside it.
    assert [(r["row"], r["to"], r["status"], r["name"]) for r in rows] == [
        ("1", "+14155550101", "queued", "Ada"),
        ("2", "+14155550102", "queued", "Bob"),
        ("3", "+14155550101", "skipped", "Dup"),
    ]
    assert len({r["submission_id"] for r in rows}) == 1
    assert "row_number" not in rows[0]
    assert rows[0]["variables"] == '{"plan":"gold"}'
    assert "duplicate of row 1" in rows[2]["skip_reason"]
    assert {"id", "from", "attempts", "outcome", "email", "metadata"} <= set(rows[0])


def test_export_of_an_empty_batch_is_just_the_header(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    response = client.get(f"/v1/batches/{batch['id']}/export", headers=tenant.headers)
    assert response.status_code == 200
    assert response.text.strip().startswith("id,submission_id,row,status")
    assert len(response.text.strip().splitlines()) == 1


def test_a_line_of_8_mb_is_refused_naming_its_row_and_the_setting_and_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    data = b"phone,note\n+14155550101,a\n+14155550102,b\n+14155550103," + b"x" * (8 << 20) + b"\n"
    response = upload(client, tenant, batch["id"], data)
    assert response.status_code == 422, response.text[:500]
    body = response.json()
    assert (
        body["message"] == "Row 3: the line is longer than 1048576 characters (BATCHCALL_MAX_CSV_LINE_CHARS)"
    )
    assert body["row"] == 3
    assert snapshot(runtime) == before


def test_a_field_over_the_cap_is_refused_naming_its_row_and_the_setting_and_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    # The blank record counts: the long field is on the file's third record, the spreadsheet's line 4.
    data = b"phone,note\n+14155550101,a\n\n+14155550102," + b"x" * 131_073 + b"\n"
    response = upload(client, tenant, batch["id"], data)
    assert response.status_code == 422, response.text[:500]
    body = response.json()
    assert body["message"] == (
        "Row 3: a field is longer than 131072 characters (BATCHCALL_MAX_CSV_FIELD_CHARS)"
    )
    assert body["row"] == 3
    assert snapshot(runtime) == before


def test_a_file_at_the_caps_set_for_the_installation_is_accepted_and_one_over_them_is_not(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    runtime.settings.max_csv_field_chars = 40
    runtime.settings.max_csv_line_chars = 80
    batch = create_batch(client, tenant)
    # 12 + 1 + 40 + 1 + 25 + 1 = 80 characters, the line break included.
    line = "+14155550101," + "n" * 40 + "," + "p" * 25 + "\n"
    assert len(line) == 80
    response = upload(client, tenant, batch["id"], ("phone,note,plan\n" + line).encode())
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    longer_field = "+14155550102," + "n" * 41 + ",p\n"
    response = upload(client, tenant, batch["id"], ("phone,note,plan\n" + longer_field).encode())
    assert response.status_code == 422
    assert "BATCHCALL_MAX_CSV_FIELD_CHARS" in response.json()["message"]
    longer_line = "+14155550103," + "n" * 40 + "," + "p" * 26 + "\n"
    response = upload(client, tenant, batch["id"], ("phone,note,plan\n" + longer_line).encode())
    assert response.status_code == 422
    assert "BATCHCALL_MAX_CSV_LINE_CHARS" in response.json()["message"]


FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def test_export_writes_formulas_as_text_and_numbers_as_they_are(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    rows = [
        {
            "phone_number": f"+1415555010{i}",
            "name": formula,
            "first_name": formula,
            "last_name": "42",
            "source_record_id": "+15551234567",
            "crm_contact_id": "-12.5",
            "variables": {"plan": formula},
            "metadata": {"crm": formula},
        }
        for i, formula in enumerate(FORMULAS, start=1)
    ]
    add_rows(client, tenant, batch["id"], rows)
    response = client.get(f"/v1/batches/{batch['id']}/export", headers=tenant.headers)
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["name"], r["first_name"]) for r in exported] == [("'" + f, "'" + f) for f in FORMULAS]
    assert {(r["last_name"], r["source_record_id"], r["crm_contact_id"], r["to"][0]) for r in exported} == {
        ("42", "+15551234567", "-12.5", "+")
    }
    # Variables and metadata are one JSON object each, a cell no spreadsheet reads as a formula.
    assert [orjson.loads(r["variables"]) for r in exported] == [{"plan": f} for f in FORMULAS]
    assert [orjson.loads(r["metadata"]) for r in exported] == [{"crm": f} for f in FORMULAS]
