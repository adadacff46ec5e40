"""The batchcall command: workspaces and keys, and the key it prints works against the API."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from batchcall import cli
from batchcall.config import Settings, get_settings
from batchcall.runtime import Runtime


@pytest.fixture
def run(settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run the CLI in-process against the test's database (emptied by ``runtime``)."""
    monkeypatch.setenv("BATCHCALL_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli.app, list(args))

    yield invoke
    get_settings.cache_clear()


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_workspace_create_prints_a_key_that_works(run: Any, client: TestClient) -> None:
    created = as_json(run("workspace", "create", "Acme Corp", "--json"))
    assert set(created) >= {"workspace_id", "api_key", "key_id", "key_secret"}
    assert created["api_key"] == f"{created['key_id']}.{created['key_secret']}"
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    # Every scope: it may set up an agent (admin) and run a batch (call_management).
    assert client.post("/v1/agents", json={"name": "A"}, headers=headers).status_code == 201
    batch = client.post("/v1/batches", json={"name": "B"}, headers=headers)
    assert batch.status_code == 201
    assert client.get("/v1/batches", headers=headers).json()["pagination"]["total"] == 1
    listed = as_json(run("workspace", "list", "--json"))
    assert [(w["id"], w["slug"]) for w in listed] == [(created["workspace_id"], "acme-corp")]


def test_a_second_workspace_with_the_same_name_is_refused(run: Any) -> None:
    as_json(run("workspace", "create", "Acme", "--json"))
    again = run("workspace", "create", "Acme", "--json")
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_key_create_list_and_revoke(run: Any, client: TestClient) -> None:
    workspace = as_json(run("workspace", "create", "Acme", "--json"))
    reader = as_json(
        run("key", "create", workspace["workspace_id"], "--name", "dash", "--scope", "read", "--json")
    )
    assert reader["scopes"] == ["read"]
    assert reader["api_key"] == f"{reader['key_id']}.{reader['key_secret']}"
    headers = {"Authorization": f"Bearer {reader['api_key']}"}
    assert client.get("/v1/batches", headers=headers).status_code == 200
    assert client.post("/v1/batches", json={"name": "B"}, headers=headers).status_code == 403

    keys = as_json(run("key", "list", workspace["workspace_id"], "--json"))
    assert {k["key_id"] for k in keys} == {workspace["key_id"], reader["key_id"]}
    assert all(k["revoked_at"] is None for k in keys)
    assert all(reader["key_secret"] not in json.dumps(k) for k in keys)

    revoked = run("key", "revoke", reader["key_id"])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/v1/batches", headers=headers).status_code == 401
    keys = {k["key_id"]: k for k in as_json(run("key", "list", workspace["workspace_id"], "--json"))}
    assert keys[reader["key_id"]]["revoked_at"] is not None
    assert keys[workspace["key_id"]]["revoked_at"] is None


def test_key_commands_refuse_unknown_things(run: Any) -> None:
    workspace = as_json(run("workspace", "create", "Acme", "--json"))
    unknown_scope = run("key", "create", workspace["workspace_id"], "--scope", "root")
    assert unknown_scope.exit_code == 1
    assert "root" in unknown_scope.output
    assert run("key", "create", "no-such-workspace").exit_code == 1
    assert run("key", "revoke", "bck_nope").exit_code == 1
