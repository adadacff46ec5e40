"""Chaos: real ``batchcall worker`` processes killed at random and right between placing a dial and
recording it, restarted each time, and their PostgreSQL server restarted once mid-campaign. Every call
still ends with its true outcome, nothing is dialled twice or over its retry budget, the concurrency cap
holds, and dialling resumes within seconds of the database coming back."""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from batchcall import db
from batchcall.app import create_app
from batchcall.config import Settings
from batchcall.providers.simulated.provider import CRASH_EXIT_CODE, last_four_digits, outcome_of
from batchcall.runtime import Runtime
from batchcall.testing import PostgresServer, postgres_server
from tests.dispatcher.test_workers import _check_store_against_ledger, _ledger, _most_in_flight
from tests.support import add_rows, create_batch, make_tenant

pytestmark = pytest.mark.slow

WORKER = Path(sys.executable).parent / "batchcall"
ROWS = 200
MAX_CONCURRENT = 20
MAX_RETRIES = 1
WORKERS = 4
# Busy and no answer are retried once; voicemail, opt-out and the rest end at the first dial.
SUFFIXES = ["0001", "0002", "0004", "0005", "1234", "5678", "4321", "8765", "2468", "1357"]
# Of the workers in the order they start, which die in the middle of a dial (the provider has it, the
# store not), and after how many dials of their own (a range to draw from); they run first, by themselves,
# and the others live until killed.
CRASHES_AFTER: dict[int, tuple[int, int]] = {0: (3, 12), 1: (3, 12)}
RANDOM_KILLS = 2
# How soon dialling must resume once the database accepts connections again.
RESUME_SECONDS = 5.0


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, so restarting it disturbs nothing else."""
    with postgres_server() as running:
        db.migrate(running.url)
        yield running


def _phone(index: int) -> str:
    exchanges = [e for e in range(201, 999) if e % 100 != 11]
    return f"+1212{exchanges[index]:03d}{SUFFIXES[index % len(SUFFIXES)]}"


def _campaign(url: str) -> tuple[Runtime, str]:
    runtime = Runtime.from_settings(Settings(database_url=url, run_dispatcher=False))
    tenant = make_tenant(runtime, "Acme")
    with TestClient(create_app(runtime)) as client:
        batch = create_batch(
            client,
            tenant,
            schedule="immediate",
            max_concurrent_calls=MAX_CONCURRENT,
            max_retry_attempts=MAX_RETRIES,
            retry_delay_seconds=0,
            # The workers run on the real clock: recipient hours would make the test depend on the hour.
            respect_recipient_timezone=False,
        )
        add_rows(client, tenant, batch["id"], [{"phone_number": _phone(i)} for i in range(ROWS)])
    return runtime, batch["id"]


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    crash_after: int | None
    up: bool = False

    def is_up(self, folder: Path) -> bool:
        """Past starting up (which needs the database), its dispatcher running."""
        self.up = self.up or f"dispatcher {self.name} started" in (folder / f"{self.name}.log").read_text()
        return self.up


@dataclass
class Fleet:
    """The worker processes, each replaced as soon as it dies; some are set to crash mid-dial."""

    url: str
    ledger: Path
    folder: Path
    rng: random.Random
    running: list[Worker] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    spawned: int = 0

    def spawn(self) -> None:
        name = f"worker-{self.spawned}"
        self.spawned += 1
        env = {
            **os.environ,
            "BATCHCALL_DATABASE_URL": self.url,
            "BATCHCALL_SIM_LEDGER": str(self.ledger),
            "BATCHCALL_SIM_SPEED": "20",  # calls of 1 s
            "BATCHCALL_LEASE_SECONDS": "2",
            "BATCHCALL_WORKER_ID": name,
            "BATCHCALL_POLL_INTERVAL_SECONDS": "0.05",
            "BATCHCALL_LOG_LEVEL": "INFO",
        }
        crash_after = None
        if self.spawned - 1 in CRASHES_AFTER:
            crash_after = self.rng.randint(*CRASHES_AFTER[self.spawned - 1])
            env["BATCHCALL_SIM_CRASH_AFTER_DIALS"] = str(crash_after)
        # A file, not a pipe: a worker logging through an outage must never block on a full pipe.
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen([str(WORKER), "worker"], env=env, stderr=log)
        self.running.append(Worker(name, process, log, crash_after))

    def replace_the_dead(self) -> None:
        for _ in range(self._bury_the_dead()):
            self.spawn()

    def await_the_crashes(self, deadline: float) -> None:
        """Wait until every worker set to crash has died, replacing none: alone, each has dials of its own
        to crash in (among others, one may lose every claim to them and never dial)."""
        while any(worker.crash_after is not None for worker in self.running):
            assert time.monotonic() < deadline, f"the workers set to crash did not: {self.exits}"
            self._bury_the_dead()
            time.sleep(0.05)

    def _bury_the_dead(self) -> int:
        """Take the workers that died off the running, keeping their exit codes; answers how many."""
        dead = [w for w in self.running if w.process.poll() is not None]
        for worker in dead:
            self.exits.append(worker.process.returncode)
            self.running.remove(worker)
            worker.log.close()
        return len(dead)

    def kill_one(self) -> bool:
        """SIGKILL a running worker at random, not one set to crash by itself, while another runs on;
        answers whether there was one to kill."""
        victims = [w for w in self.running if w.is_up(self.folder) and w.crash_after is None]
        if not victims or self.up_count() < 2:
            return False
        victim = self.rng.choice(victims)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        self.replace_the_dead()
        return True

    def up_count(self) -> int:
        return sum(worker.is_up(self.folder) for worker in self.running)

    def stop(self) -> list[int]:
        """Stop every worker; answers their exit codes."""
        for worker in self.running:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.running:
            worker.process.wait(timeout=20)
            worker.log.close()
        return [worker.process.returncode for worker in self.running]


def _status(runtime: Runtime, batch_id: str) -> str | None:
    try:
        with runtime.engine.connect() as connection:
            found: str | None = connection.execute(
                text("SELECT status FROM batches WHERE id = :id"), {"id": batch_id}
            ).scalar()
            return found
    except OperationalError:
        return None  # the server is restarting


def _progress(runtime: Runtime, batch_id: str) -> dict[str, int]:
    with runtime.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT status, count(*) FROM calls WHERE batch_id = :id GROUP BY status"), {"id": batch_id}
        ).all()
    return {status: count for status, count in rows}


def _dials(ledger: Path) -> int:
    return len(ledger.read_text().splitlines()) if ledger.exists() else 0


def _check_true_outcomes(runtime: Runtime, batch_id: str, lines: list[dict[str, Any]]) -> None:
    """Each call's status is the outcome of its last dial, and each dial's the one its number decides."""
    last: dict[str, dict[str, Any]] = {}
    for line in sorted(lines, key=lambda line: line["started_at"]):
        status, _ = outcome_of(last_four_digits(line["to"]))
        assert line["outcome"] == status, line
        last[line["call_id"]] = line
    with runtime.engine.connect() as connection:
        calls = connection.execute(
            text("SELECT id, status FROM calls WHERE batch_id = :id"), {"id": batch_id}
        ).all()
    assert len(calls) == ROWS
    wrong = {call_id: status for call_id, status in calls if last.get(call_id, {}).get("outcome") != status}
    assert not wrong, f"{len(wrong)} call(s) ended otherwise than their last dial: {wrong}"


def test_workers_killed_mid_dial_and_a_database_restart_change_no_outcome(
    server: PostgresServer, tmp_path: Path
) -> None:
    runtime, batch_id = _campaign(server.url)
    rng = random.Random(20261123)
    ledger = tmp_path / "ledger.jsonl"
    fleet = Fleet(server.url, ledger, tmp_path, rng)
    restart_at = ROWS // 5
    kills_at = sorted(rng.sample(range(restart_at, ROWS // 2), RANDOM_KILLS))
    back: datetime | None = None
    # The campaign takes well under a minute; the limit only stops one that hangs.
    deadline = time.monotonic() + 120
    try:
        for _ in CRASHES_AFTER:
            fleet.spawn()
        fleet.await_the_crashes(deadline)
        for _ in range(WORKERS):
            fleet.spawn()
        while _status(runtime, batch_id) != "completed":
            assert time.monotonic() < deadline, (
                f"not completed: {_progress(runtime, batch_id)}, {fleet.exits}"
            )
            fleet.replace_the_dead()
            dialled = _dials(ledger)
            # With every worker running, as one starting up needs the database: the restart measures how
            # soon the workers resume, not how soon they start.
            if back is None and dialled >= restart_at and fleet.up_count() == len(fleet.running):
                server.restart()
                back = datetime.now(UTC)
            if back is not None and kills_at and dialled >= kills_at[0] and fleet.kill_one():
                kills_at.pop(0)
            time.sleep(0.05)
    finally:
        stopped = fleet.stop()
    # A worker stopped while it was still starting up has no calls to finish.
    assert set(stopped) <= {0, -signal.SIGTERM}, stopped
    assert not kills_at, "the batch completed before every random kill"
    assert back is not None, "the batch completed before the database restart"
    crashed_mid_dial = fleet.exits.count(CRASH_EXIT_CODE)
    killed = fleet.exits.count(-signal.SIGKILL)
    assert crashed_mid_dial == len(CRASHES_AFTER), fleet.exits
    assert killed == RANDOM_KILLS, fleet.exits
    assert crashed_mid_dial + killed == len(fleet.exits), fleet.exits

    lines = _ledger(ledger)
    _check_store_against_ledger(runtime, batch_id, lines)
    _check_true_outcomes(runtime, batch_id, lines)
    assert max(Counter(line["call_id"] for line in lines).values()) <= 1 + MAX_RETRIES
    assert _most_in_flight(lines) <= MAX_CONCURRENT
    starts = [datetime.fromisoformat(line["started_at"]) for line in lines]
    resumed_after = min(started for started in starts if started > back) - back
    assert resumed_after < timedelta(seconds=RESUME_SECONDS), resumed_after
    runtime.engine.dispose()
