"""Dispatch benchmark: call starts per second on one worker against the raw claim loop, and memory.

For PostgreSQL and SQLite, in one run:

- the raw claim loop's rate on the same kind of data: a bare ``FOR UPDATE SKIP LOCKED`` claim of 100
  rows and one update, nothing else; measured before and after the dispatcher, and the better of the
  two taken, so a load that comes and goes on the machine does not flatter the ratio;
- the dispatcher's rate: one worker, the simulated provider at zero call length, every rule checked,
  attempts written, provider ids recorded and every call's final event acted on;
- the difference per call, which is what the dispatcher adds to the bare claim;
- peak RSS of a worker process (a child, with a time limit) once it holds 10,000 calls in flight.

Goals: at least 1,000 call starts/s, under 1 ms added per call, under 1 GiB with 10,000 in flight.
Run it when the machine is otherwise idle: the load average is printed with the figures.
"""

import json
import os
import resource
import subprocess
import sys
import time
import uuid

from sqlalchemy import bindparam, text

from batchcall import db
from batchcall.agents import service as agents
from batchcall.agents.schemas import AgentCreate
from batchcall.auth import service as auth
from batchcall.batches import service as batches
from batchcall.batches.schemas import BatchCreate
from batchcall.calls import ingestion
from batchcall.config import Settings
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.sqltypes import is_postgresql
from batchcall.numbers import service as numbers
from batchcall.numbers.schemas import PhoneNumberCreate
from batchcall.providers.simulated.config import SimulatedSettings
from batchcall.runtime import Runtime
from batchcall.testing import scratch_database
from bench.support import machine_load

CALLS = 10_000
IN_FLIGHT = 10_000
RAW_CLAIM = 100
# The worker holding IN_FLIGHT calls runs in a child process, stopped if it takes longer than this.
RSS_TIMEOUT_SECONDS = 600
# The batches' caller id: a Washington DC number the benchmark never dials.
CALLER_ID = "+12025550100"
AREA_CODES = (212, 213, 305, 310, 312, 404, 415, 503, 512, 617, 646, 702, 713, 718, 801, 919)


def runtime_for(url: str, **settings: object) -> Runtime:
    db.migrate(url)
    values: dict[str, object] = {
        "database_url": url,
        "run_dispatcher": False,
        "simulated": SimulatedSettings(call_seconds=0.0),
        **settings,
    }
    return Runtime.from_settings(Settings(**values))  # type: ignore[arg-type]


def new_batch(runtime: Runtime, calls_wanted: int, max_concurrent: int) -> str:
    now = runtime.clock.now()
    # Distinct numbers that all answer and complete (none ends in 0001-0005).
    rows = (
        (n, {"phone_number": f"+1{AREA_CODES[n % 16]}555{1_000 + n // 16 % 9_000:04d}"})
        for n in range(1, calls_wanted + 1)
    )
    with db.unit_of_work(runtime.sessions) as session:
        workspace = auth.create_workspace(session, f"bench {uuid.uuid4().hex[:8]}", now)
        agent = agents.create(session, workspace.id, AgentCreate(name="bench"), now)
        numbers.create(session, workspace.id, PhoneNumberCreate(number=CALLER_ID, agent_id=agent.id), now)
        settings = BatchCreate(
            name="bench",
            agent_id=agent.id,
            schedule="immediate",
            max_concurrent_calls=max_concurrent,
            # The figure is the claim's throughput at any hour the benchmark runs: with recipient hours
            # on, at night in the US the numbers would wait for the morning.
            respect_recipient_timezone=False,
        )
        batch = batches.create(session, workspace.id, settings, now)
        result = ingestion.add_calls(session, batch, rows, now)
        batch_id = batch.id
    assert result.accepted == calls_wanted, result.errors.listed[:3]
    # Fresh statistics, as autovacuum keeps them on a live database: without them PostgreSQL plans the
    # raw loop's and the dispatcher's updates by id as scans of the whole table.
    with runtime.engine.begin() as connection:
        connection.execute(text("ANALYZE calls"))
    return batch_id


def _status(runtime: Runtime, batch_id: str) -> str | None:
    with runtime.engine.connect() as connection:
        status: str | None = connection.execute(
            text("SELECT status FROM batches WHERE id = :id"), {"id": batch_id}
        ).scalar()
    return status


def dispatcher_rate(runtime: Runtime) -> float:
    """Call starts per second of one worker working a batch of CALLS to the end."""
    batch_id = new_batch(runtime, CALLS, max_concurrent=10_000)
    dispatcher = Dispatcher(runtime, worker_id="bench")
    started = time.perf_counter()
    dialled = 0
    while True:
        tick = dispatcher.tick()
        dialled += tick.dialled
        # The batch completes in the pass that ends its last call.
        if tick.ended and _status(runtime, batch_id) == "completed":
            break
    elapsed = time.perf_counter() - started
    with runtime.engine.connect() as connection:
        done = connection.execute(
            text("SELECT count(*) FROM calls WHERE batch_id = :id AND status = 'completed'"), {"id": batch_id}
        ).scalar()
    assert dialled == CALLS == done, (dialled, done)
    return CALLS / elapsed


