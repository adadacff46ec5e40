"""Limits and the promise that no input gets a 500: body cap (413), row cap, hostile values, and 503 while
the database cannot be reached."""

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event, text

from batchcall.app import create_app
from batchcall.config import Settings
from batchcall.kit.sqltypes import is_postgresql
from batchcall.models import Call
from batchcall.runtime import Runtime
from batchcall.testing import free_port
from tests.store import count, snapshot
from tests.support import Tenant, add_rows, create_batch

MAX_BODY = 4096
MAX_UPLOAD = 4 * MAX_BODY
MAX_ROWS = 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    caps = {"max_body_bytes": MAX_BODY, "max_upload_bytes": MAX_UPLOAD, "max_rows_per_request": MAX_ROWS}
    return settings.model_copy(update=caps)


@pytest.fixture
def lenient_client(client: TestClient) -> TestClient:
    """A client that hands back a 500 instead of raising what the app did not handle."""
    return TestClient(client.app, raise_server_exceptions=False)


def big_rows(n: int) -> list[dict[str, str]]:
    return [{"phone_number": "+14155550101", "instruction": "x" * 200} for _ in range(n)]


def test_a_body_over_the_cap_is_413_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    response = client.post(
        f"/v1/batches/{batch['id']}/calls", json={"rows": big_rows(30)}, headers=tenant.headers
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert str(MAX_BODY) in response.json()["message"]
    assert snapshot(runtime) == before


def test_a_streamed_body_without_a_length_is_cut_off_at_the_cap(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)

    def chunks() -> Iterator[bytes]:
        yield b'{"rows": ['
        for _ in range(100):
            yield b'{"phone_number": "+14155550101", "instruction": "' + b"x" * 200 + b'"},'
        yield b'{"phone_number": "+14155550101"}]}'

    before = snapshot(runtime)
    headers = {**tenant.headers, "Content-Type": "application/json"}
    response = client.post(f"/v1/batches/{batch['id']}/calls", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert snapshot(runtime) == before


def test_an_upload_over_the_upload_cap_is_413(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    data = b"phone\n" + b"+14155550101\n" * 2000
    files = {"file": ("big.csv", data, "text/csv")}
    response = client.post(f"/v1/batches/{batch['id']}/calls/upload", files=files, headers=tenant.headers)
    assert response.status_code == 413
    assert str(MAX_UPLOAD) in response.json()["message"]


def test_an_upload_may_be_larger_than_a_json_body(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    numbers = [f"+1415555{n:04d}" for n in range(600)]
    data = ("phone\n" + "\n".join(numbers) + "\n").encode()
    assert MAX_BODY < len(data) < MAX_UPLOAD
    files = {"file": ("many.csv", data, "text/csv")}
    response = client.post(f"/v1/batches/{batch['id']}/calls/upload", files=files, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(numbers)


def test_a_body_under_the_cap_passes(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    assert add_rows(client, tenant, batch["id"], big_rows(1))["accepted"] == 1


def test_more_rows_than_allowed_is_refused_as_a_whole(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    rows = [{"phone_number": f"+1415555{n:04d}"} for n in range(101, 101 + MAX_ROWS + 1)]
    before = snapshot(runtime)
    response = client.post(f"/v1/batches/{batch['id']}/calls", json={"rows": rows}, headers=tenant.headers)
    assert response.status_code == 422
    assert f"At most {MAX_ROWS} rows" in response.json()["message"]
    assert snapshot(runtime) == before
    assert add_rows(client, tenant, batch["id"], rows[:MAX_ROWS])["accepted"] == MAX_ROWS


def test_a_nul_character_in_a_row_is_a_row_error_on_every_database(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": "+14155550101", "name": "Ada\u0000"},
            {"phone_number": "+14155550102", "variables": {"k\u0000": "v"}},
            {"phone_number": "+14155550103", "metadata": {"deep": ["\u0000"]}},
            {"phone_number": "+14155550104", "name": "\\u0000 is fine as text"},
        ],
    )
    assert answer["accepted"] == 1
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(1, "row"), (2, "row"), (3, "row")]
    assert "NUL" in answer["errors"][0]["message"]
    assert count(runtime, Call) == 1


def test_a_nul_character_in_a_csv_row_is_a_row_error(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    files = {"file": ("c.csv", b"phone,name\n+14155550101,A\x00da\n+14155550102,Bob\n", "text/csv")}
    response = client.post(f"/v1/batches/{batch['id']}/calls/upload", files=files, headers=tenant.headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    assert [(e["row"], e["field"]) for e in answer["errors"]] == [(1, "row")]


HOSTILE: list[tuple[str, str, Any]] = [
    ("POST", "/v1/agents", {"name": "a\u0000b"}),
    ("POST", "/v1/agents", {"name": "x", "voice": {"k": "\u0000"}}),
    ("POST", "/v1/batches", {"name": "x", "scheduled_at": "0001-01-01T00:00:00+01:00"}),
    ("POST", "/v1/batches", {"name": "x", "ends_at": "9999-12-31T23:59:59-01:00"}),
    ("POST", "/v1/batches", {"name": "x", "metadata": {"a": 10**30}}),
    ("POST", "/v1/batches", {"name": "x", "max_calls_per_day": 2**63}),
    ("POST", "/v1/phone-numbers", {"number": "+14155550100", "daily_cap": 2**40}),
    ("POST", "/v1/dnc", {"phone_number": "+14155550100", "reason": "\u0000"}),
    ("POST", "/v1/contacts", {"phone_number": "+14155550100", "attributes": {"\u0000": 1}}),
    ("GET", "/v1/agents/a%00b", None),
    ("GET", "/v1/batches?offset=99999999999999999999999", None),
    ("GET", "/v1/contacts?phone=%00", None),
]


@pytest.mark.parametrize(("method", "path", "body"), HOSTILE)
def test_hostile_values_are_refused_or_stored_but_never_a_500(
    lenient_client: TestClient, runtime: Runtime, tenant: Tenant, method: str, path: str, body: Any
) -> None:
    before = snapshot(runtime)
    response = lenient_client.request(method, path, json=body, headers=tenant.headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["message"]
        assert snapshot(runtime) == before


def test_phone_number_label_may_be_cleared_with_null(client: TestClient, tenant: Tenant) -> None:
    number = client.post(
        "/v1/phone-numbers", json={"number": "+14155550100", "label": "main"}, headers=tenant.headers
    )
    response = client.patch(
        f"/v1/phone-numbers/{number.json()['id']}", json={"label": None}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["label"] == ""


def app_on(database_url: str) -> TestClient:
    settings = Settings(database_url=database_url, run_dispatcher=False)
    return TestClient(create_app(Runtime.from_settings(settings)), raise_server_exceptions=False)


def assert_unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "unavailable"
    assert response.json()["message"]


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param("postgresql://127.0.0.1:{port}/batchcall", id="postgresql-nothing-listening"),
        pytest.param("sqlite:////nonexistent-folder/batchcall.db", id="sqlite-cannot-open"),
    ],
)
def test_an_unreachable_database_is_503_with_retry_after_and_one_log_line(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with app_on(database_url.format(port=free_port())) as client, caplog.at_level(logging.WARNING):
        response = client.get("/v1/batches", headers={"Authorization": "Bearer bck_x.secret"})
        assert_unavailable(response)
        assert_unavailable(client.get("/healthz"))
    logged = [r for r in caplog.records if r.name == "batchcall.http"]
    assert len(logged) == 2
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in logged)
    assert "/v1/batches" in logged[0].getMessage()


@pytest.fixture
def sqlite_runtime(runtime: Runtime) -> Runtime:
    if is_postgresql(runtime.engine):
        pytest.skip("SQLite's own locking")
    return runtime


def test_a_sqlite_database_locked_past_its_busy_timeout_is_503(
    sqlite_runtime: Runtime, lenient_client: TestClient, tenant: Tenant
) -> None:
    def short_busy_timeout(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA busy_timeout=50")

    event.listen(sqlite_runtime.engine, "connect", short_busy_timeout)
    sqlite_runtime.engine.dispose()
    path = sqlite_runtime.engine.url.database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert_unavailable(lenient_client.get("/v1/batches", headers=tenant.headers))
    finally:
        holder.close()
    assert lenient_client.get("/v1/batches", headers=tenant.headers).status_code == 200


def test_a_mistake_in_sql_on_sqlite_is_not_taken_for_an_outage(
    sqlite_runtime: Runtime, lenient_client: TestClient
) -> None:
    app = lenient_client.app
    assert isinstance(app, FastAPI)

    @app.get("/broken")
    def broken() -> None:
        with sqlite_runtime.engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))

    assert lenient_client.get("/broken").status_code == 500


def test_a_body_that_is_not_json_is_said_so_without_a_field(client: TestClient, tenant: Tenant) -> None:
    headers = {**tenant.headers, "Content-Type": "application/json"}
    response = client.post("/v1/batches", content=b'{"name": "B",}', headers=headers)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["message"].startswith("The body is not valid JSON at character 13")
    assert [error["field"] for error in answer["errors"]] == [""]
    assert '"13"' not in response.text


@pytest.mark.parametrize(
    "path",
    ["/v1/batches", "/v1/batch-calls"],
    ids=["native", "dialect-b"],
)
def test_a_validator_message_reaches_the_sender_without_pydantic_prefixes(
    client: TestClient, tenant: Tenant, path: str
) -> None:
    body = {"name": "B", "start_time": "9 am", "working_days": []}
    response = client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert "'9 am' is not a time of day as HH:MM" in response.text
    assert "needs at least one day" in response.text
    assert "Value error" not in response.text
