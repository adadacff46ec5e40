"""A paused batch may change when and how it dials (window, days, caps, caller ids, retries), and resumed it
dials by the new settings; what it is (name, agent, channel) changes only while it is a draft."""

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, start
from tests.store import snapshot
from tests.support import Tenant, batch_of

# The test clock starts at 17:00 UTC: outside 09:00-10:00, inside 16:00-23:00.
CLOSED_NOW = {
    "timezone": "UTC",
    "start_time": "09:00",
    "end_time": "10:00",
    "respect_recipient_timezone": False,
}


def test_a_paused_batch_given_a_new_window_dials_in_it_once_resumed(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher
) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}], **CLOSED_NOW)
    url = f"/v1/batches/{batch['id']}"
    dispatcher.tick()
    assert ledger(runtime) == []
    assert client.post(f"{url}/pause", headers=tenant.headers).status_code == 200
    changed = client.patch(
        url,
        json={"start_time": "16:00", "end_time": "23:00", "max_calls_per_day": 50},
        headers=tenant.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["start_time"], changed.json()["max_calls_per_day"]) == ("16:00", 50)
    dispatcher.tick()
    assert ledger(runtime) == [], "still paused"
    assert client.post(f"{url}/resume", headers=tenant.headers).status_code == 200
    dispatcher.tick()
    assert [dial["to"] for dial in ledger(runtime)] == [number(1)]


def test_a_paused_batch_keeps_what_it_is_and_the_refusal_names_the_fields(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}], **CLOSED_NOW)
    url = f"/v1/batches/{batch['id']}"
    assert client.post(f"{url}/pause", headers=tenant.headers).status_code == 200
    before = snapshot(runtime)
    refused = client.patch(url, json={"name": "Renamed", "end_time": "23:00"}, headers=tenant.headers)
    assert refused.status_code == 409
    assert "Cannot update name of batch" in refused.json()["message"]
    assert "window" in refused.json()["message"]
    assert snapshot(runtime) == before
    assert batch_of(client, tenant, batch["id"])["end_time"] == "10:00"
