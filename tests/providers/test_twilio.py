"""Twilio voice, end to end against a Twilio-speaking server on loopback: the real ``twilio`` client places
the calls, the server fetches their TwiML and posts their callbacks signed as Twilio signs them, and the
calls end as Twilio said, with its price, duration and answering-machine verdict."""

import random
import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from batchcall.app import create_app
from batchcall.config import Settings
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import WebhookDelivery
from batchcall.providers.registry import ProviderNotSetUp
from batchcall.providers.twilio.config import TwilioSettings
from batchcall.runtime import Runtime
from tests.dialling import start
from tests.providers.twilio_server import Account, FakeTwilio
from tests.providers.twilio_support import (
    BUSY,
    HUMAN,
    MACHINE,
    attempt_of,
    batch_of_call,
    calls_of,
    connect,
)
from tests.support import CALLER_ID, Tenant, batch_of, make_tenant, served


def test_a_campaign_through_twilio_ends_as_twilio_reported_it(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    created = connect(client, tenant, twilio, account)
    client.post("/v1/webhooks", json={"url": "https://hooks.example/calls"}, headers=tenant.headers)
    batch = start(
        client, tenant, [{"phone_number": n, "instruction": f"Hello {n}"} for n in (HUMAN, MACHINE, BUSY)]
    )
    verified = client.post(f"/v1/provider-accounts/{created['id']}/verify", headers=tenant.headers).json()
    assert verified["ok"] is True
    assert verified["account_status"] == "active"
    assert verified["caller_ids_owned"] == [CALLER_ID]
    dispatcher = Dispatcher(runtime, worker_id="w")
    assert dispatcher.tick().dialled == 3
    placed = {call.one("To"): call for call in twilio.calls.values()}
    assert set(placed) == {HUMAN, MACHINE, BUSY}
    human = placed[HUMAN]
    assert human.one("From") == CALLER_ID
    assert human.one("Url").startswith(f"{public}/v1/providers/twilio/twiml/")
    assert human.params["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert human.one("StatusCallback").startswith(f"{public}/v1/providers/twilio/events?")
    assert int(human.one("Timeout")) >= 15
    assert (human.one("MachineDetection"), human.one("AsyncAmd")) == ("Enable", "true")
    twilio.play(human.sid, shuffled=random.Random(7), twice=True)
    # No agent: the call a machine answered goes on as it would, and ends a voicemail.
    twilio.play(placed[MACHINE].sid, machine_wait_seconds=0)
    twilio.play(placed[BUSY].sid, twice=True)
    assert {status for _, status in twilio.answers} == {200}
    assert human.twiml is not None
    assert f"<Say>Hello {HUMAN}</Say>" in human.twiml
    dispatcher.tick()
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"
    calls = calls_of(client, tenant, batch["id"])
    assert {to: call["status"] for to, call in calls.items()} == {
        HUMAN: "completed",
        MACHINE: "voicemail",
        BUSY: "busy",
    }
    answered = attempt_of(client, tenant, calls[HUMAN]["id"])
    assert answered["provider"] == "twilio"
    assert answered["provider_account_id"] == created["id"]
    assert answered["provider_call_id"] == human.sid
    assert answered["answered_by"] == "human"
    assert answered["duration_seconds"] == 42
    assert (answered["cost_micros"], answered["currency"]) == (13_000, "USD")
    assert attempt_of(client, tenant, calls[MACHINE]["id"])["answered_by"] == "machine_end_beep"
    with runtime.sessions() as session:
        payloads = session.scalars(
            select(WebhookDelivery.payload).where(WebhookDelivery.event_type == "call.completed")
        ).all()
    [completed] = payloads
    assert completed["data"]["attempt"]["provider_call_id"] == human.sid
    assert completed["data"]["attempt"]["cost_micros"] == 13_000


def test_a_forged_or_unsigned_callback_is_refused_and_changes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant, twilio: FakeTwilio, account: Account, public: str
) -> None:
    connect(client, tenant, twilio, account)
    start(client, tenant, [{"phone_number": HUMAN}])
    Dispatcher(runtime, worker_id="w").tick()
    [call] = twilio.calls.values()
    url = call.one("StatusCallback")
    params = {"AccountSid": account.sid, "CallSid": call.sid, "CallStatus": "completed", "CallDuration": "9"}
    forged = twilio.post(url, params, "not-the-token")
    unsigned = client.post(url.removeprefix(public), data=params)
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    # Signed for another URL (a replay at another attempt's address) is forged too.
    elsewhere = url.replace("attempt=", "attempt=x")
    signature = twilio.sign(url, params, account.auth_token)
    moved = client.post(
        elsewhere.removeprefix(public), data=params, headers={"X-Twilio-Signature": signature}
    )
    assert moved.status_code == 403
    [row] = calls_of(client, tenant, batch_of_call(client, tenant)).values()
    assert row["status"] == "ringing"


def test_a_callback_of_another_workspaces_account_moves_none_of_this_ones_calls(
    client: TestClient, runtime: Runtime, tenant: Tenant, twilio: FakeTwilio, account: Account, public: str
) -> None:
    connect(client, tenant, twilio, account)
    start(client, tenant, [{"phone_number": HUMAN}])
    Dispatcher(runtime, worker_id="w").tick()
    [call] = twilio.calls.values()
    intruder_account = Account()
    twilio.accounts[intruder_account.sid] = intruder_account
    intruder = make_tenant(runtime, "Intruder")
    theirs = connect(client, intruder, twilio, intruder_account)
    # Their own account's URL, signed with their own token, naming our attempt and our Twilio call.
    url = call.one("StatusCallback").split("&account=")[0] + f"&account={theirs['id']}"
    params = {"AccountSid": intruder_account.sid, "CallSid": call.sid, "CallStatus": "completed"}
    answer = twilio.post(url, params, intruder_account.auth_token)
    assert answer.status_code == 200
    [row] = calls_of(client, tenant, batch_of_call(client, tenant)).values()
    assert row["status"] == "ringing"


def test_the_twiml_of_an_attempt_is_given_only_to_twilio_at_its_signed_url(
    client: TestClient, runtime: Runtime, tenant: Tenant, twilio: FakeTwilio, account: Account, public: str
) -> None:
    connect(client, tenant, twilio, account)
    start(client, tenant, [{"phone_number": HUMAN, "instruction": "Your secret appointment"}])
    Dispatcher(runtime, worker_id="w").tick()
    [call] = twilio.calls.values()
    url = call.one("Url")
    params = {"AccountSid": account.sid, "CallSid": call.sid, "CallStatus": "in-progress"}
    assert twilio.post(url, params, account.auth_token).status_code == 200
    assert twilio.post(url.split("?")[0] + "?token=0", params, account.auth_token).status_code == 403
    assert twilio.post(url, params, "wrong-token").status_code == 403
    unsigned = client.post(url.removeprefix(public), data=params)
    assert unsigned.status_code == 403
    assert "secret appointment" not in unsigned.text


def test_a_throttle_places_nothing_and_the_call_is_dialled_again_later(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    connect(client, tenant, twilio, account)
    batch = start(client, tenant, [{"phone_number": HUMAN}, {"phone_number": MACHINE}])
    twilio.failures = [(429, 20429, "Too Many Requests")]
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    # The throttle held the second dial too: neither was placed, and neither is an attempt.
    assert twilio.calls == {}
    calls = calls_of(client, tenant, batch["id"])
    assert {call["status"] for call in calls.values()} == {"queued"}
    assert {call["attempts"] for call in calls.values()} == {0}
    clock.advance(1)
    dispatcher.tick()
    assert twilio.calls == {}
    clock.advance(5)
    dispatcher.tick()
    assert {call.one("To") for call in twilio.calls.values()} == {HUMAN, MACHINE}
    assert [method for method, path in twilio.requests if path.endswith("/Calls.json")].count("POST") == 3


def test_a_call_twilio_could_not_be_reached_for_is_dialled_again_later(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    created = connect(client, tenant, twilio, account)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    path = f"/v1/provider-accounts/{created['id']}"
    assert client.patch(path, json={"api_base_url": closed}, headers=tenant.headers).status_code == 200
    batch = start(client, tenant, [{"phone_number": HUMAN}])
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    # Nothing listened: the dial went nowhere, and is not an attempt.
    [call] = calls_of(client, tenant, batch["id"]).values()
    assert (call["status"], call["attempts"]) == ("queued", 0)
    clock.advance(16)
    restored = client.patch(path, json={"api_base_url": twilio.base_url}, headers=tenant.headers)
    assert restored.status_code == 200
    dispatcher.tick()
    [placed] = twilio.calls.values()
    twilio.play(placed.sid)
    dispatcher.tick()
    [call] = calls_of(client, tenant, batch["id"]).values()
    assert (call["status"], call["attempts"]) == ("completed", 1)


@pytest.mark.parametrize(
    ("code", "message", "blocked"),
    [(21211, "is not a valid phone number", False), (21610, "unsubscribed recipient", True)],
)
def test_a_refusal_for_good_fails_the_call_without_a_retry(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
    code: int,
    message: str,
    blocked: bool,
) -> None:
    connect(client, tenant, twilio, account)
    batch = start(
        client,
        tenant,
        [{"phone_number": HUMAN}],
        max_retry_attempts=3,
        retry_delay_seconds=60,
        retry_on=["failed"],
    )
    twilio.failures = [(400, code, f"The number {message}")]
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    clock.advance(120)
    dispatcher.tick()
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"
    [call] = calls_of(client, tenant, batch["id"]).values()
    assert call["status"] == "failed"
    assert call["attempts"] == 1
    attempt = attempt_of(client, tenant, call["id"])
    assert attempt["error_code"] == str(code)
    assert message in attempt["error"]
    listed = client.get("/v1/dnc", headers=tenant.headers).json()["data"]
    assert [entry["phone_number"] for entry in listed] == ([HUMAN] if blocked else [])


def test_a_call_twilio_answered_too_late_is_left_to_its_callbacks_and_never_placed_twice(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    patient = runtime.settings.twilio.model_copy(update={"request_timeout_seconds": 0.3})
    runtime.settings = runtime.settings.model_copy(update={"twilio": patient})
    connect(client, tenant, twilio, account)
    batch = start(client, tenant, [{"phone_number": HUMAN}, {"phone_number": BUSY}])
    twilio.slow_answers = [2.0]
    dispatcher = Dispatcher(runtime, worker_id="w")
    assert dispatcher.tick().dialled == 2
    # Twilio placed both; the answer for the first came after the client had stopped waiting.
    assert len(twilio.calls) == 2
    recorded = [
        attempt_of(client, tenant, call["id"])["provider_call_id"]
        for call in calls_of(client, tenant, batch["id"]).values()
    ]
    assert sorted(sid is None for sid in recorded) == [False, True]
    for _ in range(3):
        clock.advance(runtime.settings.lease_seconds + 1)
        dispatcher.tick()
    assert len(twilio.calls) == 2
    for call in list(twilio.calls.values()):
        twilio.play(call.sid)
    dispatcher.tick()
    calls = calls_of(client, tenant, batch["id"])
    assert {to: (call["status"], call["attempts"]) for to, call in calls.items()} == {
        HUMAN: ("completed", 1),
        BUSY: ("busy", 1),
    }
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"


def test_a_call_whose_worker_died_is_reconciled_by_asking_twilio_for_it(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    connect(client, tenant, twilio, account)
    batch = start(client, tenant, [{"phone_number": HUMAN}])
    Dispatcher(runtime, worker_id="dead").tick()
    [call] = twilio.calls.values()
    # Twilio finished the call, but its callbacks never arrived.
    call.status, call.answered_by, call.duration, call.price = "completed", "human", 30, "-0.02600"
    clock.advance(runtime.settings.lease_seconds + 1)
    Dispatcher(runtime, worker_id="survivor").tick()
    [row] = calls_of(client, tenant, batch["id"]).values()
    assert row["status"] == "completed"
    attempt = attempt_of(client, tenant, row["id"])
    assert (attempt["duration_seconds"], attempt["cost_micros"], attempt["answered_by"]) == (
        30,
        26_000,
        "human",
    )
    assert ("GET", f"/2010-04-01/Accounts/{account.sid}/Calls/{call.sid}.json") in twilio.requests


def test_verify_says_what_is_wrong_with_an_account(
    client: TestClient, tenant: Tenant, twilio: FakeTwilio, account: Account
) -> None:
    created = connect(client, tenant, twilio, account)
    client.post("/v1/phone-numbers", json={"number": "+14155550123"}, headers=tenant.headers)
    account.status = "suspended"
    found = client.post(f"/v1/provider-accounts/{created['id']}/verify", headers=tenant.headers).json()
    assert (found["ok"], found["account_status"]) == (False, "suspended")
    assert found["caller_ids_not_owned"] == ["+14155550123"]
    account.auth_token = "changed-at-twilio"
    refused = client.post(f"/v1/provider-accounts/{created['id']}/verify", headers=tenant.headers).json()
    assert refused["ok"] is False
    assert "401" in refused["detail"]


def test_a_one_tenant_box_dials_through_its_own_twilio_account(
    settings: Settings, clock: ManualClock, twilio: FakeTwilio, account: Account
) -> None:
    own = TwilioSettings(
        account_sid=account.sid,
        auth_token=account.auth_token,
        api_base_url=twilio.base_url,
        calls_per_second=1000,
    )
    runtime = Runtime.from_settings(
        settings.model_copy(update={"provider": "twilio", "twilio": own, "public_url": "http://127.0.0.1:1"}),
        clock,
    )
    tenant = make_tenant(runtime, "Solo")
    with served(runtime) as url, TestClient(create_app(runtime)) as client:
        runtime.settings = runtime.settings.model_copy(update={"public_url": url})
        batch = start(client, tenant, [{"phone_number": HUMAN}])
        dispatcher = Dispatcher(runtime, worker_id="w")
        dispatcher.tick()
        [call] = twilio.calls.values()
        assert "account=" not in call.one("StatusCallback")
        twilio.play(call.sid)
        dispatcher.tick()
        assert batch_of(client, tenant, batch["id"])["status"] == "completed"
    runtime.engine.dispose()


@pytest.mark.parametrize(
    ("update", "missing"),
    [
        ({}, "BATCHCALL_TWILIO_ACCOUNT_SID and BATCHCALL_TWILIO_AUTH_TOKEN are not set"),
        (
            {"twilio": TwilioSettings(account_sid="AC" + "1" * 32, auth_token="t")},
            "BATCHCALL_PUBLIC_URL is not set",
        ),
    ],
)
def test_a_box_set_to_dial_through_twilio_without_its_settings_does_not_start(
    settings: Settings, update: dict[str, Any], missing: str
) -> None:
    with pytest.raises(ProviderNotSetUp) as refused:
        Runtime.from_settings(
            settings.model_copy(update={"provider": "twilio", "twilio": TwilioSettings(), **update})
        )
    assert str(refused.value).startswith(f"BATCHCALL_PROVIDER is 'twilio', but {missing}")
