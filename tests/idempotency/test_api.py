"""A POST retried with the same idempotency key gets the first answer and writes nothing more."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchcall.models import Batch, Call, IdempotencyRecord
from batchcall.runtime import Runtime
from tests.store import count, snapshot
from tests.support import Tenant, create_batch

HEADERS = ["Idempotency-Key", "X-Idempotency-Key", "idempotency-key"]


@pytest.mark.parametrize("header", HEADERS)
def test_same_key_and_body_returns_the_first_answer_and_writes_once(
    client: TestClient, runtime: Runtime, tenant: Tenant, header: str
) -> None:
    headers = {**tenant.headers, header: "create-1"}
    first = client.post("/v1/batches", json={"name": "Once"}, headers=headers)
    assert first.status_code == 201
    before = snapshot(runtime)
    second = client.post("/v1/batches", json={"name": "Once"}, headers=headers)
    assert second.status_code == 201
    assert second.json() == first.json()
    assert snapshot(runtime) == before
    assert count(runtime, Batch) == 1


def test_a_replayed_submission_adds_no_calls(client: TestClient, runtime: Runtime, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    headers = {**tenant.headers, "X-Idempotency-Key": "rows-1"}
    body = {"rows": [{"phone_number": "+14155550101"}, {"phone_number": "bad"}]}
    first = client.post(f"/v1/batches/{batch['id']}/calls", json=body, headers=headers)
    second = client.post(f"/v1/batches/{batch['id']}/calls", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert count(runtime, Call) == 1


def test_a_replayed_upload_with_the_same_bytes_adds_no_calls(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nphone\n+14155550101\n\r\n--b0undary--\r\n"
    )
    headers = {
        **tenant.headers,
        "Idempotency-Key": "upload-1",
        "Content-Type": "multipart/form-data; boundary=b0undary",
    }
    first = client.post(f"/v1/batches/{batch['id']}/calls/upload", content=body, headers=headers)
    second = client.post(f"/v1/batches/{batch['id']}/calls/upload", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert second.json() == first.json()
    assert count(runtime, Call) == 1


def test_a_file_resent_under_a_new_multipart_boundary_is_the_same_request(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    url = f"/v1/batches/{batch['id']}/calls/upload"
    headers = {**tenant.headers, "Idempotency-Key": "upload-1"}

    def send(data: bytes, country: str = "US") -> Any:
        # Each call draws a fresh boundary, as clients do.
        files = {"file": ("c.csv", data, "text/csv")}
        return client.post(url, files=files, data={"country_code": country}, headers=headers)

    first = send(b"phone\n4155550101\n")
    assert first.status_code == 200, first.text
    assert send(b"phone\n4155550101\n").json() == first.json()
    assert count(runtime, Call) == 1
    assert send(b"phone\n4155550102\n").status_code == 422
    assert send(b"phone\n4155550101\n", country="CA").status_code == 422
    assert count(runtime, Call) == 1


@pytest.mark.parametrize("header", HEADERS[:2])
def test_same_key_with_another_body_is_422_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant, header: str
) -> None:
    headers = {**tenant.headers, header: "create-1"}
    assert client.post("/v1/batches", json={"name": "First"}, headers=headers).status_code == 201
    before = snapshot(runtime)
    response = client.post("/v1/batches", json={"name": "Second"}, headers=headers)
    assert response.status_code == 422
    assert "create-1" in response.json()["message"]
    assert snapshot(runtime) == before


def test_same_key_on_another_path_is_another_request(client: TestClient, tenant: Tenant) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "k"}
    assert client.post("/v1/batches", json={"name": "x"}, headers=headers).status_code == 201
    response = client.post("/v1/dnc", json={"phone_number": "+14155550101"}, headers=headers)
    assert response.status_code == 422


def test_keys_belong_to_their_workspace(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    mine = client.post("/v1/batches", json={"name": "x"}, headers={**tenant.headers, "Idempotency-Key": "k"})
    theirs = client.post(
        "/v1/batches", json={"name": "x"}, headers={**other_tenant.headers, "Idempotency-Key": "k"}
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    listed = client.get("/v1/batches", headers=other_tenant.headers).json()["data"]
    assert [b["id"] for b in listed] == [theirs.json()["id"]]


def test_a_failed_request_is_not_remembered_so_its_retry_runs(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    batch = create_batch(client, tenant)
    headers = {**tenant.headers, "Idempotency-Key": "schedule-1"}
    refused = client.post(f"/v1/batches/{batch['id']}/schedule", headers=headers)
    assert refused.status_code == 409
    assert count(runtime, IdempotencyRecord) == 0
    client.post(
        f"/v1/batches/{batch['id']}/calls",
        json={"rows": [{"phone_number": "+14155550101"}]},
        headers=tenant.headers,
    )
    accepted = client.post(f"/v1/batches/{batch['id']}/schedule", headers=headers)
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "active"


def test_a_replayed_transition_answers_as_the_first_time_not_409(client: TestClient, tenant: Tenant) -> None:
    batch = create_batch(client, tenant)
    headers = {**tenant.headers, "Idempotency-Key": "cancel-1"}
    first = client.post(f"/v1/batches/{batch['id']}/cancel", headers=headers)
    second = client.post(f"/v1/batches/{batch['id']}/cancel", headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    # Without the key, the second cancel is a wrong state.
    assert client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers).status_code == 409


def test_an_overlong_key_is_refused(client: TestClient, runtime: Runtime, tenant: Tenant) -> None:
    response = client.post(
        "/v1/batches", json={"name": "x"}, headers={**tenant.headers, "Idempotency-Key": "k" * 256}
    )
    assert response.status_code == 422
    assert count(runtime, Batch) == 0


def test_gets_ignore_the_key(client: TestClient, runtime: Runtime, tenant: Tenant) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "k"}
    assert client.get("/v1/batches", headers=headers).status_code == 200
    assert count(runtime, IdempotencyRecord) == 0


def test_a_dry_run_and_the_real_request_under_one_key_are_two_requests(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    """Else the real upload, keyed as its dry run was, would replay the dry run's answer and add nothing."""
    batch = create_batch(client, tenant)
    headers = {**tenant.headers, "Idempotency-Key": "upload-1"}
    body = {"rows": [{"phone_number": "+14155550101"}]}
    assert (
        client.post(f"/v1/batches/{batch['id']}/calls?dry_run=true", json=body, headers=headers).status_code
        == 200
    )
    response = client.post(f"/v1/batches/{batch['id']}/calls", json=body, headers=headers)
    assert response.status_code == 422
    assert "upload-1" in response.json()["message"]