def raw_claim_rate(runtime: Runtime) -> float:
    """Rows per second of the bare claim: lock 100 due rows, mark them, commit, again."""
    batch_id = new_batch(runtime, CALLS, max_concurrent=10_000)
    lock = " FOR UPDATE SKIP LOCKED" if is_postgresql(runtime.engine) else ""
    pick = text(
        "SELECT id FROM calls WHERE batch_id = :batch AND status IN ('queued', 'scheduled') "
        f"AND next_attempt_at <= :now ORDER BY next_attempt_at, row_number LIMIT {RAW_CLAIM}{lock}"
    )
    mark = text(
        "UPDATE calls SET status = 'dialing', lease_owner = 'raw', attempt_count = attempt_count + 1 "
        "WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    claimed = 0
    started = time.perf_counter()
    while True:
        with runtime.engine.begin() as connection:
            ids = list(connection.execute(pick, {"batch": batch_id, "now": runtime.clock.now()}).scalars())
            if not ids:
                break
            connection.execute(mark, {"ids": ids})
        claimed += len(ids)
    elapsed = time.perf_counter() - started
    assert claimed == CALLS
    return CALLS / elapsed


def hold_in_flight(url: str) -> tuple[int, int]:
    """In this process: one worker claims the waiting calls of the database's batch (call length an
    hour, so none ends) until it holds IN_FLIGHT of them; answers how many and the peak RSS in KiB."""
    runtime = Runtime.from_settings(
        Settings(
            database_url=url,
            run_dispatcher=False,
            simulated=SimulatedSettings(call_seconds=3_600.0),
        )
    )
    dispatcher = Dispatcher(runtime, worker_id="rss")
    in_flight = 0
    while in_flight < IN_FLIGHT:
        dialled = dispatcher.tick().dialled
        if dialled == 0:
            break
        in_flight += dialled
    runtime.engine.dispose()
    return in_flight, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_kib(url: str) -> tuple[int, int] | None:
    """Calls in flight and peak RSS (KiB) of a fresh worker process holding IN_FLIGHT calls; None if it
    failed or ran out of time (the child is then killed, so the benchmark never hangs)."""
    runtime = runtime_for(url)
    new_batch(runtime, IN_FLIGHT, max_concurrent=IN_FLIGHT)
    runtime.engine.dispose()
    command = [sys.executable, "-m", "bench.dispatch", "--hold-in-flight", url]
    environment = {**os.environ, "BATCHCALL_LOG_LEVEL": "WARNING"}
    try:
        child = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=RSS_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"dispatch  the worker holding {IN_FLIGHT:,} calls did not finish in {RSS_TIMEOUT_SECONDS} s")
        return None
    if child.returncode != 0:
        print(f"dispatch  the worker holding {IN_FLIGHT:,} calls failed:\n{child.stderr[-2_000:]}")
        return None
    answer = json.loads(child.stdout.strip().splitlines()[-1])
    return int(answer["in_flight"]), int(answer["peak_rss_kib"])


def run(kind: str) -> None:
    with scratch_database(kind, "batchcall_bench_dispatch") as url:
        runtime = runtime_for(url)
        raw_before = raw_claim_rate(runtime)
        rate = dispatcher_rate(runtime)
        raw_after = raw_claim_rate(runtime)
        runtime.engine.dispose()
        held = peak_rss_kib(url)
    raw = max(raw_before, raw_after)
    overhead_ms = (1 / rate - 1 / raw) * 1000
    memory = "n/a" if held is None else f"{held[1] / 1024:,.0f} MiB with {held[0]:,} in flight"
    print(
        f"dispatch  {kind:<10} dispatcher {rate:7,.0f} call starts/s   "
        f"raw claim loop {raw:7,.0f} rows/s (runs {raw_before:,.0f} and {raw_after:,.0f})   "
        f"ratio {rate / raw:5.1%}   added per call {overhead_ms:.3f} ms   peak RSS {memory}"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--hold-in-flight":
        in_flight, rss = hold_in_flight(sys.argv[2])
        print(json.dumps({"in_flight": in_flight, "peak_rss_kib": rss}))
        return
    print(
        f"dispatch: {CALLS:,} calls per run, simulated provider at zero call length, one worker, "
        f"claims of up to {Settings().claim_batch_size:,} (the default); "
        f"{machine_load()}"
    )
    for kind in ("postgresql", "sqlite"):
        run(kind)


if __name__ == "__main__":
    main()
