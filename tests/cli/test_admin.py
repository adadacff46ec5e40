"""Local administration: workspaces and keys in the database of BATCHCALL_DATABASE_URL, which each command
names on stderr; the key it prints works against the API."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from batchcall.cli import database_named
from batchcall.config import Settings
from tests.cli.conftest import Run, as_json, refused


def test_workspace_create_prints_a_key_that_works(run: Run, client: TestClient) -> None:
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


@pytest.mark.parametrize(
    "again",
    [["Acme"], ["ACME"], ["Other", "--slug", "acme"]],
    ids=["same-name", "same-name-other-case", "same-slug"],
)
def test_a_second_workspace_with_the_same_name_or_slug_is_refused(run: Run, again: list[str]) -> None:
    as_json(run("workspace", "create", "Acme", "--json"))
    line = refused(run("workspace", "create", *again, "--json"))
    assert "already exists" in line
    assert "batchcall workspace list" in line
    assert len(as_json(run("workspace", "list", "--json"))) == 1


def test_every_local_command_names_the_database_it_opened(run: Run, settings: Settings) -> None:
    result = run("workspace", "list", "--json")
    assert result.exit_code == 0, result.output
    named = database_named(settings.database_url)
    assert f"database: {named}" in result.stderr
    # The answer alone on stdout, so that scripts can read it.
    assert json.loads(result.stdout) == []


def test_the_database_is_named_with_its_password_masked_and_a_file_by_its_full_path(tmp_path: Path) -> None:
    named = database_named("postgresql://ops:s3cret@db.internal:5432/batchcall")
    assert "s3cret" not in named
    assert named == "postgresql://ops:***@db.internal:5432/batchcall"
    assert database_named("sqlite:///./batchcall.db") == f"sqlite:///{Path.cwd() / 'batchcall.db'}"


@pytest.mark.parametrize(
    "command", [["workspace", "list"], ["workspace", "create", "Acme"], ["key", "list", "w"]]
)
def test_a_command_run_where_there_is_no_database_says_so_and_makes_none(
    run: Run, tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "elsewhere" / "batchcall.db"
    missing.parent.mkdir()
    result = run(*command, env={"BATCHCALL_DATABASE_URL": f"sqlite:///{missing}"})
    line = refused(result)
    assert f"No database at {missing}" in line
    assert "BATCHCALL_DATABASE_URL" in line
    assert "batchcall migrate" in line
    assert not missing.exists()


def test_migrate_creates_the_database_it_names(run: Run, tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    result = run("migrate", env={"BATCHCALL_DATABASE_URL": f"sqlite:///{new}"})
    assert result.exit_code == 0, result.output
    assert f"database: sqlite:///{new}" in result.stderr
    assert new.exists()
    listed = run("workspace", "list", "--json", env={"BATCHCALL_DATABASE_URL": f"sqlite:///{new}"})
    assert as_json(listed) == []


def test_a_database_that_cannot_be_reached_is_one_line(run: Run) -> None:
    unreachable = "postgresql://postgres:pw@127.0.0.1:1/batchcall"
    line = refused(run("workspace", "list", env={"BATCHCALL_DATABASE_URL": unreachable}))
    assert "Cannot open the database postgresql://postgres:***@127.0.0.1:1/batchcall" in line


def test_key_create_list_and_revoke(run: Run, client: TestClient) -> None:
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


def test_key_commands_refuse_unknown_things(run: Run) -> None:
    workspace = as_json(run("workspace", "create", "Acme", "--json"))
    assert "root" in refused(run("key", "create", workspace["workspace_id"], "--scope", "root"))
    assert "no-such-workspace" in refused(run("key", "create", "no-such-workspace"))
    assert "bck_nope" in refused(run("key", "revoke", "bck_nope"))
