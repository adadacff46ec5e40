"""A CRM export as real ones come, on both databases: 2,000 records, semicolon-separated (European Excel),
Windows-1252 bytes behind a UTF-8 BOM, smart quotes and euro signs, notes with quoted line breaks and
semicolons, national and international numbers, countries written out (USA, UK, United States, India,
Deutschland), the agent's required variable in a column cased its own way (``Invoice``), bad optional
e-mails, a column the rows forgot, duplicates inside the file and against an earlier upload.

The file is made here, the same every run (seeded), so every count below is known from how it is made.
Record i (1 to 2,000) is the file's row i, the spreadsheet's line i + 1; its kind is i % 10, with every
hundredth record blank:

  1  US national number, Country USA                        accepted
  2  US +1 number, Country United States                    accepted; 2, 12 ... 492 skipped (earlier upload)
  3  UK +44 number, Country UK                              accepted
  4  UK +44 number, Country USA                             accepted, warned (the number's country wins)
  5  Indian +91 number, Country India                       accepted
  6  German national number, Country Deutschland            accepted
  7  US national number, a bad e-mail                       accepted, warned (the e-mail left out)
  8  '12345' and no invoice                                 rejected, two errors
  9  the number of record i - 8 again                       skipped (duplicate in this file)
  0  UK national number, Country United Kingdom             accepted; every hundredth record blank
"""

import csv
import io
import random
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.runtime import Runtime
from tests.support import Tenant, add_rows, calls_of, create_batch, register_numbers

RECORDS = 2_000
HEADER = ["Phone", "First Name", "Last Name", "Email", "Country", "Invoice", "Amount", "Notes"]
FIRST_NAMES = ["Zoë", "José", "Ånne", "Chloé", "François", "Jürgen", "Siobhán", "Ada", "Bob", "Renée"]
LAST_NAMES = ["Müller", "Ångström", "O\u2019Brien", "Brontë", "Smith", "García", "Núñez", "Lefèvre"]
NOTES = [
    "“Prefers mornings”",
    "Paid 12,50 € \u2013 thanks",
    "Call back; ask for the manager",
    "Two lines:\nfirst, then second",
    "",
]
# Kinds of record, by i % 10, whose numbers are taken and so are called.
TAKEN = {0, 1, 2, 3, 4, 5, 6, 7}


def us_national(i: int) -> str:
    return f"(212) 555-{1000 + i:04d}"


def number_of(i: int) -> str:
    """Record i's number as the CRM wrote it."""
    kind = i % 10
    if kind in (1, 7):
        return us_national(i)
    if kind == 2:
        return f"+1 212-555-{1000 + i:04d}"
    if kind in (3, 4):
        return f"+44 7911 {100000 + i:06d}"
    if kind == 5:
        return f"+91 98765 {10000 + i:05d}"
    if kind == 6:
        return f"030 {2000000 + i:07d}"
    if kind == 8:
        return "12345"
    if kind == 9:
        return us_national(i - 8)
    return f"07911 {700000 + i:06d}"


COUNTRY = {1: "USA", 2: "United States", 3: "UK", 4: "USA", 5: "India", 6: "Deutschland", 9: "USA"}


def records(rng: random.Random) -> list[list[str]]:
    made = []
    for i in range(1, RECORDS + 1):
        if i % 100 == 0:
            made.append([""] * len(HEADER))
            continue
        kind = i % 10
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.lower()}@" if kind == 7 else rng.choice(["", f"c{i}@example.com"])
        country = COUNTRY.get(kind, "United Kingdom" if kind == 0 else "")
        invoice = "" if kind == 8 else f"INV-{i:05d}"
        amount = f"{rng.randint(1, 9999)},{rng.randint(0, 99):02d} €"
        made.append([number_of(i), first, last, email, country, invoice, amount, rng.choice(NOTES)])
    return made


