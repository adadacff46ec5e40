"""The batch state machine: one checked move for every status change, whoever causes it, and completion
the moment a batch's last call ends."""

import pytest
from fastapi.testclient import TestClient

from batchcall.batches import transitions
from batchcall.db import unit_of_work
from batchcall.dispatcher.loop import Dispatcher, Tick
from batchcall.kit.clock import ManualClock
from batchcall.kit.errors import Conflict
from batchcall.models import Batch, BatchStatus
from batchcall.runtime import Runtime
from tests.dialling import number, start
from tests.support import Tenant, batch_of


def test_a_paused_batch_whose_calls_all_ended_completes(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(i)} for i in range(2)])
    assert dispatcher.tick().dialled == 2
    assert client.post(f"/v1/batches/{batch['id']}/pause", headers=tenant.headers).status_code == 200
    clock.advance(1)
    assert dispatcher.tick().ended == 2
    done = batch_of(client, tenant, batch["id"])
    assert done["status"] == "completed"
    assert done["completed_at"] is not None
    assert done["counters"]["completed"] == 2


def test_a_batch_completes_with_its_last_call_not_on_a_later_claim(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(0)}])
    assert dispatcher.tick().dialled == 1
    clock.advance(1)
    tick = Tick()
    # Only the provider's events: no batch gets a turn to claim.
    dispatcher.deliver_events(tick)
    assert tick.ended == 1
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"


def test_a_batch_whose_calls_were_all_skipped_completes_when_it_starts(
    client: TestClient, tenant: Tenant
) -> None:
    client.post("/v1/dnc", json={"phone_number": number(0)}, headers=tenant.headers)
    batch = start(client, tenant, [{"phone_number": number(0)}])
    done = batch_of(client, tenant, batch["id"])
    assert done["status"] == "completed"
    assert done["counters"]["skipped"] == 1


def test_a_move_the_machine_does_not_have_is_refused(
    runtime: Runtime, client: TestClient, tenant: Tenant
) -> None:
    created = start(client, tenant, [{"phone_number": number(0)}])
    with unit_of_work(runtime.sessions) as session:
        batch = session.get(Batch, created["id"])
        assert batch is not None
        with pytest.raises(Conflict, match="cannot go from active to draft"):
            transitions.move(session, batch, BatchStatus.DRAFT, runtime.clock.now())
        transitions.move(session, batch, BatchStatus.CANCELED, runtime.clock.now())
        with pytest.raises(Conflict, match="cannot go from canceled to active"):
            transitions.move(session, batch, BatchStatus.ACTIVE, runtime.clock.now())


def test_every_status_has_its_moves_and_every_action_starts_from_known_statuses() -> None:
    assert set(transitions.MOVES) == set(BatchStatus)
    for allowed in [*transitions.MOVES.values(), *transitions.ACTIONS.values()]:
        assert allowed <= set(BatchStatus)
