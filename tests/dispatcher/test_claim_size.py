"""A batch turn claims no more calls than the provider places in half a second (rule 8: a pause stops
new dials within a second), and up to ``claim_batch_size`` when the provider is fast."""

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import DIAL_BUDGET_SECONDS, FIRST_CLAIM, Dispatcher
from tests.dialling import number, start
from tests.support import Tenant


def test_claims_follow_the_providers_dial_time(dispatcher: Dispatcher) -> None:
    assert dispatcher.claim_limit() == FIRST_CLAIM
    dispatcher.dial_seconds = 0.1
    assert dispatcher.claim_limit() == int(DIAL_BUDGET_SECONDS / 0.1)
    dispatcher.dial_seconds = 2.0
    assert dispatcher.claim_limit() == 1
    dispatcher.dial_seconds = 1e-5
    assert dispatcher.claim_limit() == dispatcher.runtime.settings.claim_batch_size


def test_a_fast_provider_gets_large_claims_after_the_first(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    start(
        client,
        tenant,
        [{"phone_number": number(i)} for i in range(FIRST_CLAIM + 50)],
        max_concurrent_calls=500,
    )
    assert dispatcher.tick().dialled == FIRST_CLAIM
    assert dispatcher.dial_seconds is not None
    assert dispatcher.claim_limit() > FIRST_CLAIM
    assert dispatcher.tick().dialled == 50
