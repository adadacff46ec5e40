"""A call's rendered prompt is stored once, on the call; an attempt keeps its own only when it differs, and
``GET /v1/calls/{id}`` still answers each attempt's prompt as rendered for it."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import Attempt, Call
from batchcall.runtime import Runtime
from tests.dialling import number, run_until_done, start
from tests.support import Tenant, calls_of, register_numbers


def _agent(client: TestClient, tenant: Tenant, template: str) -> dict[str, Any]:
    response = client.post(
        "/v1/agents", json={"name": "Reminder", "prompt_template": template}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    # A batch with an agent calls from a caller id: this one is the agent's.
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    return agent


def _prompts(client: TestClient, tenant: Tenant, call_id: str) -> list[str | None]:
    detail = client.get(f"/v1/calls/{call_id}", headers=tenant.headers).json()
    return [attempt["prompt"] for attempt in detail["attempts"]]


def _stored_prompts(runtime: Runtime) -> int:
    """How many prompts the store holds, on calls and on attempts."""
    with runtime.sessions() as session:
        on_calls = session.scalar(select(func.count()).where(Call.prompt.is_not(None)))
        on_attempts = session.scalar(select(func.count()).where(Attempt.prompt.is_not(None)))
    return (on_calls or 0) + (on_attempts or 0)


def test_a_prompt_is_stored_once_per_call_however_many_attempts(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    template = "Hello {{first_name}}." + " Please confirm your appointment." * 310
    assert len(template) > 10_000
    agent = _agent(client, tenant, template)
    # Numbers ending in 0001 are busy, so every call is tried again.
    rows = [{"phone_number": f"+1212{200 + i}0001", "first_name": f"P{i}"} for i in range(200)]
    batch = start(
        client,
        tenant,
        rows,
        agent_id=agent["id"],
        max_concurrent_calls=200,
        max_retry_attempts=1,
        retry_delay_seconds=0,
    )
    dispatcher = Dispatcher(runtime, worker_id="worker-1")
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert done["counters"]["busy"] == 200
    calls = calls_of(client, tenant, batch["id"])
    assert {call["attempts"] for call in calls} == {2}
    assert _stored_prompts(runtime) == 200
    first = calls[0]
    expected = template.replace("{{first_name}}", first["first_name"])
    assert _prompts(client, tenant, first["id"]) == [expected, expected]


def test_an_agent_edited_between_attempts_gives_the_next_attempt_its_own_prompt(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    agent = _agent(client, tenant, "Hi {{first_name}}, your table is ready.")
    batch = start(
        client,
        tenant,
        [{"phone_number": number(0, "0002"), "first_name": "Ada"}],
        agent_id=agent["id"],
        max_retry_attempts=1,
        retry_delay_seconds=600,
    )
    dispatcher = Dispatcher(runtime, worker_id="worker-1")
    dispatcher.tick()
    clock.advance(1)
    dispatcher.tick()
    edited = client.patch(
        f"/v1/agents/{agent['id']}",
        json={"prompt_template": "Hi {{first_name}}, we moved your table to nine."},
        headers=tenant.headers,
    )
    assert edited.status_code == 200, edited.text
    run_until_done(dispatcher, clock, client, tenant, batch["id"], step=300)
    (call,) = calls_of(client, tenant, batch["id"])
    assert _prompts(client, tenant, call["id"]) == [
        "Hi Ada, your table is ready.",
        "Hi Ada, we moved your table to nine.",
    ]
    with runtime.sessions() as session:
        stored = session.scalar(select(Call.prompt).where(Call.id == call["id"]))
        own = list(
            session.scalars(
                select(Attempt.prompt).where(Attempt.call_id == call["id"]).order_by(Attempt.number)
            )
        )
    assert stored == "Hi Ada, your table is ready."
    assert own == [None, "Hi Ada, we moved your table to nine."]


def test_a_rendered_prompt_over_the_limit_is_not_dialled(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    agent = _agent(client, tenant, "Tell {{first_name}} about {{offer}}")
    batch = start(
        client,
        tenant,
        [
            {"phone_number": number(1), "first_name": "Ada", "variables": {"offer": "x" * 500}},
            {"phone_number": number(2), "first_name": "Bob", "variables": {"offer": "tea"}},
        ],
        agent_id=agent["id"],
    )
    runtime.settings.max_prompt_chars = 100
    dispatcher = Dispatcher(runtime, worker_id="worker-1")
    tick = dispatcher.tick()
    assert (tick.dialled, tick.skipped) == (1, 1)
    done = run_until_done(dispatcher, clock, client, tenant, batch["id"])
    assert (done["counters"]["completed"], done["counters"]["skipped"]) == (1, 1)
    skipped = calls_of(client, tenant, batch["id"], status="skipped")[0]
    assert skipped["first_name"] == "Ada"
    assert skipped["attempts"] == 0
    assert "prompt" in skipped["skip_reason"]
    assert "100" in skipped["skip_reason"]
