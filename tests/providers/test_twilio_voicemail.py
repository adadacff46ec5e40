"""A call a machine answered, end to end on loopback, one test per agent's ``voicemail``: the Twilio-speaking
server gives its asynchronous answering-machine verdict while the call is on, and this server asks Twilio
to hang up (``hangup``, ``fallback``) or to replace the call's TwiML with the message after the beep
(``message``, dialled with ``DetectMessageEnd``); a ``fallback`` call then texts the row's SMS instead."""

from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.runtime import Runtime
from tests.dialling import start
from tests.providers.twilio_server import Account, FakeTwilio, Outcome
from tests.providers.twilio_support import HUMAN, calls_of, connect
from tests.support import CALLER_ID, Tenant, register_numbers


def _campaign(client: TestClient, tenant: Tenant, **agent: Any) -> dict[str, Any]:
    """A batch of one row (Ada, at HUMAN) with an agent of ``agent``'s fields, from the tenant's number."""
    body = {"name": "Assistant", "prompt_template": "Confirm the visit of {{name}}", **agent}
    created = client.post("/v1/agents", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    register_numbers(client, tenant, CALLER_ID, agent_id=agent_id)
    rows = [{"phone_number": HUMAN, "variables": {"name": "Ada"}}]
    return start(client, tenant, rows, agent_id=agent_id, from_numbers=[CALLER_ID])


def _call(client: TestClient, tenant: Tenant, batch: dict[str, Any]) -> dict[str, Any]:
    [call] = calls_of(client, tenant, batch["id"]).values()
    detail: dict[str, Any] = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    return detail


def test_a_hangup_agent_hangs_up_on_the_machine_and_the_call_ends_a_voicemail(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    twilio.outcomes[HUMAN] = Outcome(answered_by="machine_start")
    connect(client, tenant, twilio, account)
    batch = _campaign(client, tenant)
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    [placed] = twilio.calls.values()
    assert (placed.one("MachineDetection"), placed.one("AsyncAmd")) == ("Enable", "true")
    twilio.play(placed.sid)
    assert placed.hung_up
    assert placed.updated_twiml is None
    dispatcher.tick()
    call = _call(client, tenant, batch)
    assert call["status"] == "voicemail"
    assert [attempt["answered_by"] for attempt in call["attempts"]] == ["machine_start"]
    assert twilio.messages == {}


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        ({"voicemail_message": "Hi {{name}}, please call us back."}, ("Say", "Hi Ada, please call us back.")),
        (
            {"voicemail_audio_url": "https://cdn.example.com/vm.mp3"},
            ("Play", "https://cdn.example.com/vm.mp3"),
        ),
    ],
)
def test_a_message_agent_leaves_its_message_after_the_beep(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
    left: dict[str, str],
    expected: tuple[str, str],
) -> None:
    twilio.outcomes[HUMAN] = Outcome(answered_by="machine_end_beep")
    connect(client, tenant, twilio, account)
    batch = _campaign(client, tenant, voicemail="message", **left)
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    [placed] = twilio.calls.values()
    # Twilio's verdict waits for the greeting's end, so that the message follows the beep.
    assert placed.one("MachineDetection") == "DetectMessageEnd"
    twilio.play(placed.sid)
    assert not placed.hung_up
    assert placed.updated_twiml is not None
    said = ElementTree.fromstring(placed.updated_twiml)
    assert [(element.tag, element.text) for element in said] == [expected, ("Hangup", None)]
    dispatcher.tick()
    assert _call(client, tenant, batch)["status"] == "voicemail"


def test_a_message_agent_needs_something_to_leave(client: TestClient, tenant: Tenant) -> None:
    refused = client.post(
        "/v1/agents", json={"name": "Assistant", "voicemail": "message"}, headers=tenant.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "voicemail_message"


def test_a_fallback_agent_hangs_up_on_the_machine_and_texts_the_person_instead(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    twilio.outcomes[HUMAN] = Outcome(answered_by="machine_start")
    connect(client, tenant, twilio, account, channels=("voice", "sms"))
    batch = _campaign(
        client, tenant, voicemail="fallback", sms_template="Sorry we missed you, {{name}}. Reply to book."
    )
    dispatcher = Dispatcher(runtime, worker_id="w")
    dispatcher.tick()
    [placed] = twilio.calls.values()
    twilio.play(placed.sid)
    assert placed.hung_up
    # The call's end moves it on to an SMS, due at once; the next pass sends it.
    dispatcher.tick()
    dispatcher.tick()
    [text] = twilio.messages.values()
    assert (text.one("To"), text.one("From")) == (HUMAN, CALLER_ID)
    assert text.one("Body") == "Sorry we missed you, Ada. Reply to book."
    twilio.play_message(text.sid)
    dispatcher.tick()
    call = _call(client, tenant, batch)
    assert (call["status"], call["channel"]) == ("completed", "sms")
    assert [(a["channel"], a["outcome"]) for a in call["attempts"]] == [
        ("phone", "voicemail"),
        ("sms", "completed"),
    ]