def messy_export(seed: int = 20261123) -> bytes:
    """The export as its bytes: a UTF-8 BOM, then Windows-1252 text separated by semicolons."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(records(random.Random(seed)))
    return b"\xef\xbb\xbf" + text.getvalue().encode("cp1252")


def upload(client: TestClient, tenant: Tenant, batch_id: str, data: bytes) -> dict[str, Any]:
    response = client.post(
        f"/v1/batches/{batch_id}/calls/upload",
        files={"file": ("crm-export.csv", data, "text/csv")},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def batch(client: TestClient, tenant: Tenant, runtime: Runtime) -> dict[str, Any]:
    # Every error and warning listed, to look each up by its row.
    runtime.settings.max_errors_listed = 1_000
    agent = client.post(
        "/v1/agents",
        json={
            "name": "Dunning",
            "prompt_template": "Hello {{first_name}}, invoice {{invoice}} of {{amount}} is due.",
            "required_variables": ["invoice"],
        },
        headers=tenant.headers,
    ).json()
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    return create_batch(client, tenant, agent_id=agent["id"], dedup_days=0)


def test_the_generated_export_is_what_it_says() -> None:
    data = messy_export()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data == messy_export()
    with pytest.raises(UnicodeDecodeError):
        data[3:].decode("utf-8")
    text = data[3:].decode("cp1252")
    assert "12,50 €" in text
    assert "“Prefers mornings”" in text
    assert '"Two lines:\nfirst, then second"' in text
    assert '"Call back; ask for the manager"' in text
    assert len(list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))) == RECORDS + 1


def test_a_messy_crm_export_is_taken_as_its_user_meant_it(
    client: TestClient, tenant: Tenant, batch: dict[str, Any]
) -> None:
    # An earlier upload already queued the people of records 2, 12 ... 492.
    earlier = add_rows(
        client,
        tenant,
        batch["id"],
        [{"phone_number": number_of(i), "invoice": "x"} for i in range(2, 500, 10)],
    )
    assert earlier["accepted"] == 50

    answer = upload(client, tenant, batch["id"], messy_export())

    assert (answer["accepted"], answer["skipped"], answer["warned"]) == (1530, 450, 400)
    assert (answer["error_count"], answer["warning_count"]) == (650, 400)
    assert answer["mapped_columns"] == {"Invoice": "invoice", "Amount": "amount"}
    errors = {(e["row"], e["field"]): e["message"] for e in answer["errors"]}
    warnings = {(w["row"], w["field"]): w["message"] for w in answer["warnings"]}
    # Row N is record N: the blank records 100, 200 ... count.
    assert errors[(8, "phone_number")].startswith("'12345' is not a valid phone number: give it with +")
    assert errors[(8, "variables")] == "missing required variable(s): invoice"
    assert errors[(9, "phone_number")] == "duplicate of row 1 in this submission"
    assert errors[(2, "phone_number")] == (
        "duplicate: +12125551002 already has a call waiting in this batch "
        f"(row 1 of an earlier submission, {earlier['submission_id']})"
    )
    assert (502, "phone_number") not in errors
    assert warnings[(4, "country_code")] == (
        "United States is not the country of +447911100004 (United Kingdom); the number's own country is used"
    )
    assert warnings[(7, "email")].endswith("is not an email address; left out")

    calls = {c["to"]: c for c in calls_of(client, tenant, batch["id"], status="queued")}
    # 1,000 at most are listed; these are among the first.
    assert calls["+12125551001"]["variables"]["invoice"] == "INV-00001"
    assert calls["+447911100003"]["last_name"]
    assert "+919876510005" in calls
    assert calls["+49302000006"]["variables"]["amount"].endswith(" €")
    assert calls["+12125551007"]["email"] is None
    assert "+447911700010" in calls

    # The rejected rows, fixed in the download and uploaded again, are taken.
    response = client.get(answer["rejected_url"], headers=tenant.headers)
    assert response.status_code == 200
    rejected = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rejected) == 200
    assert list(rejected[0])[:3] == ["row", "reason", "Phone"]
    assert (rejected[0]["row"], rejected[0]["Phone"], rejected[0]["Invoice"]) == ("8", "12345", "")
    assert rejected[0]["reason"].startswith("phone_number: '12345' is not a valid phone number")
    for record in rejected:
        record["Phone"] = f"+1 415 555 {int(record['row']):04d}"
        record["Invoice"] = f"FIX-{record['row']}"
    fixed = io.StringIO()
    writer = csv.DictWriter(fixed, fieldnames=list(rejected[0]))
    writer.writeheader()
    writer.writerows(rejected)
    again = upload(client, tenant, batch["id"], fixed.getvalue().encode())
    assert (again["accepted"], again["skipped"], again["warned"], again["rejected_url"]) == (200, 0, 0, None)
