"""Adding calls to a batch through the API: each rule with good and bad rows, and what a request writes."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.kit.clock import ManualClock
from batchcall.models import Call, Contact
from batchcall.runtime import Runtime
from tests.store import count, snapshot
from tests.support import Tenant, add_rows, batch_of, calls_of, create_batch, register_numbers

ADA = "+14155550101"
BOB = "+14155550102"
CY = "+14155550103"


def counters(client: TestClient, tenant: Tenant, batch_id: str) -> dict[str, int]:
    found: dict[str, int] = batch_of(client, tenant, batch_id)["counters"]
    return found


def test_good_rows_are_kept_and_bad_rows_reported_by_number_field_and_reason(
    client: TestClient, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": ADA, "first_name": "Ada", "variables": {"plan": "gold"}, "metadata": {"crm": 1}},
            {"phone_number": "not a number"},
            {"phone_number": "(415) 555-0102", "email": "bob@"},
            {"phone_number": "(415) 555-0103", "name": "Cy Young"},
            {"first_name": "no number"},
        ],
    )
    assert answer["accepted"] == 3
    assert answer["skipped"] == 2
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(2, "phone_number"), (5, "phone_number")]
    assert all(e["message"] for e in answer["errors"])
    # A bad optional e-mail does not sink a phone call: the row is called without it, and told.
    assert answer["warnings"] == [
        {"row": 3, "field": "email", "message": "'bob@' is not an email address; left out"}
    ]
    assert (answer["warning_count"], answer["warned"]) == (1, 1)
    assert len(answer["call_ids"]) == 3
    calls = calls_of(client, tenant, batch["id"])
    assert [(c["id"], c["to"], c["email"], c["status"]) for c in calls] == [
        (answer["call_ids"][0], ADA, None, "queued"),
        (answer["call_ids"][1], BOB, None, "queued"),
        (answer["call_ids"][2], CY, None, "queued"),
    ]
    assert calls[0]["variables"] == {"plan": "gold"}
    assert calls[0]["metadata"] == {"crm": 1}
    assert counters(client, tenant, batch["id"])["total"] == 3


def test_rows_of_a_second_submission_are_numbered_from_one_again(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    add_rows(client, tenant, batch["id"], [{"phone_number": ADA}])
    answer = add_rows(client, tenant, batch["id"], [{"phone_number": BOB}, {"phone_number": "12"}])
    assert answer["errors"][0]["row"] == 2


def test_national_numbers_with_the_requests_or_the_rows_country(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": "07911 123456"},
            {"phone_number": "030 1234567", "country_code": "DE"},
            {"phone_number": "+1 415 555 0101"},
            {"phone_number": "0612345678", "country_code": "XX"},
        ],
        country_code="GB",
    )
    assert answer["accepted"] == 3
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(4, "country_code")]
    assert [c["to"] for c in calls_of(client, tenant, batch["id"])] == ["+447911123456", "+49301234567", ADA]


def test_north_american_numbers_need_no_country_but_others_do(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client, tenant, batch["id"], [{"phone_number": "415-555-0101"}, {"phone_number": "07911 123456"}]
    )
    assert answer["accepted"] == 1
    assert answer["errors"][0]["row"] == 2
    assert "country_code" in answer["errors"][0]["message"]


def test_channel_requirements(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"channel": "sms", "phone_number": ADA},
            {"channel": "sms", "email": "ada@example.com"},
            {"channel": "email", "email": "ada@example.com"},
            {"channel": "email", "phone_number": BOB},
            {"channel": "phone"},
        ],
    )
    assert answer["accepted"] == 2
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [
        (2, "phone_number"),
        (4, "email"),
        (5, "phone_number"),
    ]
    calls = calls_of(client, tenant, batch["id"])
    assert [(c["channel"], c["to"], c["email"]) for c in calls] == [
        ("sms", ADA, None),
        ("email", None, "ada@example.com"),
    ]


def test_an_email_batch_takes_addresses_without_numbers(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant, channel="email")
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [{"email": "ada@example.com", "email_subject": "Hi"}, {"email": "ada@example.com"}, {"name": "x"}],
    )
    assert answer["accepted"] == 1
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(2, "email"), (3, "email")]
    assert "duplicate of row 1" in answer["errors"][0]["message"]


def test_scheduled_times_are_read_in_the_batch_timezone_and_future_ones_wait(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    # The clock stands at 2026-11-23 17:00 UTC, which is 12:00 in New York.
    batch = create_batch(client, tenant, timezone="America/New_York")
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": ADA, "scheduled_time": "2026-11-24 09:30"},
            {"phone_number": BOB, "scheduled_time": "2026-11-23T09:00:00-05:00"},
            {"phone_number": CY, "scheduled_time": "11/25/2026 2:00 PM"},
            {"phone_number": "+14155550104", "scheduled_time": "soon"},
        ],
    )
    assert answer["accepted"] == 3
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(4, "scheduled_time")]
    calls = calls_of(client, tenant, batch["id"])
    assert [(c["status"], c["scheduled_time"]) for c in calls] == [
        ("scheduled", "2026-11-24T14:30:00Z"),
        ("queued", "2026-11-23T14:00:00Z"),
        ("scheduled", "2026-11-25T19:00:00Z"),
    ]
    assert calls[0]["next_attempt_at"] == "2026-11-24T14:30:00Z"
    assert calls[1]["next_attempt_at"] == clock.now().isoformat().replace("+00:00", "Z")
    # Waiting calls count as queued.
    assert counters(client, tenant, batch["id"])["queued"] == 3


def test_the_agents_required_variables_must_be_in_each_row(client: TestClient, tenant: Tenant) -> None:
    agent = client.post(
        "/v1/agents",
        json={
            "name": "Reminder",
            "prompt_template": "Hi {{first_name}}, {{clinic}}",
            "required_variables": ["clinic"],
        },
        headers=tenant.headers,
    ).json()
    register_numbers(client, tenant, "+14155550199", agent_id=agent["id"])
    batch = create_batch(client, tenant, agent_id=agent["id"])
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": ADA, "variables": {"clinic": "North"}},
            {"phone_number": BOB, "clinic": "South"},
            {"phone_number": CY},
            {"phone_number": "+14155550104", "variables": {"clinic": ""}},
        ],
    )
    assert answer["accepted"] == 2
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(3, "variables"), (4, "variables")]
    assert "clinic" in answer["errors"][0]["message"]
    assert [c["variables"] for c in calls_of(client, tenant, batch["id"])] == [
        {"clinic": "North"},
        {"clinic": "South"},
    ]


def test_duplicates_inside_one_submission_are_skipped_with_a_reason(
    client: TestClient, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": ADA},
            {"phone_number": BOB},
            {"phone_number": "(415) 555-0101"},
            {"phone_number": ADA},
        ],
    )
    assert answer["accepted"] == 2
    assert answer["skipped"] == 2
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(3, "phone_number"), (4, "phone_number")]
    assert all("duplicate of row 1" in e["message"] for e in answer["errors"])
    skipped = calls_of(client, tenant, batch["id"], status="skipped")
    assert [c["skip_reason"] for c in skipped] == [e["message"] for e in answer["errors"]]
    found = counters(client, tenant, batch["id"])
    assert (found["total"], found["queued"], found["skipped"]) == (4, 2, 2)


def test_the_same_number_on_another_channel_is_not_a_duplicate(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client, tenant, batch["id"], [{"phone_number": ADA}, {"phone_number": ADA, "channel": "sms"}]
    )
    assert answer["accepted"] == 2


def test_numbers_contacted_within_dedup_days_are_skipped_until_the_days_have_passed(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    first = create_batch(client, tenant)
    add_rows(client, tenant, first["id"], [{"phone_number": ADA}])
    clock.advance(timedelta(days=3).total_seconds() - 1)
    second = create_batch(client, tenant, dedup_days=3)
    answer = add_rows(client, tenant, second["id"], [{"phone_number": ADA}, {"phone_number": BOB}])
    assert answer["accepted"] == 1
    assert answer["errors"] == [
        {"row": 1, "field": "phone_number", "message": f"{ADA} was contacted within the last 3 day(s)"}
    ]
    clock.advance(2)
    third = create_batch(client, tenant, dedup_days=3)
    answer = add_rows(client, tenant, third["id"], [{"phone_number": ADA}])
    assert answer["accepted"] == 1, answer
    # A batch without dedup_days calls again at once.
    fourth = create_batch(client, tenant)
    assert add_rows(client, tenant, fourth["id"], [{"phone_number": ADA}])["accepted"] == 1


def test_calls_that_never_reached_the_number_do_not_count_for_dedup(
    client: TestClient, tenant: Tenant
) -> None:
    first = create_batch(client, tenant)
    add_rows(client, tenant, first["id"], [{"phone_number": ADA}, {"phone_number": ADA}])
    assert client.post(f"/v1/batches/{first['id']}/cancel", headers=tenant.headers).status_code == 200
    second = create_batch(client, tenant, dedup_days=30)
    assert add_rows(client, tenant, second["id"], [{"phone_number": ADA}])["accepted"] == 1


def test_dedup_looks_only_at_the_own_workspace(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    add_rows(client, other_tenant, create_batch(client, other_tenant)["id"], [{"phone_number": ADA}])
    batch = create_batch(client, tenant, dedup_days=30)
    assert add_rows(client, tenant, batch["id"], [{"phone_number": ADA}])["accepted"] == 1


def test_numbers_on_the_do_not_call_list_are_skipped(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert (
        client.post(
            "/v1/dnc", json={"phone_number": "415 555 0102", "reason": "asked"}, headers=tenant.headers
        ).status_code
        == 201
    )
    batch = create_batch(client, tenant)
    answer = add_rows(client, tenant, batch["id"], [{"phone_number": ADA}, {"phone_number": BOB}])
    assert answer["accepted"] == 1
    assert answer["errors"] == [
        {"row": 2, "field": "phone_number", "message": f"{BOB} is on the do-not-call list"}
    ]
    [skipped] = calls_of(client, tenant, batch["id"], status="skipped")
    assert skipped["to"] == BOB
    # Another workspace's list does not apply.
    theirs = create_batch(client, other_tenant)
    assert add_rows(client, other_tenant, theirs["id"], [{"phone_number": BOB}])["accepted"] == 1


def contacts_by_phone(client: TestClient, tenant: Tenant) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/contacts", params={"limit": 1000}, headers=tenant.headers)
    return {c["phone"]: c for c in response.json()["data"]}


@pytest.mark.parametrize("update_existing", [False, True])
def test_contacts_are_upserted_by_number(client: TestClient, tenant: Tenant, update_existing: bool) -> None:
    batch = create_batch(client, tenant)
    add_rows(
        client, tenant, batch["id"], [{"phone_number": ADA, "first_name": "Ada", "email": "ada@example.com"}]
    )
    add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": "(415) 555-0101", "first_name": "Augusta", "last_name": "King"},
            {"phone_number": BOB, "name": "Bob Stone"},
        ],
        update_existing=update_existing,
    )
    contacts = contacts_by_phone(client, tenant)
    assert set(contacts) == {ADA, BOB}
    ada = contacts[ADA]
    if update_existing:
        assert (ada["first_name"], ada["last_name"], ada["email"]) == ("Augusta", "King", "ada@example.com")
    else:
        assert (ada["first_name"], ada["last_name"], ada["email"]) == ("Ada", None, "ada@example.com")
    assert (contacts[BOB]["first_name"], contacts[BOB]["last_name"]) == ("Bob", "Stone")
    calls = calls_of(client, tenant, batch["id"])
    assert len(calls) == 3


def test_a_call_links_to_its_contact(client: TestClient, tenant: Tenant, runtime: Runtime) -> None:
    batch = create_batch(client, tenant)
    add_rows(client, tenant, batch["id"], [{"phone_number": ADA}])
    add_rows(client, tenant, create_batch(client, tenant)["id"], [{"phone_number": ADA}])
    assert count(runtime, Contact) == 1
    [contact] = contacts_by_phone(client, tenant).values()
    assert count(runtime, Call, contact_id=contact["id"]) == 2


def post_rows(client: TestClient, tenant: Tenant, batch_id: str, **kwargs: Any) -> Any:
    return client.post(
        f"/v1/batches/{batch_id}/calls", headers={**tenant.headers, **kwargs.pop("headers", {})}, **kwargs
    )


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"rows": [{"phone_number": ADA}], "country_code": "XX"}, 422, "country_code"),
        ({"rows": [{"phone_number": ADA}], "country_code": 1}, 422, "country_code"),
        ({"rows": {"phone_number": ADA}}, 422, "rows"),
        ({"contacts": [{"phone_number": ADA}]}, 422, "rows"),
        ({"rows": [{"phone_number": ADA}], "extra": 1}, 422, "extra"),
        ([{"phone_number": ADA}], 422, "rows"),
    ],
)
def test_a_request_that_fails_as_a_whole_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime, body: Any, status: int, words: str
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    response = post_rows(client, tenant, batch["id"], json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["message"]
    assert snapshot(runtime) == before


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"rows": [', b"rows=1", b"\xff\xfe", b'{"rows": [NaN]}', b"null"]
)
def test_a_body_that_is_not_json_is_refused_and_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime, raw: bytes
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    response = post_rows(
        client, tenant, batch["id"], content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["message"]
    assert snapshot(runtime) == before


def test_an_unknown_batch_is_404_and_writes_nothing(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    before = snapshot(runtime)
    response = post_rows(client, tenant, "no-such-batch", json={"rows": [{"phone_number": ADA}]})
    assert response.status_code == 404
    assert "no-such-batch" in response.json()["message"]
    assert snapshot(runtime) == before


def test_a_canceled_batch_takes_no_calls(client: TestClient, tenant: Tenant, runtime: Runtime) -> None:
    batch = create_batch(client, tenant)
    client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers)
    before = snapshot(runtime)
    response = post_rows(client, tenant, batch["id"], json={"rows": [{"phone_number": ADA}]})
    assert response.status_code == 409
    assert "canceled" in response.json()["message"]
    assert snapshot(runtime) == before


def test_an_empty_submission_is_answered_with_zero(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(client, tenant, batch["id"], [])
    assert answer == {
        "accepted": 0,
        "skipped": 0,
        "errors": [],
        "error_count": 0,
        "warnings": [],
        "warning_count": 0,
        "warned": 0,
        "mapped_columns": {},
        "call_ids": [],
        "submission_id": answer["submission_id"],
        "rejected_url": None,
        "dry_run": False,
    }
    assert answer["submission_id"]


def test_every_row_is_accounted_for(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    rows: list[Any] = [{"phone_number": f"+1415555{n:04d}"} for n in range(200, 260)]
    rows += [{"phone_number": "x"}, "not an object", None, 7, {"phone_number": "+14155550200"}]
    answer = add_rows(client, tenant, batch["id"], rows)
    assert answer["accepted"] + answer["skipped"] == len(rows)
    assert (answer["accepted"], answer["skipped"]) == (60, 5)
    assert [e["row"] for e in answer["errors"]] == [61, 62, 63, 64, 65]
    assert len(set(answer["call_ids"])) == 60


def test_a_hundred_thousand_bad_rows_are_counted_and_the_first_thousand_listed(
    client: TestClient, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(client, tenant, batch["id"], [{}] * 100_000)
    assert (answer["accepted"], answer["skipped"], answer["error_count"]) == (0, 100_000, 100_000)
    assert [e["row"] for e in answer["errors"]] == list(range(1, 1001))


def test_more_rows_than_the_cap_are_refused_by_their_count(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    runtime.settings.max_rows_per_request = 5
    before = snapshot(runtime)
    response = post_rows(client, tenant, batch["id"], json={"rows": [{}] * 6})
    assert response.status_code == 422
    assert response.json()["message"] == "At most 5 rows per request; this one has 6"
    assert snapshot(runtime) == before


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"next": value}
    return value


def test_free_text_and_json_over_their_bounds_are_row_errors_and_the_other_rows_go_in(
    client: TestClient, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    rows = [
        {"phone_number": ADA, "instruction": "x" * 20_001},
        {"phone_number": BOB, "metadata": _nested(300)},
        {"phone_number": CY, "timezone": "A" * 300},
        {"phone_number": "+14155550104", "variables": {"note": "x" * 70_000}},
        {"phone_number": "+14155550105", "email_template_params": _nested(40)},
        {"phone_number": "+14155550106", "email_subject": "x" * 999},
        {"phone_number": "+14155550107", "scheduled_time": "2026-12-01 09:00" + "x" * 100},
        {"phone_number": "+14155550108", "instruction": "x" * 20_000, "metadata": _nested(32)},
    ]
    answer = add_rows(client, tenant, batch["id"], rows)
    assert (answer["accepted"], answer["skipped"]) == (3, 5)
    assert [(e["row"], e["field"], e["message"]) for e in answer["errors"]] == [
        (1, "instruction", "is longer than 20000 characters (BATCHCALL_MAX_INSTRUCTION_CHARS)"),
        (2, "metadata", "nests deeper than 32 levels (BATCHCALL_MAX_JSON_DEPTH)"),
        (3, "timezone", "String should have at most 64 characters"),
        (4, "variables", "is larger than 65536 bytes as JSON (BATCHCALL_MAX_ROW_JSON_BYTES)"),
        (7, "scheduled_time", "String should have at most 64 characters"),
    ]
    # What only an e-mail needs is left out of a phone row that carries too much of it.
    assert [(w["row"], w["field"], w["message"]) for w in answer["warnings"]] == [
        (5, "email_template_params", "nests deeper than 32 levels (BATCHCALL_MAX_JSON_DEPTH); left out"),
        (6, "email_subject", "String should have at most 998 characters; left out"),
    ]
    calls = calls_of(client, tenant, batch["id"])
    assert [c["to"] for c in calls] == ["+14155550105", "+14155550106", "+14155550108"]
    assert len(calls[2]["instruction"]) == 20_000


def test_the_bounds_are_the_servers_settings_as_they_are_at_the_request(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    runtime.settings.max_instruction_chars = 5
    runtime.settings.max_json_depth = 2
    runtime.settings.max_errors_listed = 1
    rows = [
        {"phone_number": ADA, "instruction": "Say hi"},
        {"phone_number": BOB, "metadata": {"a": {"b": {}}}},
        {"phone_number": CY, "instruction": "Hi", "metadata": {"a": {}}},
    ]
    answer = add_rows(client, tenant, batch["id"], rows)
    assert (answer["accepted"], answer["error_count"]) == (1, 2)
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(1, "instruction")]


def test_a_row_may_name_its_own_time_zone_for_its_scheduled_time(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant, timezone="America/New_York")
    rows = [
        {"phone_number": ADA, "scheduled_time": "2026-12-01 09:00", "timezone": "Europe/Berlin"},
        {"phone_number": BOB, "scheduled_time": "2026-12-01 09:00"},
        {"phone_number": CY, "scheduled_time": "2026-12-01 09:00", "timezone": "America"},
    ]
    answer = add_rows(client, tenant, batch["id"], rows)
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(3, "timezone")]
    assert "'America' is not an IANA time zone" in answer["errors"][0]["message"]
    calls = calls_of(client, tenant, batch["id"])
    assert [c["scheduled_time"] for c in calls] == ["2026-12-01T08:00:00Z", "2026-12-01T14:00:00Z"]
    assert calls[0]["variables"] == {}


def test_one_call_with_its_attempts(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    [call_id] = add_rows(client, tenant, batch["id"], [{"phone_number": ADA, "instruction": "Say hi"}])[
        "call_ids"
    ]
    response = client.get(f"/v1/calls/{call_id}", headers=tenant.headers)
    assert response.status_code == 200
    call = response.json()
    assert (call["id"], call["batch_id"], call["to"], call["status"], call["attempts"]) == (
        call_id,
        batch["id"],
        ADA,
        "queued",
        [],
    )
    assert "from" in call
    assert client.get("/v1/calls/nope", headers=tenant.headers).status_code == 404


def test_list_calls_filters_by_status_and_pages(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    add_rows(
        client,
        tenant,
        batch["id"],
        [{"phone_number": f"+1415555{n:04d}"} for n in range(100, 105)] + [{"phone_number": "+14155550100"}],
    )
    response = client.get(
        f"/v1/batches/{batch['id']}/calls", params={"limit": 2, "offset": 1}, headers=tenant.headers
    )
    page = response.json()
    assert page["pagination"] == {"total": 6, "limit": 2, "offset": 1}
    assert [c["to"] for c in page["data"]] == ["+14155550101", "+14155550102"]
    assert [c["row_number"] for c in page["data"]] == [2, 3]
    assert len(calls_of(client, tenant, batch["id"], status="skipped")) == 1
    assert len(calls_of(client, tenant, batch["id"], status="queued")) == 5
    bad = client.get(f"/v1/batches/{batch['id']}/calls", params={"status": "lost"}, headers=tenant.headers)
    assert bad.status_code == 422
