"""Helpers for tests that drive a dispatcher tick by tick on the manual clock (the ``dispatcher`` fixture of
tests/conftest.py) and read what it did."""

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.support import Tenant, add_rows, batch_of, create_batch


def ledger(runtime: Runtime) -> list[dict[str, Any]]:
    path = Path(runtime.settings.simulated.ledger)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def number(index: int, suffix: str | None = None) -> str:
    """A valid New York number; ``suffix`` picks the simulated outcome by its last four digits."""
    return f"+1212555{suffix or f'{1000 + index:04d}'}"


def start(client: TestClient, tenant: Tenant, rows: list[Any], **fields: Any) -> dict[str, Any]:
    """An immediate batch with ``rows`` (with the tenant's callable agent unless ``fields`` name one)."""
    batch = create_batch(client, tenant, **{"schedule": "immediate", **fields})
    add_rows(client, tenant, batch["id"], rows)
    return batch


def run_until_done(
    dispatcher: Dispatcher,
    clock: ManualClock,
    client: TestClient,
    tenant: Tenant,
    batch_id: str,
    step: float = 1.0,
    limit: int = 200,
) -> dict[str, Any]:
    """Tick and move the clock by ``step`` until the batch is completed; answers the batch."""
    for _ in range(limit):
        dispatcher.tick()
        batch = batch_of(client, tenant, batch_id)
        if batch["status"] == "completed":
            return batch
        clock.advance(step)
    raise AssertionError(f"batch {batch_id} did not complete: {batch_of(client, tenant, batch_id)}")
