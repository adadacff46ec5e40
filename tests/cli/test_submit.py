"""``batchcall submit``: a draft and a preview before anything dials, a dry run that writes nothing, an
upload that is answered again rather than queued twice, and no batch left behind by a submission that
accepts nothing."""

import csv
import io
import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from batchcall import remote
from batchcall.cli import reason_kind, skipped_by_reason
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import Batch, Call
from batchcall.runtime import Runtime
from tests.cli.conftest import Run, as_json, refused
from tests.dialling import ledger, number
from tests.store import count, snapshot
from tests.support import Tenant, batch_of, callable_agent, create_batch


def contacts(folder: Path, *lines: str, name: str = "contacts.csv") -> Path:
    path = folder / name
    path.write_text("phone,first_name\n" + "".join(f"{line}\n" for line in lines))
    return path


GOOD = [f"{number(i)},Ann{i}" for i in range(3)]
BAD = "not a number,Bob"


def test_submit_makes_a_draft_and_shows_what_it_read_before_anything_dials(
    operator: Run,
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    dispatcher: Dispatcher,
    tmp_path: Path,
) -> None:
    agent = callable_agent(client, tenant)
    path = contacts(tmp_path, *GOOD, BAD)
    result = operator("submit", str(path), "--agent-id", agent)
    assert result.exit_code == 0, result.output
    [batch] = client.get("/v1/batches", headers=tenant.headers).json()["data"]
    assert batch["status"] == "draft"
    assert batch["name"] == "contacts"
    assert count(runtime, Call, batch_id=batch["id"]) == 3  # the invalid row is kept apart, for download

    said = result.stdout
    assert f"contacts.csv -> batch {batch['id']}" in said
    for label, value in [("rows read", 4), ("accepted", 3), ("skipped", 1)]:
        assert any(line.split() == [*label.split(), str(value)] for line in said.splitlines()), label
    assert "phone_number:" in said  # the reason of the row skipped
    assert f"`batchcall batches start {batch['id']}` starts it" in said
    rejected = tmp_path / "contacts.csv.rejected.csv"
    assert f"rejected rows saved to {rejected}" in said
    [row] = list(csv.DictReader(io.StringIO(rejected.read_text())))
    assert row["row"] == "4"
    assert row["phone"] == "not a number"
    assert row["reason"]
    again = tmp_path / "fix-me.csv"
    downloaded = operator("batches", "rejected", batch["id"], "-o", str(again))
    assert downloaded.exit_code == 0, downloaded.output
    assert again.read_text() == rejected.read_text()

    dispatcher.tick()
    assert ledger(runtime) == []


def test_submit_start_starts_it_and_says_when_the_first_call_goes_out(
    operator: Run, client: TestClient, tenant: Tenant, tmp_path: Path, clock: ManualClock
) -> None:
    agent = callable_agent(client, tenant)
    answer = as_json(
        operator("submit", str(contacts(tmp_path, *GOOD)), "--agent-id", agent, "--start", "--json")
    )
    assert answer["accepted"] == 3
    assert answer["batch"]["status"] == "active"
    assert batch_of(client, tenant, answer["batch_id"])["status"] == "active"
    human = operator(
        "submit", str(contacts(tmp_path, number(9), name="more.csv")), "--agent-id", agent, "--start"
    )
    assert human.exit_code == 0, human.output
    assert human.stdout.rstrip().endswith("calling now")
    # 05:51 in New York: the preview the draft answered before it started says how long it waits.
    clock.set(datetime(2026, 11, 23, 10, 51, tzinfo=UTC))
    early = operator(
        "submit", str(contacts(tmp_path, number(8), name="early.csv")), "--agent-id", agent, "--start"
    )
    assert early.exit_code == 0, early.output
    assert "its first call waits: the people due now are outside their local calling hours" in early.stdout
    assert "next call at 13:00 UTC on Mon 23 Nov" in early.stdout


