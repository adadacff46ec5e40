"""Provider callbacks over HTTP take the same path as every other status event."""

import json

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.support import Tenant, add_rows, create_batch


def test_a_callback_ends_the_call_once(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    batch = create_batch(client, tenant, schedule="immediate")
    add_rows(client, tenant, batch["id"], [{"phone_number": "+12125550002"}])
    # A worker that places the call but never hears back: the callback has to do it.
    Dispatcher(runtime, worker_id="deaf").tick()
    call = client.get(f"/v1/batches/{batch['id']}/calls", headers=tenant.headers).json()["data"][0]
    attempt = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()["attempts"][0]
    clock.advance(60)
    body = json.dumps({"provider_call_id": attempt["provider_call_id"]})
    first = client.post("/v1/providers/simulated/events", content=body)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 1, "new": 1, "duplicates": 0}
    again = client.post("/v1/providers/simulated/events", content=body)
    assert again.json() == {"received": 1, "new": 0, "duplicates": 1}
    ended = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    assert (ended["status"], ended["outcome"]) == ("no_answer", "no_answer")


def test_callbacks_for_another_provider_or_garbled_are_refused(client: TestClient) -> None:
    assert client.post("/v1/providers/twilio/events", content=b"{}").status_code == 404
    assert client.post("/v1/providers/simulated/events", content=b"{").status_code == 422
    unknown = client.post("/v1/providers/simulated/events", content=b'{"provider_call_id": "nope"}')
    assert unknown.status_code == 422
