"""Twilio adapter benchmark: call starts per second of one worker dialling through the real ``twilio``
client to a Twilio-speaking server on loopback, beside the simulated provider, in one run.

Both dial the same batch shape (calls that never end within the run, so only placing is measured); the
difference per call is what placing through Twilio's REST API adds: the client's request building, HTTP
on loopback, and the fake's answer. A real Twilio adds its own network round trip on top, and an account's
calls per second (1 by default) bounds it long before this does.
"""

import time

from tests.providers.twilio_server import Account, FakeTwilio

from batchcall.dispatcher.loop import Dispatcher
from batchcall.providers.simulated.config import SimulatedSettings
from batchcall.providers.twilio.config import TwilioSettings
from batchcall.runtime import Runtime
from batchcall.testing import scratch_database
from bench.dispatch import CALLER_ID, new_batch, runtime_for
from bench.support import machine_load

CALLS = 1_000


def starts_per_second(runtime: Runtime) -> float:
    """Call starts per second of one worker placing CALLS calls (none ends meanwhile)."""
    new_batch(runtime, CALLS, max_concurrent=CALLS)
    dispatcher = Dispatcher(runtime, worker_id="bench")
    started = time.perf_counter()
    dialled = 0
    while dialled < CALLS:
        dialled += dispatcher.tick().dialled
    return CALLS / (time.perf_counter() - started)


def run(kind: str) -> None:
    account = Account(numbers=[CALLER_ID])
    fake = FakeTwilio(account)
    with scratch_database(kind, "batchcall_bench_twilio") as url, fake.running():
        simulated = runtime_for(url, simulated=SimulatedSettings(call_seconds=3_600.0))
        simulated_rate = starts_per_second(simulated)
        simulated.engine.dispose()
        own = TwilioSettings(
            account_sid=account.sid,
            auth_token=account.auth_token,
            api_base_url=fake.base_url,
            calls_per_second=1_000_000,
        )
        # Twilio is never asked to call back during the run: the URL only has to be set.
        twilio = runtime_for(url, provider="twilio", twilio=own, public_url="http://127.0.0.1:9")
        twilio_rate = starts_per_second(twilio)
        twilio.engine.dispose()
    assert len(fake.calls) == CALLS
    added_ms = (1 / twilio_rate - 1 / simulated_rate) * 1000
    print(
        f"twilio    {kind:<10} through Twilio {twilio_rate:7,.0f} call starts/s   "
        f"simulated {simulated_rate:7,.0f} call starts/s   ratio {twilio_rate / simulated_rate:5.1%}   "
        f"added per call {added_ms:.3f} ms"
    )


def main() -> None:
    print(
        f"twilio: {CALLS:,} calls per run, one worker, the twilio client against a loopback server; "
        f"{machine_load()}"
    )
    for kind in ("postgresql", "sqlite"):
        run(kind)


if __name__ == "__main__":
    main()
