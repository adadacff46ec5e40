"""SPEC 4, rule 7: "Every accepted row ends in exactly one terminal state; the batch counters always equal
the sum of its calls' states; a batch whose calls are all terminal becomes `completed`."
"""

from collections import Counter

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import TERMINAL
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, run_until_done, start
from tests.support import Tenant, batch_of, calls_of, create_batch

ENDED = {str(status) for status in TERMINAL}


def test_every_row_ends_once_and_counters_match(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    rows = [{"phone_number": number(i)} for i in range(6)] + [
        {"phone_number": number(0, s)} for s in ("0001", "0002", "0003", "0004", "0005")
    ]
    batch = start(client, tenant, rows)
    for _ in range(3):
        dispatcher.tick()
        counters = batch_of(client, tenant, batch["id"])["counters"]
        by_status = Counter(c["status"] for c in calls_of(client, tenant, batch["id"]))
        assert counters["total"] == sum(by_status.values()) == 11
        assert (
            counters["in_progress"] == by_status["dialing"] + by_status["ringing"] + by_status["in_progress"]
        )
        clock.advance(0.01)
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    calls = calls_of(client, tenant, batch["id"])
    assert all(c["status"] in TERMINAL for c in calls)
    expected = {"completed": 7, "busy": 1, "no_answer": 1, "failed": 1, "voicemail": 1}
    assert {k: done["counters"][k] for k in expected} == expected
    assert done["counters"]["queued"] == done["counters"]["in_progress"] == 0
    assert done["completed_at"] is not None
    assert len(ledger(runtime)) == 11
    assert {line["outcome"] for line in ledger(runtime)} == {
        "completed",
        "busy",
        "no_answer",
        "failed",
        "voicemail",
    }


def test_a_batch_without_calls_does_not_complete(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    batch = create_batch(client, tenant, schedule="immediate")
    dispatcher.tick()
    assert batch_of(client, tenant, batch["id"])["status"] == "active"
