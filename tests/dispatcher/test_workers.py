"""Real ``batchcall worker`` processes on one PostgreSQL database: caps hold, nothing is dialled twice,
and a worker killed mid-call leaves nothing behind that another cannot finish."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from batchcall import db
from batchcall.app import create_app
from batchcall.batches import repository as batch_repository
from batchcall.config import Settings
from batchcall.models import TERMINAL
from batchcall.runtime import Runtime
from batchcall.testing import scratch_database
from tests.support import add_rows, create_batch, make_tenant

pytestmark = pytest.mark.slow

WORKER = Path(sys.executable).parent / "batchcall"
ENDED = {str(status) for status in TERMINAL}


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own, which the worker processes reach by URL."""
    with scratch_database("postgresql", "batchcall_workers") as url:
        db.migrate(url)
        yield url


def _batch(url: str, rows: int, **fields: Any) -> tuple[Runtime, str]:
    runtime = Runtime.from_settings(Settings(database_url=url, run_dispatcher=False))
    tenant = make_tenant(runtime, "Acme")
    with TestClient(create_app(runtime)) as client:
        # The workers run on the real clock: recipient hours would make the test depend on the hour it runs.
        batch = create_batch(
            client,
            tenant,
            schedule="immediate",
            retry_delay_seconds=0,
            respect_recipient_timezone=False,
            **fields,
        )
        add_rows(client, tenant, batch["id"], [{"phone_number": f"+1212555{i:04d}"} for i in range(rows)])
    return runtime, batch["id"]


def _worker(url: str, ledger: Path, name: str, **settings: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BATCHCALL_DATABASE_URL": url,
        "BATCHCALL_SIM_LEDGER": str(ledger),
        "BATCHCALL_WORKER_ID": name,
        "BATCHCALL_POLL_INTERVAL_SECONDS": "0.01",
        "BATCHCALL_LOG_LEVEL": "WARNING",
        **{f"BATCHCALL_{key.upper()}": value for key, value in settings.items()},
    }
    return subprocess.Popen([str(WORKER), "worker"], env=env, stderr=subprocess.PIPE)


def _wait_for(runtime: Runtime, batch_id: str, status: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.engine.connect() as connection:
            found = connection.execute(
                text("SELECT status FROM batches WHERE id = :id"), {"id": batch_id}
            ).scalar()
        if found == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"batch {batch_id} is not {status} after {timeout} s")


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        _, errors = worker.communicate(timeout=20)
        assert worker.returncode in (0, -signal.SIGKILL), errors.decode()


def _ledger(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _most_in_flight(lines: list[dict[str, Any]]) -> int:
    """The most dials that overlapped at any instant; a call ending as another starts does not overlap it."""
    edges = sorted(
        [(datetime.fromisoformat(line["ended_at"]), -1) for line in lines]
        + [(datetime.fromisoformat(line["started_at"]), 1) for line in lines]
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def _check_store_against_ledger(
    runtime: Runtime, batch_id: str, lines: list[dict[str, Any]]
) -> dict[str, int]:
    """Every call ended once; its attempts in the store are the dials in the ledger; counters add up."""
    attempt_ids = [line["attempt_id"] for line in lines]
    assert len(attempt_ids) == len(set(attempt_ids)), "an attempt was dialled twice"
    with runtime.engine.connect() as connection:
        calls = connection.execute(
            text("SELECT id, status, attempt_count FROM calls WHERE batch_id = :id"), {"id": batch_id}
        ).all()
        stored = connection.execute(
            text("SELECT id, call_id, provider_call_id FROM attempts WHERE batch_id = :id"), {"id": batch_id}
        ).all()
    statuses = Counter(status for _, status, _ in calls)
    assert set(statuses) <= set(TERMINAL), statuses
    placed = {attempt_id for attempt_id, _, provider_call_id in stored if provider_call_id is not None}
    assert placed <= set(attempt_ids), "the store knows of a dial the provider never got"
    assert set(attempt_ids) <= {attempt_id for attempt_id, _, _ in stored}, "a dial is missing from the store"
    dialled = Counter(line["call_id"] for line in lines)
    assert all(dialled[call_id] <= count for call_id, _, count in calls)
    with runtime.sessions() as session:
        counters = batch_repository.counters(session, [batch_id])[batch_id]
    for status, count in statuses.items():
        assert getattr(counters, status) == count
    assert counters.total == len(calls)
    return dict(statuses)


def test_three_workers_share_one_batch(postgres_url: str, tmp_path: Path) -> None:
    runtime, batch_id = _batch(postgres_url, 2_000, max_concurrent_calls=25, max_retry_attempts=1)
    ledger = tmp_path / "ledger.jsonl"
    workers = [_worker(postgres_url, ledger, f"worker-{n}", sim_speed="1000") for n in range(3)]
    try:
        _wait_for(runtime, batch_id, "completed", timeout=60)
    finally:
        _stop(workers)
    lines = _ledger(ledger)
    assert _most_in_flight(lines) <= 25
    statuses = _check_store_against_ledger(runtime, batch_id, lines)
    assert sum(statuses.values()) == 2_000
    assert len({line["call_id"] for line in lines}) == 2_000
    assert {worker.returncode for worker in workers} == {0}
    runtime.engine.dispose()


def test_a_worker_killed_mid_call_is_recovered_by_another(postgres_url: str, tmp_path: Path) -> None:
    runtime, batch_id = _batch(postgres_url, 300, max_concurrent_calls=25, max_retry_attempts=1)
    ledger = tmp_path / "ledger.jsonl"
    settings = {"sim_speed": "40", "lease_seconds": "2"}  # calls of half a second, leases of two
    doomed = _worker(postgres_url, ledger, "doomed", **settings)
    deadline = time.monotonic() + 30
    while (not ledger.exists() or len(ledger.read_text().splitlines()) < 60) and time.monotonic() < deadline:
        time.sleep(0.05)
    doomed.kill()
    doomed.wait()
    with runtime.engine.connect() as connection:
        stranded = connection.execute(
            text(
                "SELECT count(*) FROM calls WHERE lease_owner = 'doomed' AND status IN ('dialing', 'ringing')"
            )
        ).scalar()
    assert stranded, "the worker was killed with no call in flight"
    dialled_by_doomed = len(_ledger(ledger))
    survivor = _worker(postgres_url, ledger, "survivor", **settings)
    try:
        _wait_for(runtime, batch_id, "completed", timeout=60)
    finally:
        _stop([survivor])
    lines = _ledger(ledger)
    assert len(lines) > dialled_by_doomed
    statuses = _check_store_against_ledger(runtime, batch_id, lines)
    assert sum(statuses.values()) == 300
    runtime.engine.dispose()
