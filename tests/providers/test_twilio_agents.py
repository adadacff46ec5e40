"""The AI agent in the call, end to end on loopback: the Twilio-speaking server answers a call, fetches its
TwiML and opens the Media Stream it names; this server's bridge connects the stream to the reference agent
(examples/reference_agent), which reads its session with the token the stream carried, "talks" and posts its
result; the call ends with the disposition, transcript and webhook. A ``sip`` agent's call is bridged to its
SIP URI with the call id and token in SIP headers."""

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest
import websockets
import websockets.sync.client
from examples.reference_agent.agent import ReferenceAgent
from fastapi.testclient import TestClient
from sqlalchemy import select

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import WebhookDelivery
from batchcall.runtime import Runtime
from tests.dialling import start
from tests.providers.twilio_server import Account, FakeTwilio, stream_of
from tests.providers.twilio_support import HUMAN, attempt_of, calls_of, connect
from tests.support import CALLER_ID, Tenant, register_numbers


def _agent(client: TestClient, tenant: Tenant, **fields: Any) -> str:
    body = {"name": "Assistant", "prompt_template": "Confirm the visit of {{name}}", **fields}
    response = client.post("/v1/agents", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    agent_id: str = response.json()["id"]
    return agent_id


def _batch(client: TestClient, tenant: Tenant, agent_id: str) -> dict[str, Any]:
    register_numbers(client, tenant, CALLER_ID, agent_id=agent_id)
    client.post("/v1/webhooks", json={"url": "https://hooks.example/calls"}, headers=tenant.headers)
    return start(
        client,
        tenant,
        [{"phone_number": HUMAN, "name": "Ada", "variables": {"name": "Ada"}, "metadata": {"crm": "7"}}],
        agent_id=agent_id,
        from_numbers=[CALLER_ID],
    )


@pytest.fixture
def reference(public: str) -> Iterator[tuple[ReferenceAgent, str]]:
    agent = ReferenceAgent(api_url=public)
    with agent.running() as url:
        yield agent, url


def test_a_stream_agent_holds_the_call_and_its_result_comes_back(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
    reference: tuple[ReferenceAgent, str],
) -> None:
    agent, agent_url = reference
    connect(client, tenant, twilio, account)
    batch = _batch(client, tenant, _agent(client, tenant, transport="stream", stream_url=agent_url))
    dispatcher = Dispatcher(runtime, worker_id="w")
    assert dispatcher.tick().dialled == 1
    [placed] = twilio.calls.values()
    twilio.play(placed.sid)
    assert placed.stream_refused is None
    assert placed.twiml is not None
    found = stream_of(placed.twiml)
    assert found is not None
    stream_url, parameters = found
    assert stream_url.startswith(public.replace("http", "ws") + "/v1/providers/twilio/media/")
    [call] = calls_of(client, tenant, batch["id"]).values()
    assert parameters["call_id"] == call["id"]
    [session] = agent.sessions
    assert session["prompt"] == "Confirm the visit of Ada"
    assert (session["call_id"], session["attempt"], session["metadata"]) == (call["id"], 1, {"crm": "7"})
    assert session["contact"]["phone_number"] == HUMAN
    assert session["result_url"] == f"{public}/v1/calls/{call['id']}/result"
    [(status, posted)] = agent.results
    assert status == 200, posted
    # The agent's audio reached Twilio through the bridge, and the bridge timed it.
    assert any(message.get("event") == "media" for message in placed.stream_received)
    dispatcher.tick()
    detail = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    assert detail["status"] == "completed"
    assert detail["result"]["disposition"] == "interested"
    assert [turn["speaker"] for turn in detail["result"]["transcript"]] == ["agent", "contact"]
    assert detail["attempts"][0]["result"] == detail["result"]
    assert detail["attempts"][0]["agent_audio_after_seconds"] == 0.0
    with runtime.sessions() as db:
        completed = db.scalars(
            select(WebhookDelivery.payload).where(WebhookDelivery.event_type == "call.completed")
        ).all()
        reported = db.scalars(
            select(WebhookDelivery.payload).where(WebhookDelivery.event_type == "call.result")
        ).all()
    [ended] = completed
    assert ended["data"]["result"]["disposition"] == "interested"
    assert ended["data"]["result"]["transcript"] == detail["result"]["transcript"]
    [result_event] = reported
    assert result_event["data"]["id"] == call["id"]
    export = client.get(f"/v1/batches/{batch['id']}/export", headers=tenant.headers).text
    header, row = export.splitlines()[:2]
    assert "disposition" in header.split(",")
    assert "interested" in row


class Gate(threading.Event):
    """An event that tells when someone waits on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_an_agent_silent_for_three_seconds_is_timed_so(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    may_speak = Gate()
    agent = ReferenceAgent(api_url=public, speak_when=may_speak)
    with agent.running() as agent_url:
        connect(client, tenant, twilio, account)
        batch = _batch(client, tenant, _agent(client, tenant, transport="stream", stream_url=agent_url))
        Dispatcher(runtime, worker_id="w").tick()
        [placed] = twilio.calls.values()

        def silence() -> None:
            # Once the agent waits to speak, the bridge has the stream's start: three seconds pass.
            assert may_speak.waiting.wait(10)
            clock.advance(3)
            may_speak.set()

        twilio.play(placed.sid, while_streaming=silence)
    [call] = calls_of(client, tenant, batch["id"]).values()
    assert attempt_of(client, tenant, call["id"])["agent_audio_after_seconds"] == 3.0


def test_the_bridge_takes_only_twilios_stream_of_the_attempt(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
    reference: tuple[ReferenceAgent, str],
) -> None:
    _, agent_url = reference
    connect(client, tenant, twilio, account)
    _batch(client, tenant, _agent(client, tenant, transport="stream", stream_url=agent_url))
    Dispatcher(runtime, worker_id="w").tick()
    [placed] = twilio.calls.values()
    twiml = twilio.post(
        placed.one("Url"), {"AccountSid": account.sid, "CallSid": placed.sid}, account.auth_token
    )
    found = stream_of(twiml.text)
    assert found is not None
    url, _ = found
    forged = twilio.sign(url, {}, "not-the-token")
    wrong_token = url.split("?")[0] + "?token=0"
    for target, signature in (
        (url, forged),
        (url, None),
        (wrong_token, twilio.sign(wrong_token, {}, account.auth_token)),
    ):
        headers = {"X-Twilio-Signature": signature} if signature else {}
        with pytest.raises(websockets.InvalidStatus) as refused:
            websockets.sync.client.connect(target, additional_headers=headers, open_timeout=5).close()
        assert refused.value.response.status_code == 403


def test_a_sip_agents_call_is_bridged_with_its_call_id_and_token_in_sip_headers(
    client: TestClient,
    runtime: Runtime,
    clock: ManualClock,
    tenant: Tenant,
    twilio: FakeTwilio,
    account: Account,
    public: str,
) -> None:
    connect(client, tenant, twilio, account)
    agent_id = _agent(client, tenant, transport="sip", sip_uri="sip:assistant@agents.example.com")
    batch = _batch(client, tenant, agent_id)
    Dispatcher(runtime, worker_id="w").tick()
    [placed] = twilio.calls.values()
    twilio.play(placed.sid)
    assert placed.twiml is not None
    dial = ElementTree.fromstring(placed.twiml).find("Dial")
    assert dial is not None
    assert dial.get("answerOnBridge") == "true"
    sip = dial.find("Sip")
    assert sip is not None
    assert sip.text is not None
    uri = urlsplit(sip.text)
    assert f"{uri.scheme}:{uri.path}" == "sip:assistant@agents.example.com"
    headers = {name: values[0] for name, values in parse_qs(uri.query).items()}
    [call] = calls_of(client, tenant, batch["id"]).values()
    assert headers["X-BatchCall-Call-Id"] == call["id"]
    token = headers["X-BatchCall-Token"]
    bearer = {"Authorization": f"Bearer {token}"}
    session = httpx.get(f"{public}/v1/agent-sessions/{token}", headers=bearer, timeout=10)
    assert session.status_code == 200, session.text
    assert session.json()["prompt"] == "Confirm the visit of Ada"
    posted = httpx.post(
        session.json()["result_url"], json={"disposition": "not_interested"}, headers=bearer, timeout=10
    )
    assert posted.status_code == 200, posted.text
    assert client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()["result"]["disposition"] == (
        "not_interested"
    )
    # The token works for its hour, then no more.
    clock.advance(timedelta(hours=1).total_seconds())
    expired = httpx.get(f"{public}/v1/agent-sessions/{token}", headers=bearer, timeout=10)
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]
