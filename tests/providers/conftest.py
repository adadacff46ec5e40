"""A Twilio-speaking server on loopback for the Twilio tests, with the account the tenant connects."""

from collections.abc import Iterator

import pytest

from batchcall.runtime import Runtime
from tests.providers.twilio_server import Account, FakeTwilio, Outcome
from tests.providers.twilio_support import BUSY, MACHINE
from tests.support import CALLER_ID, served


@pytest.fixture
def account() -> Account:
    return Account(numbers=[CALLER_ID])


@pytest.fixture
def twilio(account: Account) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(account)
    fake.outcomes = {MACHINE: Outcome(answered_by="machine_end_beep"), BUSY: Outcome(status="busy")}
    with fake.running():
        yield fake


@pytest.fixture
def public(runtime: Runtime) -> Iterator[str]:
    """This server on a real port, which Twilio reaches at BATCHCALL_PUBLIC_URL."""
    with served(runtime) as url:
        runtime.settings = runtime.settings.model_copy(update={"public_url": url})
        yield url
