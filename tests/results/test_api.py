"""The agent's result of a call: posted with the call's session token or a workspace key, checked against
the agent, stored once, shown with the call; and what it does: an opt-out blocks the person everywhere, a
callback lands in the next lawful window, a disposition the agent retries is tried again. Through Twilio
and a real agent: tests/providers/test_twilio_agents.py."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from batchcall.agent_sessions import service as agent_sessions
from batchcall.agent_sessions import tokens
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import ledger, number, start
from tests.store import snapshot
from tests.support import CALLER_ID, Tenant, batch_of, calls_of, register_numbers

SCORED = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 0}, "plan": {"enum": ["basic", "plus"]}},
    "required": ["score"],
}


def _agent(client: TestClient, tenant: Tenant, **fields: Any) -> str:
    response = client.post("/v1/agents", json={"name": "Assistant", **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    agent_id: str = response.json()["id"]
    register_numbers(client, tenant, CALLER_ID, agent_id=agent_id)
    return agent_id


def _called(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    rows: list[dict[str, Any]],
    **fields: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A batch whose calls were dialled and have ended; the batch and its calls."""
    batch = start(client, tenant, rows, from_numbers=[CALLER_ID], **fields)
    dispatcher.tick()
    clock.advance(1)
    dispatcher.tick()
    return batch, calls_of(client, tenant, batch["id"])


