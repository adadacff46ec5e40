"""Abuse limits: per API key however the dialect carries it, per client address, and shared through Redis.

The ``limits`` library keeps its windows on the wall clock and takes no injected clock, so the one test of a
window freeing waits for it, a second at most.
"""

import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from batchcall import db
from batchcall.app import create_app
from batchcall.auth import service as auth
from batchcall.runtime import Runtime
from batchcall.testing import free_port
from tests.support import Tenant


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis server of this test module's own, on a free loopback port, gone when the module ends."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if (
                subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout
                == b"PONG\n"
            ):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def second_key(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    with db.unit_of_work(runtime.sessions) as session:
        key = auth.create_key(session, tenant.workspace_id, runtime.clock.now())
    return {"Authorization": f"Bearer {key.api_key}"}


def assert_limited(response: Response, limit: str) -> None:
    assert response.status_code == 429, response.text
    wait = int(response.headers["Retry-After"])
    assert wait >= 1
    assert limit in response.text


def test_a_key_past_its_limit_is_429_with_retry_after_and_another_key_is_not(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.rate_limit_per_key = "3/minute"
    for _ in range(3):
        assert client.get("/v1/batches", headers=tenant.headers).status_code == 200
    response = client.get("/v1/batches", headers=tenant.headers)
    assert_limited(response, "per-key")
    assert response.json()["error"] == "rate_limited"
    assert "3 per 1 minute" in response.json()["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert client.get("/v1/batches", headers=second_key(runtime, tenant)).status_code == 200


def test_the_longest_spent_window_sets_retry_after(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.rate_limit_per_key = "100/second;2/hour"
    for _ in range(2):
        assert client.get("/v1/batches", headers=tenant.headers).status_code == 200
    response = client.get("/v1/batches", headers=tenant.headers)
    assert_limited(response, "2 per 1 hour")
    assert 3500 < int(response.headers["Retry-After"]) <= 3600


def test_a_key_may_send_again_once_its_window_frees(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.rate_limit_per_key = "2/second"
    for _ in range(2):
        assert client.get("/v1/batches", headers=tenant.headers).status_code == 200
    response = client.get("/v1/batches", headers=tenant.headers)
    assert_limited(response, "per-key")
    assert response.headers["Retry-After"] == "1"
    time.sleep(1.0)
    assert client.get("/v1/batches", headers=tenant.headers).status_code == 200


def test_every_request_of_a_client_counts_against_its_address(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.rate_limit_per_client = "4/minute"
    first = TestClient(client.app, client=("203.0.113.7", 40000))
    assert first.get("/v1/batches", headers=tenant.headers).status_code == 200
    assert first.get("/v1/batches", headers=second_key(runtime, tenant)).status_code == 200
    assert first.get("/v1/batches").status_code == 401
    assert first.get("/healthz").status_code == 200
    response = first.get("/v1/batches", headers=tenant.headers)
    assert_limited(response, "per-client")
    assert response.json()["error"] == "rate_limited"
    other = TestClient(client.app, client=("203.0.113.8", 40000))
    assert other.get("/v1/batches", headers=tenant.headers).status_code == 200


def test_provider_callbacks_count_per_client_apart_from_api_requests(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.rate_limit_per_client = "2/minute"
    runtime.settings.rate_limit_per_key = "1/minute"
    path = f"/v1/providers/{runtime.settings.provider}/events"
    for _ in range(2):
        assert client.post(path, content=b"[]").status_code != 429
    assert_limited(client.post(path, content=b"[]"), "per-client")
    assert client.get("/v1/batches", headers=tenant.headers).status_code == 200


def test_dialect_c_key_and_secret_headers_count_against_the_key(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.rate_limit_per_key = "2/minute"
    headers = {"X-API-KEY": tenant.key_id, "X-API-SECRET": tenant.key_secret}
    path = f"/batch-call/batch_call_{uuid.uuid4().hex}"
    for _ in range(2):
        assert client.get(path, headers=headers).status_code == 404
    response = client.get(path, headers=headers)
    assert_limited(response, "per-key")
    assert response.json()["status"] == "error"
    assert response.json()["error"] == "rate_limited"
    # The same key through the native API is the same count.
    assert_limited(client.get("/v1/batches", headers=tenant.headers), "per-key")


def test_dialect_d_whole_key_header_counts_against_the_key(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    runtime.settings.rate_limit_per_key = "2/minute"
    headers = {"x-api-key": tenant.api_key}
    for _ in range(2):
        assert client.post("/api/call/createBatch", json={}, headers=headers).status_code == 400
    response = client.post("/api/call/createBatch", json={}, headers=headers)
    assert_limited(response, "per-key")
    assert response.json()["code"] == 429
    assert response.json()["status"] is False
    assert "per-key" in response.json()["errorMessage"]


@pytest.fixture
def redis_apps(runtime: Runtime, redis_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances, as two processes would be, sharing their counts in Redis."""
    runtime.settings.rate_limit_storage = redis_url
    other = Runtime(runtime.settings, runtime.engine, runtime.sessions, runtime.clock)
    with TestClient(create_app(runtime)) as first, TestClient(create_app(other)) as second:
        yield first, second


def test_a_redis_storage_shares_a_key_limit_across_app_instances(
    redis_apps: tuple[TestClient, TestClient], runtime: Runtime, tenant: Tenant
) -> None:
    first, second = redis_apps
    runtime.settings.rate_limit_per_key = "3/minute"
    assert first.get("/v1/batches", headers=tenant.headers).status_code == 200
    assert second.get("/v1/batches", headers=tenant.headers).status_code == 200
    assert first.get("/v1/batches", headers=tenant.headers).status_code == 200
    assert_limited(second.get("/v1/batches", headers=tenant.headers), "per-key")
    assert_limited(first.get("/v1/batches", headers=tenant.headers), "per-key")


def test_a_mistyped_limit_stops_the_app_from_starting(runtime: Runtime) -> None:
    runtime.settings.rate_limit_per_key = "fifty a second"
    with pytest.raises(ValueError, match="fifty"):
        create_app(runtime)


def test_an_unreachable_rate_limit_storage_is_503_with_retry_after(runtime: Runtime, tenant: Tenant) -> None:
    runtime.settings.rate_limit_storage = f"redis://127.0.0.1:{free_port()}"
    with TestClient(create_app(runtime)) as client:
        response = client.get("/v1/batches", headers=tenant.headers)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "unavailable"
    assert "rate limit storage" in response.json()["message"]
