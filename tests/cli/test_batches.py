"""The operator's batch commands through the API: where the API and the key come from, one clear line for
every fault, and each command doing what the API does (list, show, start, pause, update, resume, cancel,
retry, calls, export, status)."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from batchcall.testing import free_port
from tests.cli.conftest import Run, as_json, refused
from tests.dialling import number, run_until_done, start
from tests.support import Tenant, add_rows, batch_of, create_batch, make_tenant


def a_batch_with_calls(client: TestClient, tenant: Tenant, count: int = 3) -> str:
    """A draft of the tenant's, ready to start, with ``count`` calls; its name has what a terminal's markup
    would eat."""
    batch = create_batch(client, tenant, name="[VIP] Invoices")
    add_rows(client, tenant, batch["id"], [{"phone_number": number(i)} for i in range(count)])
    return str(batch["id"])


def test_the_key_and_url_come_from_flags_over_the_environment_over_the_config_file(
    run: Run, api_url: str, tenant: Tenant, runtime: Runtime, config_path: Path, client: TestClient
) -> None:
    batch_id = a_batch_with_calls(client, tenant)
    config_path.parent.mkdir(parents=True)
    config_path.write_text(f'api_url = "{api_url}"\napi_key = "{tenant.api_key}"\n')
    assert as_json(run("batches", "show", batch_id, "--json"))["id"] == batch_id

    other = make_tenant(runtime, "Globex")
    # The environment's key wins over the file's: Globex may not see Acme's batch.
    from_env = run("batches", "show", batch_id, env={"BATCHCALL_API_KEY": other.api_key})
    assert "not found" in refused(from_env)
    # The flag wins over the environment.
    flagged = run(
        "batches",
        "show",
        batch_id,
        "--api-key",
        tenant.api_key,
        "--json",
        env={"BATCHCALL_API_KEY": other.api_key},
    )
    assert as_json(flagged)["id"] == batch_id
    down = f"http://127.0.0.1:{free_port()}"
    assert "Cannot reach the API" in refused(run("batches", "list", env={"BATCHCALL_API_URL": down}))
    assert as_json(run("batches", "list", "--api-url", api_url, "--json", env={"BATCHCALL_API_URL": down}))


def test_without_a_key_the_command_says_how_to_give_one(run: Run, api_url: str, config_path: Path) -> None:
    line = refused(run("batches", "list", "--api-url", api_url))
    assert "No API key" in line
    assert "--api-key" in line
    assert "BATCHCALL_API_KEY" in line
    assert str(config_path) in line


def test_a_config_file_that_is_not_toml_is_one_line(run: Run, config_path: Path) -> None:
    config_path.parent.mkdir(parents=True)
    config_path.write_text("api_key = \n")
    line = refused(run("batches", "list"))
    assert f"The config file {config_path} cannot be read" in line


def test_a_wrong_key_an_unknown_batch_and_a_server_that_is_down_are_one_line_each(
    operator: Run, api_url: str
) -> None:
    wrong = refused(operator("batches", "list", env={"BATCHCALL_API_KEY": "bck_nope.secret"}))
    assert f"The API at {api_url} refused the key" in wrong
    assert "BATCHCALL_API_KEY" in wrong
    unknown = refused(operator("batches", "show", "no-such-batch"))
    assert "no-such-batch" in unknown
    assert "not found" in unknown
    down = f"http://127.0.0.1:{free_port()}"
    line = refused(operator("status", "b1", env={"BATCHCALL_API_URL": down}))
    assert f"Cannot reach the API at {down}" in line
    assert "batchcall serve" in line


def test_start_pause_update_resume_and_cancel(operator: Run, client: TestClient, tenant: Tenant) -> None:
    batch_id = a_batch_with_calls(client, tenant)
    assert as_json(operator("batches", "start", batch_id, "--json"))["status"] == "active"
    paused = operator("batches", "pause", batch_id)
    assert paused.exit_code == 0, paused.output
    assert f"batch {batch_id} ([VIP] Invoices): paused" in paused.stdout
    status = operator("status", batch_id)
    assert status.exit_code == 0, status.output
    assert "[VIP] Invoices paused" in status.stdout

    changed = operator(
        "batches",
        "update",
        batch_id,
        "--start-time",
        "10:00",
        "--end-time",
        "16:30",
        "--working-days",
        "1-5",
        "--max-calls-per-day",
        "200",
        "--json",
    )
    window = as_json(changed)
    assert (window["start_time"], window["end_time"]) == ("10:00", "16:30")
    assert window["working_days"] == [1, 2, 3, 4, 5]
    assert window["max_calls_per_day"] == 200
    assert batch_of(client, tenant, batch_id)["end_time"] == "16:30"

    assert as_json(operator("batches", "resume", batch_id, "--json"))["status"] == "active"
    assert as_json(operator("batches", "cancel", batch_id, "--json"))["status"] == "canceled"
    # The API's refusal, in its words: a canceled batch does not resume.
    assert "HTTP 409" in refused(operator("batches", "resume", batch_id))


def test_update_with_nothing_to_change_or_a_bad_day_is_refused_before_any_request(
    operator: Run, client: TestClient, tenant: Tenant
) -> None:
    batch_id = a_batch_with_calls(client, tenant)
    assert "Nothing to change" in refused(operator("batches", "update", batch_id))
    bad = operator("batches", "update", batch_id, "--working-days", "1-8")
    assert bad.exit_code == 2
    assert "'1-8' is not a day 1-7" in bad.output


def test_list_show_and_calls_answer_what_the_api_answers(
    operator: Run, client: TestClient, tenant: Tenant
) -> None:
    draft = a_batch_with_calls(client, tenant, count=4)
    running = a_batch_with_calls(client, tenant, count=1)
    operator("batches", "start", running)

    listed = as_json(operator("batches", "list", "--json"))
    assert {b["id"] for b in listed} == {draft, running}
    assert [b["id"] for b in as_json(operator("batches", "list", "--status", "draft", "--json"))] == [draft]
    table = operator("batches", "list")
    assert table.exit_code == 0, table.output
    assert draft in table.stdout
    assert "0/4" in table.stdout

    shown = as_json(operator("batches", "show", draft, "--json"))
    assert shown == batch_of(client, tenant, draft)
    human = operator("batches", "show", draft)
    assert human.exit_code == 0, human.output
    assert "recipient hours" in human.stdout
    assert "08:00-21:00" in human.stdout

    page = as_json(operator("batches", "calls", draft, "--limit", "3", "--json"))
    assert len(page["data"]) == 3
    assert page["pagination"]["total"] == 4
    assert {c["to"] for c in page["data"]} <= {number(i) for i in range(4)}
    assert as_json(operator("batches", "calls", draft, "--status", "completed", "--json"))["data"] == []
    few = operator("batches", "calls", draft, "--limit", "2")
    assert "2 of 4 calls shown" in few.stderr


def test_retry_export_and_status_of_a_finished_batch(
    operator: Run,
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    rows = [{"phone_number": number(1)}, {"phone_number": number(2, "0003")}]
    batch = start(client, tenant, rows, max_retry_attempts=0)
    run_until_done(dispatcher, clock, client, tenant, batch["id"])

    status = operator("status", batch["id"])
    assert status.exit_code == 0, status.output
    assert "completed" in status.stdout
    assert "2/2" in status.stdout

    target = tmp_path / "out.csv"
    exported = operator("batches", "export", batch["id"], "-o", str(target))
    assert exported.exit_code == 0, exported.output
    assert f"to {target}" in exported.stdout
    lines = list(csv.DictReader(io.StringIO(target.read_text())))
    assert sorted(line["status"] for line in lines) == ["completed", "failed"]

    retried = as_json(operator("batches", "retry", batch["id"], "--json"))
    assert retried["status"] == "active"
    assert retried["counters"]["queued"] == 1


def test_status_and_list_say_why_a_batch_waits_and_until_when(
    operator: Run, client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    rows = [{"phone_number": number(i)} for i in range(2)]
    batch = start(client, tenant, rows, max_calls_per_day=1)
    dispatcher.tick()
    dispatcher.tick()
    status = operator("status", batch["id"])
    assert status.exit_code == 0, status.output
    assert "waiting: the batch made its max_calls_per_day of 1 today; next call at 00:00 UTC" in status.stdout
    listed = as_json(operator("batches", "list", "--json"))
    assert [b["waiting_reason"] for b in listed] == ["batch_daily_cap"]


def test_a_failed_export_leaves_no_file(operator: Run, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    assert "not found" in refused(operator("batches", "export", "no-such-batch", "-o", str(target)))
    assert not target.exists()


def test_status_watch_follows_the_batch_until_it_ends(
    api_url: str, client: TestClient, tenant: Tenant, environment: None
) -> None:
    """The installed command, as an operator runs it: it prints the batch on every refresh and stops by
    itself once the batch is canceled."""
    batch_id = a_batch_with_calls(client, tenant)
    client.post(f"/v1/batches/{batch_id}/schedule", headers=tenant.headers)
    command = [str(Path(sys.executable).with_name("batchcall")), "status", batch_id, "--watch"]
    env = {**os.environ, "BATCHCALL_API_URL": api_url, "BATCHCALL_API_KEY": tenant.api_key}
    with subprocess.Popen(
        [*command, "--interval", "0.05", "--json"], stdout=subprocess.PIPE, text=True, env=env
    ) as watcher:
        assert watcher.stdout is not None
        first = json.loads(watcher.stdout.readline())
        assert first["status"] == "active"
        canceled = client.post(f"/v1/batches/{batch_id}/cancel", headers=tenant.headers)
        assert canceled.status_code == 200, canceled.text
        rest = [json.loads(line) for line in watcher.stdout]
        assert watcher.wait(timeout=30) == 0
    assert [b["status"] for b in rest][-1] == "canceled"
    assert all(b["status"] == "active" for b in rest[:-1])


@pytest.mark.parametrize("command", ["pause", "resume", "cancel", "retry", "start", "show", "calls"])
def test_every_batch_command_has_help_and_json(run: Run, command: str) -> None:
    helped = run("batches", command, "--help")
    assert helped.exit_code == 0, helped.output
    for option in ("--json", "--api-url", "--api-key"):
        assert option in helped.stdout