def test_a_batch_that_cannot_start_stays_a_draft_with_its_calls_and_the_command_fails(
    operator: Run, client: TestClient, tenant: Tenant, runtime: Runtime, tmp_path: Path
) -> None:
    line = refused(operator("submit", str(contacts(tmp_path, *GOOD)), "--start"))
    assert "agent" in line
    [batch] = client.get("/v1/batches", headers=tenant.headers).json()["data"]
    assert batch["status"] == "draft"
    assert "stays a draft with its 3 new calls" in line
    assert f"batchcall batches start {batch['id']}" in line
    assert count(runtime, Call, batch_id=batch["id"]) == 3


def test_a_dry_run_writes_nothing_and_deletes_the_draft_it_needed(
    operator: Run, client: TestClient, tenant: Tenant, runtime: Runtime, tmp_path: Path
) -> None:
    agent = callable_agent(client, tenant)
    path = contacts(tmp_path, *GOOD, BAD)
    # What the request to create the draft stored: its answer, for a retry of it (the draft is gone).
    before = {t: n for t, n in snapshot(runtime).items() if t != "idempotency_records"}
    answer = as_json(operator("submit", str(path), "--agent-id", agent, "--dry-run", "--json"))
    assert (answer["accepted"], answer["skipped"], answer["batch_deleted"]) == (3, 1, True)
    assert answer["call_ids"] == []
    assert {t: n for t, n in snapshot(runtime).items() if t != "idempotency_records"} == before
    assert not (tmp_path / "contacts.csv.rejected.csv").exists()

    batch = create_batch(client, tenant)
    before = snapshot(runtime)
    human = operator("submit", str(path), "--batch", batch["id"], "--dry-run")
    assert human.exit_code == 0, human.output
    assert any(line.split() == ["would", "accept", "3"] for line in human.stdout.splitlines())
    assert snapshot(runtime) == before
    assert batch_of(client, tenant, batch["id"])["counters"]["total"] == 0


def test_submitting_the_same_file_to_the_same_batch_again_is_answered_not_queued_twice(
    operator: Run, client: TestClient, tenant: Tenant, runtime: Runtime, tmp_path: Path
) -> None:
    batch = create_batch(client, tenant)
    path = contacts(tmp_path, *GOOD)
    first = as_json(operator("submit", str(path), "--batch", batch["id"], "--json"))
    again = as_json(operator("submit", str(path), "--batch", batch["id"], "--json"))
    assert first["accepted"] == 3
    # The first answer, replayed: not "3 skipped as duplicates", and no second set of calls.
    assert (again["accepted"], again["call_ids"]) == (first["accepted"], first["call_ids"])
    assert count(runtime, Call, batch_id=batch["id"]) == 3
    # The same file with another country code is another request.
    other = operator("submit", str(path), "--batch", batch["id"], "--country-code", "US", "--json")
    assert "already used" not in other.output


