"""SPEC 4, rule 3: "No dial to a number on the do-not-call list." The list is checked again at dial
time, so a number blocked after its row was accepted is not dialled either."""

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, run_until_done, start
from tests.support import Tenant, calls_of


def test_a_number_blocked_after_submission_is_skipped_at_dial_time(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}, {"phone_number": number(2)}])
    response = client.post(
        "/v1/dnc", json={"phone_number": number(2), "reason": "asked"}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert done["counters"]["skipped"] == 1
    blocked = next(c for c in calls_of(client, tenant, batch["id"]) if c["to"] == number(2))
    assert blocked["status"] == "skipped"
    assert "do-not-call" in blocked["skip_reason"]
    assert [line["to"] for line in ledger(runtime)] == [number(1)]


def test_an_opt_out_during_a_call_adds_the_number_to_the_list(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    first = start(client, tenant, [{"phone_number": number(0, "0005")}])
    done = run_until_done(dispatcher, clock, client, tenant, first["id"])
    assert done["counters"]["completed"] == 1
    listed = client.get("/v1/dnc", headers=tenant.headers).json()["data"]
    assert [entry["phone_number"] for entry in listed] == [number(0, "0005")]
    second = start(client, tenant, [{"phone_number": number(0, "0005")}])
    assert calls_of(client, tenant, second["id"])[0]["status"] == "skipped"
    assert len(ledger(runtime)) == 1
