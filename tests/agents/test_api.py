"""Agents: what a prompt template and an agent's stored settings may hold."""

from typing import Any

from fastapi.testclient import TestClient

from batchcall.runtime import Runtime
from tests.store import snapshot
from tests.support import Tenant


def _create(client: TestClient, tenant: Tenant, **fields: Any) -> Any:
    return client.post("/v1/agents", json={"name": "Closer", **fields}, headers=tenant.headers)


def test_a_prompt_template_longer_than_max_prompt_chars_is_422_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = snapshot(runtime)
    refused = _create(client, tenant, prompt_template="x" * 100_001)
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        "prompt_template: Value error, is longer than 100000 characters (BATCHCALL_MAX_PROMPT_CHARS)"
    )
    assert snapshot(runtime) == before
    assert _create(client, tenant, prompt_template="x" * 100_000).status_code == 201


def test_the_bound_is_the_servers_setting_at_the_request(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    agent = _create(client, tenant, prompt_template="Hello {{name}}").json()
    runtime.settings.max_prompt_chars = 5
    patched = client.patch(
        f"/v1/agents/{agent['id']}", json={"prompt_template": "Hello"}, headers=tenant.headers
    )
    assert patched.status_code == 200
    longer = client.patch(
        f"/v1/agents/{agent['id']}", json={"prompt_template": "Hello!"}, headers=tenant.headers
    )
    assert longer.status_code == 422
    assert "longer than 5 characters" in longer.json()["message"]


def test_voice_settings_and_variable_names_are_bounded(client: TestClient, tenant: Tenant) -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"next": deep}
    for fields in (
        {"voice": deep},
        {"voice": {"note": "x" * 70_000}},
        {"required_variables": ["x" * 256]},
        {"required_variables": [f"v{n}" for n in range(1001)]},
    ):
        response = _create(client, tenant, **fields)
        assert response.status_code == 422, fields
        assert next(iter(fields)) in response.json()["message"]
