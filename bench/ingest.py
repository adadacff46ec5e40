"""Ingestion: 100,000 rows through the API against the raw floor measured in the same run.

Raw floor: the same rows parsed and validated by ``phonenumbers`` and written with one bulk insert
(executemany on SQLite, COPY on PostgreSQL), no API. Then 1000-row submits for latency, and on
PostgreSQL one CSV upload of 1,000,000 rows.
"""

import io
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import phonenumbers

from batchcall import db
from batchcall.kit.bulk import bulk_insert
from batchcall.kit.ids import new_id
from batchcall.models import Batch, Call, Workspace
from batchcall.testing import scratch_database
from bench.support import create_workspace, running_server, valid_numbers

ROWS = 100_000
LATENCY_ROWS = 1_000
LATENCY_SAMPLES = 60
CSV_ROWS = 1_000_000


def make_rows(numbers: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "phone_number": number,
            "first_name": "Pat",
            "last_name": f"Row{i}",
            "variables": {"account": f"A{i}"},
        }
        for i, number in enumerate(numbers)
    ]


def raw_floor(database_url: str, rows: list[dict[str, Any]]) -> float:
    """Rows per second for parse + validate + format with phonenumbers and one bulk insert."""
    db.migrate(database_url)
    engine = db.make_engine(database_url)
    sessions = db.make_session_factory(engine)
    now = datetime.now(UTC)
    with db.unit_of_work(sessions) as session:
        workspace = Workspace(id=new_id(), name="floor", slug=f"floor-{new_id()}", created_at=now)
        session.add(workspace)
        session.flush()
        batch = Batch(
            workspace_id=workspace.id,
            name="floor",
            from_numbers=[],
            working_days=[1],
            retry_on=[],
            metadata_={},
            created_at=now,
            updated_at=now,
        )
        session.add(batch)
        session.flush()
        batch_id, workspace_id = batch.id, workspace.id
    started = time.perf_counter()
    with db.unit_of_work(sessions) as session:
        records = []
        for index, row in enumerate(rows, start=1):
            parsed = phonenumbers.parse(row["phone_number"], None)
            if not phonenumbers.is_valid_number(parsed):
                continue
            records.append(
                {
                    "id": new_id(),
                    "workspace_id": workspace_id,
                    "batch_id": batch_id,
                    "row_number": index,
                    "channel": "phone",
                    "to": phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
                    "variables": row["variables"],
                    "metadata": {},
                    "status": "queued",
                    "attempt_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        bulk_insert(session, Call.__table__, records)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(rows) / elapsed


def new_batch(client: httpx.Client) -> str:
    response = client.post("/v1/batches", json={"name": "bench"})
    response.raise_for_status()
    batch_id: str = response.json()["id"]
    return batch_id


def api_rate(client: httpx.Client, rows: list[dict[str, Any]]) -> float:
    batch_id = new_batch(client)
    body = orjson.dumps({"rows": rows})
    started = time.perf_counter()
    response = client.post(
        f"/v1/batches/{batch_id}/calls", content=body, headers={"Content-Type": "application/json"}
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    assert response.json()["accepted"] == len(rows), response.text[:500]
    return len(rows) / elapsed


def submit_latencies(client: httpx.Client) -> tuple[float, float]:
    batch_id = new_batch(client)
    samples = []
    for sample in range(LATENCY_SAMPLES):
        rows = make_rows(valid_numbers(LATENCY_ROWS, offset=5_000_000 + sample * LATENCY_ROWS * 2))
        body = orjson.dumps({"rows": rows})
        started = time.perf_counter()
        response = client.post(
            f"/v1/batches/{batch_id}/calls", content=body, headers={"Content-Type": "application/json"}
        )
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


def csv_upload_seconds(client: httpx.Client) -> float:
    numbers = valid_numbers(CSV_ROWS, offset=20_000_000)
    text = io.StringIO()
    text.write("Phone Number,First Name,account\n")
    for i, number in enumerate(numbers):
        text.write(f"{number},Pat,A{i}\n")
    payload = text.getvalue().encode()
    batch_id = new_batch(client)
    started = time.perf_counter()
    response = client.post(
        f"/v1/batches/{batch_id}/calls/upload",
        files={"file": ("contacts.csv", payload, "text/csv")},
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    assert response.json()["accepted"] == CSV_ROWS, response.text[:500]
    return elapsed


def run(kind: str, rows: list[dict[str, Any]], with_csv: bool) -> None:
    with scratch_database(kind, "batchcall_bench") as floor_url:
        floor = raw_floor(floor_url, rows)
    with scratch_database(kind, "batchcall_bench") as url:
        db.migrate(url)
        key = create_workspace(url)
        with (
            running_server(url) as base_url,
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=300
            ) as client,
        ):
            rate = api_rate(client, rows)
            p50, p99 = submit_latencies(client)
            print(
                f"[{kind}] raw floor {floor:,.0f} rows/s | API {rate:,.0f} rows/s | ratio {rate / floor:.2f}"
            )
            print(f"[{kind}] 1000-row submit: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
            if with_csv:
                seconds = csv_upload_seconds(client)
                rate = CSV_ROWS / seconds
                print(f"[{kind}] CSV upload of {CSV_ROWS:,} rows: {seconds:.1f} s ({rate:,.0f} rows/s)")
        sys.stdout.flush()


def main() -> None:
    rows = make_rows(valid_numbers(ROWS))
    print(f"ingest: {ROWS:,} rows in one request, against the raw floor of the same run")
    run("sqlite", rows, with_csv=False)
    run("postgresql", rows, with_csv=True)


if __name__ == "__main__":
    main()
