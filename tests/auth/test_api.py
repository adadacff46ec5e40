"""Who may call what: a missing, malformed, wrong or revoked key is 401; a key without the scope is 403."""

import pytest
from fastapi.testclient import TestClient

from batchcall import db
from batchcall.auth import service as auth
from batchcall.runtime import Runtime
from tests import routes
from tests.support import Tenant, make_tenant

# Writes that need the admin scope: the workspace's set-up, not its campaigns.
ADMIN_PATHS = (
    "/v1/agents",
    "/v1/phone-numbers",
    "/v1/webhooks",
    "/v1/provider-accounts",
    "/v1/email-templates",
)
# Reads that need it too: a provider account's settings are the workspace's set-up as well.
ADMIN_READS = ("/v1/provider-accounts",)


def native_operations() -> list[tuple[str, str]]:
    """Every native operation, with its path parameters standing in as ids that do not exist."""
    return [(method, path.replace("{", "").replace("}", "")) for method, path in routes.native_operations()]


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-key",
        "Bearer bck_unknown.secret",
        "Bearer .secret",
        "Bearer bck_x.",
        "Basic dXNlcjpwYXNz",
        "Token {key}",
        "{key}",
        "Bearer {key_id}.wrong-secret",
        "Bearer {key_id}",
        "Bearer {key}x",
    ],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/batches"), ("POST", "/v1/batches/x/calls")])
def test_a_malformed_or_wrong_key_is_401(
    client: TestClient, tenant: Tenant, authorization: str, method: str, path: str
) -> None:
    headers = {"Authorization": authorization.format(key=tenant.api_key, key_id=tenant.key_id)}
    response = client.request(method, path, json={"rows": []}, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"


def test_a_revoked_key_is_401_from_then_on(client: TestClient, runtime: Runtime, tenant: Tenant) -> None:
    assert client.get("/v1/batches", headers=tenant.headers).status_code == 200
    with db.unit_of_work(runtime.sessions) as session:
        auth.revoke_key(session, tenant.key_id, runtime.clock.now())
    response = client.get("/v1/batches", headers=tenant.headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"]
    assert client.post("/v1/batches", json={"name": "x"}, headers=tenant.headers).status_code == 401


def test_other_keys_of_the_workspace_keep_working_after_one_is_revoked(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    with db.unit_of_work(runtime.sessions) as session:
        second = auth.create_key(session, tenant.workspace_id, runtime.clock.now())
        auth.revoke_key(session, tenant.key_id, runtime.clock.now())
    response = client.get("/v1/batches", headers={"Authorization": f"Bearer {second.api_key}"})
    assert response.status_code == 200


def test_a_read_key_reads_but_cannot_write(
    client: TestClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    reader = make_tenant(runtime, "Readers", scopes=["read"])
    for method, path in native_operations():
        with subtests.test(msg=f"{method} {path}"):
            response = client.request(method, path, json={}, headers=reader.headers)
            if method == "GET" and not path.startswith(ADMIN_READS):
                assert response.status_code in (200, 404), response.text
            else:
                assert response.status_code == 403, response.text
                assert "scope" in response.json()["message"]


def test_a_call_management_key_runs_campaigns_but_does_not_set_up_agents_or_numbers(
    client: TestClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    manager = make_tenant(runtime, "Managers", scopes=["call_management"])
    for method, path in native_operations():
        with subtests.test(msg=f"{method} {path}"):
            response = client.request(method, path, json={}, headers=manager.headers)
            if (method != "GET" and path.startswith(ADMIN_PATHS)) or path.startswith(ADMIN_READS):
                assert response.status_code == 403, response.text
                assert "'admin'" in response.json()["message"]
            else:
                assert response.status_code not in (401, 403), response.text


def test_an_admin_key_may_do_everything(
    client: TestClient, runtime: Runtime, subtests: pytest.Subtests
) -> None:
    admin = make_tenant(runtime, "Admins", scopes=["admin"])
    for method, path in native_operations():
        with subtests.test(msg=f"{method} {path}"):
            response = client.request(method, path, json={}, headers=admin.headers)
            assert response.status_code not in (401, 403), response.text


def test_a_scope_refusal_writes_nothing(client: TestClient, runtime: Runtime) -> None:
    reader = make_tenant(runtime, "Readers", scopes=["read"])
    assert client.post("/v1/batches", json={"name": "x"}, headers=reader.headers).status_code == 403
    assert client.get("/v1/batches", headers=reader.headers).json()["pagination"]["total"] == 0
