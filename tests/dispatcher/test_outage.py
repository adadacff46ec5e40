"""A database blip does not stop a batch: what the provider said meanwhile is kept, and dialling resumes
as soon as the database is back."""

import threading
import time

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher, Tick
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from batchcall.testing import database_outage
from tests.dialling import ledger, number, start
from tests.support import Tenant, batch_of


def test_events_polled_during_an_outage_are_stored_once_it_is_over(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}, {"phone_number": number(0, "0002")}])
    dispatcher = Dispatcher(runtime, worker_id="w")
    assert dispatcher.tick().dialled == 2
    clock.advance(1)
    with database_outage(runtime):
        # The provider hands over both endings; storing them fails.
        dispatcher.deliver_events(Tick())
    tick = dispatcher.tick()
    assert (tick.events, tick.ended) == (2, 2)
    done = batch_of(client, tenant, batch["id"])
    assert done["counters"]["completed"] == 1
    assert done["counters"]["no_answer"] == 1
    assert dispatcher.tick().events == 0


def test_dialling_resumes_within_a_second_of_the_database_coming_back(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    start(client, tenant, [{"phone_number": number(1)}])
    dispatcher = Dispatcher(runtime, worker_id="w")
    stop = threading.Event()
    loop = threading.Thread(target=dispatcher.run, args=(stop,))
    with database_outage(runtime):
        loop.start()
        # Long enough for a few passes to fail.
        stop.wait(0.5)
    back = time.monotonic()
    try:
        while not ledger(runtime) and time.monotonic() - back < 5:
            stop.wait(0.01)
        resumed_after = time.monotonic() - back
    finally:
        stop.set()
        loop.join()
    assert ledger(runtime), "nothing was dialled within 5 s of the database coming back"
    assert resumed_after < 1
