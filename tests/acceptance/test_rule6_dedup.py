"""SPEC 4, rule 6: "A number reached within `dedup_days` is skipped with a reason, as is a duplicate
inside one submission."
"""

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, run_until_done, start
from tests.support import Tenant, add_rows, calls_of, create_batch


def test_a_number_reached_lately_and_a_repeat_are_skipped(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    first = start(client, tenant, [{"phone_number": number(1)}])
    run_until_done(dispatcher, clock, client, tenant, first["id"])
    clock.advance(3600)
    second = create_batch(client, tenant, schedule="immediate", dedup_days=1)
    answer = add_rows(
        client,
        tenant,
        second["id"],
        [{"phone_number": number(1)}, {"phone_number": number(2)}, {"phone_number": number(2)}],
    )
    assert answer["accepted"] == 1
    reasons = {e["row"]: e["message"] for e in answer["errors"]}
    assert "within the last 1 day" in reasons[1]
    assert "duplicate of row 2" in reasons[3]
    run_until_done(dispatcher, clock, client, tenant, second["id"])
    statuses = sorted(c["status"] for c in calls_of(client, tenant, second["id"]))
    assert statuses == ["completed", "skipped", "skipped"]
    assert [line["to"] for line in ledger(runtime)] == [number(1), number(2)]