def _post(client: TestClient, call_id: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(f"/v1/calls/{call_id}/result", json=body, headers=headers)


def _attempt_id(client: TestClient, tenant: Tenant, call_id: str) -> str:
    attempt_id: str = client.get(f"/v1/calls/{call_id}", headers=tenant.headers).json()["attempts"][-1]["id"]
    return attempt_id


def test_a_result_shows_in_the_call_and_the_export_and_posting_it_again_answers_the_same(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch, [call] = _called(client, tenant, dispatcher, clock, [{"phone_number": number(1)}])
    assert call["status"] == "completed"
    body = {
        "disposition": "interested",
        "summary": "Wants the plus plan",
        "transcript": [
            {"speaker": "agent", "text": "Hello, is this Ada?", "at": 0.4},
            {"speaker": "contact", "text": "Yes.", "at": 1.9},
        ],
        "data": {"plan": "plus", "seats": 3},
    }
    first = _post(client, call["id"], body, tenant.headers)
    assert first.status_code == 200, first.text
    clock.advance(5)
    # The same result, whatever the order of its keys.
    again = _post(client, call["id"], body | {"data": {"seats": 3, "plan": "plus"}}, tenant.headers)
    assert again.json() == first.json()
    changed = _post(client, call["id"], body | {"disposition": "not_interested"}, tenant.headers)
    assert changed.status_code == 409
    assert "different result" in changed.json()["message"]
    detail = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    assert detail["result"]["summary"] == "Wants the plus plan"
    assert detail["result"]["transcript"][1] == {"speaker": "contact", "text": "Yes.", "at": 1.9}
    assert detail["result"]["effects"] == {
        "blocked": False,
        "canceled_calls": 0,
        "next_attempt_at": None,
        "follow_up": None,
    }
    lines = client.get(f"/v1/batches/{batch['id']}/export", headers=tenant.headers).text.splitlines()
    columns = lines[0].split(",")
    assert columns[-6:] == ["disposition", "summary", "result_data", "opt_out", "callback_at", "transcript"]
    assert "interested,Wants the plus plan" in lines[1]


def test_a_result_the_agent_cannot_give_is_refused_naming_the_field_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    agent_id = _agent(client, tenant, result_schema=SCORED, dispositions=["booked"])
    _, [call] = _called(client, tenant, dispatcher, clock, [{"phone_number": number(1)}], agent_id=agent_id)
    before = snapshot(runtime)
    for body, field in (
        ({"disposition": "sold", "data": {"score": 1}}, "disposition"),
        ({"disposition": "booked", "data": {"score": -1}}, "data.score"),
        ({"disposition": "booked", "data": {"score": 2, "plan": "gold"}}, "data.plan"),
        ({"disposition": "booked"}, "data"),
        (
            {"disposition": "booked", "data": {"score": 1}, "callback_at": "2027-06-01T10:00:00Z"},
            "callback_at",
        ),
        (
            {"disposition": "booked", "data": {"score": 1}, "callback_at": "2026-11-24T10:00:00"},
            "callback_at",
        ),
        ({"disposition": "booked", "transcript": [{"speaker": "bot", "text": "hi", "at": 0}]}, "transcript"),
    ):
        refused = _post(client, call["id"], body, tenant.headers)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["message"].startswith(field), (body, refused.json())
    assert snapshot(runtime) == before
    taken = _post(client, call["id"], {"disposition": "booked", "data": {"score": 3}}, tenant.headers)
    assert taken.status_code == 200, taken.text


def test_an_agent_is_refused_a_result_schema_that_is_not_one_or_needs_fetching(
    client: TestClient, tenant: Tenant
) -> None:
    for uri in ("sip:agent@sip.example.com?X-Token=1", "https://agent.example.com", "sip: agent"):
        refused = client.post(
            "/v1/agents", json={"name": "A", "transport": "sip", "sip_uri": uri}, headers=tenant.headers
        )
        assert refused.status_code == 422, uri
        assert refused.json()["message"].startswith("sip_uri: is not a SIP URI"), refused.json()
    for schema in (
        {"type": "nothing"},
        {"$ref": "http://127.0.0.1:9/schema.json"},
        {"minimum": "zero"},
        # A meta-schema is never fetched either.
        {"$schema": "http://127.0.0.1:9/latest/meta-data"},
    ):
        refused = client.post(
            "/v1/agents", json={"name": "A", "result_schema": schema}, headers=tenant.headers
        )
        assert refused.status_code == 422, schema
        assert refused.json()["message"].startswith("result_schema: "), refused.json()


def test_an_opt_out_blocks_the_number_and_cancels_the_persons_calls_in_every_batch(
    client: TestClient, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    person, other = number(1), number(2)
    _, [call] = _called(
        client, tenant, dispatcher, clock, [{"phone_number": person, "email": "ada@example.com"}]
    )
    later = start(
        client,
        tenant,
        [{"phone_number": person}, {"phone_number": other}],
        schedule=None,
        scheduled_at=(clock.now() + timedelta(days=1)).isoformat(),
    )
    texts = start(client, tenant, [{"phone_number": person}], channel="sms", schedule=None)
    posted = _post(client, call["id"], {"disposition": "interested", "opt_out": True}, tenant.headers)
    assert posted.status_code == 200, posted.text
    assert posted.json()["effects"]["blocked"] is True
    assert posted.json()["effects"]["canceled_calls"] == 2
    listed = client.get("/v1/dnc", headers=tenant.headers).json()["data"]
    assert [entry["phone_number"] for entry in listed] == [person]
    statuses = {c["to"]: (c["status"], c["skip_reason"]) for c in calls_of(client, tenant, later["id"])}
    assert statuses[other] == ("queued", None)
    assert statuses[person][0] == "canceled"
    assert "asked not to be contacted again" in statuses[person][1]
    [text] = calls_of(client, tenant, texts["id"])
    assert text["status"] == "canceled"
    assert batch_of(client, tenant, texts["id"])["counters"]["canceled"] == 1
    suppressed = client.get("/v1/email-suppressions", headers=tenant.headers).json()["data"]
    assert [entry["address"] for entry in suppressed] == ["ada@example.com"]
    # The disposition do_not_call does the same.
    _, [second] = _called(client, tenant, dispatcher, clock, [{"phone_number": other}])
    assert _post(client, second["id"], {"disposition": "do_not_call"}, tenant.headers).json()["effects"][
        "blocked"
    ]
    clock.advance(timedelta(days=2).total_seconds())
    dispatcher.tick()
    assert [line["to"] for line in ledger(runtime)] == [person, other]


def test_a_callback_asked_for_after_hours_lands_at_the_next_window_from_the_same_caller_id(
    client: TestClient, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    agent_id = _agent(client, tenant, max_callbacks=1)
    window = {"timezone": "America/New_York", "start_time": "09:00", "end_time": "17:00"}
    batch, [call] = _called(
        client, tenant, dispatcher, clock, [{"phone_number": number(1)}], agent_id=agent_id, **window
    )
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"
    # 19:30 in New York tonight: outside the window, so the call goes at 09:00 tomorrow.
    asked = _post(
        client,
        call["id"],
        {"disposition": "callback_requested", "callback_at": "2026-11-24T00:30:00Z"},
        tenant.headers,
    )
    assert asked.status_code == 200, asked.text
    tomorrow_nine = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert asked.json()["effects"]["next_attempt_at"] == "2026-11-24T14:00:00Z"
    waiting = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    assert (waiting["status"], waiting["next_attempt_at"]) == ("queued", "2026-11-24T14:00:00Z")
    assert batch_of(client, tenant, batch["id"])["status"] == "active"
    clock.set(tomorrow_nine - timedelta(minutes=1))
    assert dispatcher.tick().dialled == 0
    clock.set(tomorrow_nine)
    assert dispatcher.tick().dialled == 1
    clock.advance(1)
    dispatcher.tick()
    dials = ledger(runtime)
    assert [line["from"] for line in dials] == [CALLER_ID, CALLER_ID]
    assert dials[1]["started_at"].startswith("2026-11-24T14:00:00")
    # One callback was the agent's cap: a second is recorded, and no third dial follows.
    again = _post(
        client,
        call["id"],
        {"disposition": "callback_requested", "callback_at": "2026-11-24T15:00:00Z"},
        tenant.headers,
    )
    assert again.json()["effects"]["next_attempt_at"] is None
    assert "had its 1 callbacks" in again.json()["effects"]["follow_up"]
    assert batch_of(client, tenant, batch["id"])["status"] == "completed"


def test_a_callback_asked_for_during_the_call_is_placed_when_the_call_ends(
    client: TestClient, runtime: Runtime, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}], from_numbers=[CALLER_ID])
    dispatcher.tick()
    [call] = calls_of(client, tenant, batch["id"])
    assert call["status"] in ("dialing", "ringing", "in_progress")
    token = agent_sessions.issue(runtime, _attempt_id(client, tenant, call["id"]))
    bearer = {"Authorization": f"Bearer {token}"}
    body = {"disposition": "callback_requested", "callback_at": "2026-11-23T18:30:00Z"}
    posted = _post(client, call["id"], body, bearer)
    assert posted.status_code == 200, posted.text
    assert posted.json()["effects"]["follow_up"] == "decided when the call ends"
    clock.advance(1)
    dispatcher.tick()
    ended = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    assert (ended["status"], ended["next_attempt_at"]) == ("queued", "2026-11-23T18:30:00Z")
    assert ended["attempts"][0]["outcome"] == "completed"
    assert ended["result"]["effects"]["next_attempt_at"] == "2026-11-23T18:30:00Z"


def test_a_disposition_the_agent_retries_is_tried_again_under_the_batchs_retry_rules(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock
) -> None:
    agent_id = _agent(client, tenant, dispositions=["not_available"], retry_dispositions=["not_available"])
    _, [call] = _called(
        client,
        tenant,
        dispatcher,
        clock,
        [{"phone_number": number(1)}],
        agent_id=agent_id,
        max_retry_attempts=1,
        retry_delay_seconds=600,
    )
    posted = _post(client, call["id"], {"disposition": "not_available"}, tenant.headers)
    effects = posted.json()["effects"]
    assert effects["next_attempt_at"] is not None
    assert "not_available is retried after 600 s (attempt 2 of 2)" == effects["follow_up"]
    refused = client.patch(
        f"/v1/agents/{agent_id}", json={"retry_dispositions": ["do_not_call"]}, headers=tenant.headers
    )
    assert refused.status_code == 422
    assert refused.json()["message"].startswith("retry_dispositions: do_not_call cannot retry")


def test_a_session_token_reads_and_reports_on_its_own_call_only_and_until_it_expires(
    client: TestClient,
    runtime: Runtime,
    tenant: Tenant,
    other_tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
) -> None:
    _, calls = _called(
        client, tenant, dispatcher, clock, [{"phone_number": number(1)}, {"phone_number": number(2)}]
    )
    mine, theirs = calls
    token = agent_sessions.issue(runtime, _attempt_id(client, tenant, mine["id"]))
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/v1/agent-sessions/{token}", headers=bearer).json()["call_id"] == mine["id"]
    # The path and the header must both hold it.
    assert client.get(f"/v1/agent-sessions/{token}").status_code == 401
    assert client.get(f"/v1/agent-sessions/{token}", headers=tenant.headers).status_code == 401
    assert _post(client, theirs["id"], {"disposition": "interested"}, bearer).status_code == 404
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for credential in (forged, "as_x.1.y", "as_" + "9" * 300, "as_x.99999999999999999999999.y"):
        headers = {"Authorization": f"Bearer {credential}"}
        assert _post(client, mine["id"], {"disposition": "interested"}, headers).status_code == 401
        assert client.get(f"/v1/agent-sessions/{credential}", headers=headers).status_code == 401
    # A key of another workspace does not see the call.
    assert _post(client, mine["id"], {"disposition": "interested"}, other_tenant.headers).status_code == 404
    clock.advance(runtime.settings.agent_session_seconds)
    expired = _post(client, mine["id"], {"disposition": "interested"}, bearer)
    assert (expired.status_code, expired.json()["message"]) == (401, tokens.EXPIRED)


def test_a_call_never_dialled_has_no_result_to_take(client: TestClient, tenant: Tenant) -> None:
    batch = start(client, tenant, [{"phone_number": number(1)}], schedule=None)
    [call] = calls_of(client, tenant, batch["id"])
    refused = _post(client, call["id"], {"disposition": "interested"}, tenant.headers)
    assert refused.status_code == 409
    assert "has not been dialled" in refused.json()["message"]
