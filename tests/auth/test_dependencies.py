"""Failed authentication slows a client down: past its failures every request waits, even with a right key."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from batchcall.runtime import Runtime
from tests.support import Tenant

FAILURES_ALLOWED = 10


@pytest.fixture
def attacker(client: TestClient, runtime: Runtime) -> TestClient:
    runtime.settings.auth_failure_limit = f"{FAILURES_ALLOWED}/minute"
    return TestClient(client.app, client=("198.51.100.23", 51000))


Request = Callable[[TestClient, Tenant, bool], int]


def native(client: TestClient, tenant: Tenant, right: bool) -> int:
    key = tenant.api_key if right else f"{tenant.key_id}.wrong-secret"
    status: int = client.get("/v1/batches", headers={"Authorization": f"Bearer {key}"}).status_code
    return status


def native_unknown_key(client: TestClient, tenant: Tenant, right: bool) -> int:
    key = tenant.api_key if right else "bck_000000000000000000000000.secret"
    status: int = client.get("/v1/batches", headers={"Authorization": f"Bearer {key}"}).status_code
    return status


def native_malformed_key(client: TestClient, tenant: Tenant, right: bool) -> int:
    key = tenant.api_key if right else "no-dot-in-this-key"
    status: int = client.get("/v1/batches", headers={"Authorization": f"Bearer {key}"}).status_code
    return status


def dialect_a(client: TestClient, tenant: Tenant, right: bool) -> int:
    key = tenant.api_key if right else f"{tenant.key_id}.wrong-secret"
    status: int = client.get("/bulk-calls/batches", headers={"Authorization": f"Bearer {key}"}).status_code
    return status


def dialect_b(client: TestClient, tenant: Tenant, right: bool) -> int:
    key = tenant.api_key if right else f"{tenant.key_id}.wrong-secret"
    status: int = client.get("/v1/batch-calls", headers={"Authorization": f"Bearer {key}"}).status_code
    return status


def dialect_c(client: TestClient, tenant: Tenant, right: bool) -> int:
    headers = {"X-API-KEY": tenant.key_id, "X-API-SECRET": tenant.key_secret if right else "wrong"}
    status: int = client.get("/batch-call/batch_call_" + "0" * 32, headers=headers).status_code
    return status


def dialect_d(client: TestClient, tenant: Tenant, right: bool) -> int:
    key = tenant.api_key if right else f"{tenant.key_id}.wrong-secret"
    status: int = client.post("/api/call/createBatch", json={}, headers={"x-api-key": key}).status_code
    return status


def dialect_e(client: TestClient, tenant: Tenant, right: bool) -> int:
    key = tenant.api_key if right else f"{tenant.key_id}.wrong-secret"
    status: int = client.post(
        "/ai-phone-calls/call-contact-bulk", json={}, headers={"Authorization": f"Bearer {key}"}
    ).status_code
    return status


# What each route answers a wrong credential with, in its own dialect.
REFUSED: dict[Request, int] = {dialect_d: 403}


@pytest.mark.parametrize(
    "send",
    [native, native_unknown_key, native_malformed_key, dialect_a, dialect_b, dialect_c, dialect_d, dialect_e],
)
def test_past_its_failures_a_client_waits_even_with_a_right_key(
    attacker: TestClient, client: TestClient, tenant: Tenant, send: Request
) -> None:
    refused = REFUSED.get(send, 401)
    for _ in range(FAILURES_ALLOWED):
        assert send(attacker, tenant, False) == refused
    assert send(attacker, tenant, False) == 429
    response = attacker.get("/v1/batches", headers=tenant.headers)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert "failed-authentication" in response.json()["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Another address is not held back by this one's failures.
    assert send(client, tenant, True) not in (401, 403, 429)


def test_a_right_key_does_not_count_as_a_failure(attacker: TestClient, tenant: Tenant) -> None:
    for _ in range(FAILURES_ALLOWED * 2):
        assert native(attacker, tenant, True) == 200
    assert native(attacker, tenant, False) == 401


def test_a_request_without_any_credential_is_not_a_guess(attacker: TestClient, tenant: Tenant) -> None:
    for _ in range(FAILURES_ALLOWED * 2):
        assert attacker.get("/v1/batches").status_code == 401
    assert native(attacker, tenant, True) == 200
