"""Twilio SMS, end to end against a Twilio-speaking server on loopback: the real ``twilio`` client sends the
texts, the server reports them sent and then delivered or not, signed as Twilio signs it, and a person's
STOP sent back to one of the workspace's numbers puts them on the do-not-call list."""

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import start
from tests.providers.twilio_server import Account, FakeTwilio, MessageOutcome
from tests.providers.twilio_support import HUMAN, MACHINE, attempt_of, calls_of, connect
from tests.support import CALLER_ID, Tenant, batch_of, callable_agent, make_tenant

LANDLINE = "+12125551004"


def test_texts_go_out_through_twilio_and_end_as_twilio_reported_them(
    client: TestClient, runtime: Runtime, tenant: Tenant, twilio: FakeTwilio, account: Account, public: str
) -> None:
    connect(client, tenant, twilio, account, channels=["voice", "sms"])
    agent_id = callable_agent(client, tenant)
    client.patch(
        f"/v1/agents/{agent_id}",
        json={"prompt_template": "You are calling {{first_name}}.", "sms_template": "Hi {{first_name}}!"},
        headers=tenant.headers,
    )
    twilio.message_outcomes = {LANDLINE: MessageOutcome(status="undelivered", error_code=30006)}
    rows = [
        {"phone_number": HUMAN, "channel": "sms", "first_name": "Ada"},
        {"phone_number": LANDLINE, "channel": "sms", "first_name": "Bob"},
        # A batch may mix channels: the call goes through Twilio's voice, the email through the default.
        {"phone_number": MACHINE, "first_name": "Cy"},
        {"email": "dee@example.com", "channel": "email", "first_name": "Dee"},
    ]
    batch = start(client, tenant, rows)
    dispatcher = Dispatcher(runtime, worker_id="w")
    assert dispatcher.tick().dialled == 4
    texts = {message.one("To"): message for message in twilio.messages.values()}
    assert set(texts) == {HUMAN, LANDLINE}
    assert texts[HUMAN].one("Body") == "Hi Ada!"
    assert texts[HUMAN].one("From") == CALLER_ID
    assert texts[HUMAN].one("StatusCallback").startswith(f"{public}/v1/providers/twilio/events?")
    [voice] = twilio.calls.values()
    assert voice.one("To") == MACHINE
    # The delivery receipt may come before "sent", and twice: the text ends delivered all the same.
    twilio.play_message(texts[HUMAN].sid, reversed_order=True, twice=True)
    twilio.play_message(texts[LANDLINE].sid)
    twilio.play(voice.sid)
    assert {status for _, status in twilio.answers} == {200}
    dispatcher.tick()
    calls = calls_of(client, tenant, batch["id"])
    assert calls[HUMAN]["status"] == "completed"
    assert calls[LANDLINE]["status"] == "failed"
    delivered = attempt_of(client, tenant, calls[HUMAN]["id"])
    assert (delivered["provider"], delivered["provider_call_id"]) == ("twilio", texts[HUMAN].sid)
    assert (delivered["cost_micros"], delivered["currency"]) == (7_900, "USD")
    assert attempt_of(client, tenant, calls[LANDLINE]["id"])["error_code"] == "30006"
    assert calls[MACHINE]["status"] == "voicemail"


def test_a_text_the_carrier_never_confirms_counts_as_delivered_after_the_wait(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    connect(client, tenant, twilio, account, channels=["sms"])
    batch = start(client, tenant, [{"phone_number": HUMAN, "channel": "sms", "instruction": "See you at 4"}])
    Dispatcher(runtime, worker_id="w").tick()
    [message] = twilio.messages.values()
    # Twilio handed the text to the carrier, which sends no receipt; the callback was lost too.
    message.status, message.date_sent = "sent", clock.now()
    clock.advance(runtime.settings.lease_seconds + 1)
    Dispatcher(runtime, worker_id="w2").tick()
    [row] = calls_of(client, tenant, batch["id"]).values()
    assert row["status"] == "in_progress"
    clock.advance(runtime.settings.twilio.sms_receipt_wait_seconds)
    Dispatcher(runtime, worker_id="w3").tick()
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"
    [row] = calls_of(client, tenant, batch["id"]).values()
    assert row["status"] == "completed"


def test_a_text_twilio_refuses_because_the_person_unsubscribed_blocks_them(
    client: TestClient, runtime: Runtime, tenant: Tenant, twilio: FakeTwilio, account: Account, public: str
) -> None:
    connect(client, tenant, twilio, account, channels=["sms"])
    twilio.message_outcomes = {HUMAN: MessageOutcome(status="unsubscribed")}
    batch = start(client, tenant, [{"phone_number": HUMAN, "channel": "sms", "instruction": "Hello"}])
    Dispatcher(runtime, worker_id="w").tick()
    [row] = calls_of(client, tenant, batch["id"]).values()
    assert row["status"] == "failed"
    assert attempt_of(client, tenant, row["id"])["error_code"] == "21610"
    listed = client.get("/v1/dnc", headers=tenant.headers).json()["data"]
    assert [entry["phone_number"] for entry in listed] == [HUMAN]


def test_a_stop_texted_back_puts_the_sender_on_the_do_not_call_list_for_every_channel(
    client: TestClient, runtime: Runtime, tenant: Tenant, twilio: FakeTwilio, account: Account, public: str
) -> None:
    connect(client, tenant, twilio, account, channels=["voice", "sms"])
    callable_agent(client, tenant)
    inbox = f"{public}/v1/providers/twilio/messages"
    # Another workspace with the same number on another Twilio account hears nothing of it.
    other_account = Account(numbers=[CALLER_ID])
    twilio.accounts[other_account.sid] = other_account
    other = make_tenant(runtime, "Other")
    connect(client, other, twilio, other_account, channels=["sms"])
    callable_agent(client, other)

    chatty = twilio.text_in(inbox, account, HUMAN, CALLER_ID, "Stop by at four?")
    assert chatty.status_code == 200
    assert chatty.headers["content-type"].startswith("application/xml")
    forged = twilio.post(
        inbox, {"AccountSid": account.sid, "From": MACHINE, "To": CALLER_ID, "Body": "STOP"}, "not-the-token"
    )
    assert forged.status_code == 403
    unsigned = client.post(
        "/v1/providers/twilio/messages", data={"AccountSid": account.sid, "From": MACHINE, "Body": "STOP"}
    )
    assert unsigned.status_code == 403
    assert client.get("/v1/dnc", headers=tenant.headers).json()["data"] == []

    assert twilio.text_in(inbox, account, HUMAN, CALLER_ID, "  unsubscribe ").status_code == 200
    listed = client.get("/v1/dnc", headers=tenant.headers).json()["data"]
    assert [entry["phone_number"] for entry in listed] == [HUMAN]
    assert client.get("/v1/dnc", headers=other.headers).json()["data"] == []
    # Every channel: a call to the number waiting in a batch is not placed.
    batch = start(client, tenant, [{"phone_number": HUMAN}, {"phone_number": HUMAN, "channel": "sms"}])
    Dispatcher(runtime, worker_id="w").tick()
    assert twilio.calls == {}
    assert twilio.messages == {}
    assert {
        call["status"]
        for call in client.get(f"/v1/batches/{batch['id']}/calls", headers=tenant.headers).json()["data"]
    } == {"skipped"}