class LosingProxy:
    """A loopback proxy to the test's server that loses the answer to the first upload passing through it:
    the server handles the request and commits, and the client's connection is closed at the first byte
    of the answer, as when a network drops it."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.uploads_lost = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            losing = threading.Event()
            threading.Thread(target=self._requests, args=(client, upstream, losing), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client, losing), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, losing: threading.Event) -> None:
        with suppress(OSError):
            while chunk := client.recv(65536):
                if b"/calls/upload" in chunk and self.uploads_lost == 0:
                    self.uploads_lost = 1
                    losing.set()
                upstream.sendall(chunk)

    def _answers(self, upstream: socket.socket, client: socket.socket, losing: threading.Event) -> None:
        with suppress(OSError):
            while chunk := upstream.recv(65536):
                if losing.is_set():
                    client.shutdown(socket.SHUT_RDWR)
                    client.close()
                    upstream.close()
                    return
                client.sendall(chunk)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def losing_proxy(api_url: str) -> Iterator[LosingProxy]:
    proxy = LosingProxy(api_url)
    yield proxy
    proxy.close()


def test_an_upload_whose_answer_is_lost_is_sent_again_and_answered_once(
    operator: Run,
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    tmp_path: Path,
    losing_proxy: LosingProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(remote, "RETRY_DELAYS_SECONDS", (0.0, 0.0))
    batch = create_batch(client, tenant)
    path = contacts(tmp_path, *GOOD)
    answer = as_json(
        operator(
            "submit", str(path), "--batch", batch["id"], "--json", env={"BATCHCALL_API_URL": losing_proxy.url}
        )
    )
    assert losing_proxy.uploads_lost == 1
    assert answer["accepted"] == 3
    assert count(runtime, Call, batch_id=batch["id"]) == 3


def test_a_submission_that_accepts_nothing_leaves_no_batch_and_fails(
    operator: Run, client: TestClient, tenant: Tenant, runtime: Runtime, tmp_path: Path
) -> None:
    agent = callable_agent(client, tenant)
    path = contacts(tmp_path, BAD, "+1,Cy")
    result = operator("submit", str(path), "--agent-id", agent)
    line = refused(result)
    rejected = tmp_path / "contacts.csv.rejected.csv"
    assert "nothing was accepted" in line
    assert str(rejected) in line
    assert count(runtime, Batch) == 0
    assert "deleted again: nothing was accepted" in result.stdout
    rows = list(csv.DictReader(io.StringIO(rejected.read_text())))
    assert [row["row"] for row in rows] == ["1", "2"]


def test_a_file_the_server_refuses_leaves_no_batch(
    operator: Run, client: TestClient, tenant: Tenant, runtime: Runtime, tmp_path: Path
) -> None:
    agent = callable_agent(client, tenant)
    path = tmp_path / "no-phone.csv"
    path.write_text("name,city\nAnn,Paris\n")
    assert "phone" in refused(operator("submit", str(path), "--agent-id", agent))
    assert count(runtime, Batch) == 0


def test_options_of_a_new_batch_are_refused_with_an_existing_one(operator: Run, tmp_path: Path) -> None:
    path = contacts(tmp_path, *GOOD)
    line = refused(operator("submit", str(path), "--batch", "b1", "--agent-id", "a1", "--name", "X"))
    assert "--name, --agent-id" in line
    assert "--start" in refused(operator("submit", str(path), "--dry-run", "--start"))


def test_the_upload_key_is_the_file_the_batch_and_the_country_code(tmp_path: Path) -> None:
    path = contacts(tmp_path, *GOOD)
    copy = contacts(tmp_path, *GOOD, name="copy.csv")
    key = remote.upload_key("b1", path, None)
    assert remote.upload_key("b1", copy, None) == key
    assert remote.boundary_of(key) == remote.boundary_of(remote.upload_key("b1", copy, None))
    assert len({key, remote.upload_key("b2", path, None), remote.upload_key("b1", path, "US")}) == 3
    path.write_text(path.read_text() + f"{number(7)},Di\n")
    assert remote.upload_key("b1", path, None) != key


def test_skipped_rows_are_counted_per_reason_without_the_rows_own_values() -> None:
    answer = {
        "errors": [
            {"row": 1, "field": "phone_number", "message": "'abc' is not a phone number"},
            {"row": 2, "field": "phone_number", "message": "'12' is not a phone number"},
            {"row": 2, "field": "invoice", "message": "required by the agent"},
            {"row": 3, "field": "phone_number", "message": "duplicate of row 1 in this submission"},
        ]
    }
    assert reason_kind(answer["errors"][0]) == reason_kind(answer["errors"][1])
    assert skipped_by_reason(answer) == [
        ("phone_number: '…' is not a phone number", 2),
        ("invoice: required by the agent", 1),
        ("phone_number: duplicate of row N in this submission", 1),
    ]
    assert skipped_by_reason({"skipped_by_reason": {"duplicate": 2, "do_not_call": 5}}) == [
        ("do_not_call", 5),
        ("duplicate", 2),
    ]
