"""Agents through the native API: created, listed, read, changed and deleted; what a prompt template and
an agent's stored settings may hold; its required variables and its template as the calls it places see
them. Who may reach an agent is tests/test_tenancy.py and tests/auth; render_prompt and require_callable
alone are tests/rules/agents."""

from typing import Any

from fastapi.testclient import TestClient

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.runtime import Runtime
from tests.dialling import number, start
from tests.store import snapshot
from tests.support import Tenant, add_rows, batch_of, calls_of, create_batch, register_numbers


def _create(client: TestClient, tenant: Tenant, **fields: Any) -> Any:
    return client.post("/v1/agents", json={"name": "Closer", **fields}, headers=tenant.headers)


def test_a_prompt_template_longer_than_max_prompt_chars_is_422_and_writes_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    before = snapshot(runtime)
    refused = _create(client, tenant, prompt_template="x" * 100_001)
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        "prompt_template: is longer than 100000 characters (BATCHCALL_MAX_PROMPT_CHARS)"
    )
    assert snapshot(runtime) == before
    assert _create(client, tenant, prompt_template="x" * 100_000).status_code == 201


def test_the_bound_is_the_servers_setting_at_the_request(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    agent = _create(client, tenant, prompt_template="Hello {{name}}").json()
    runtime.settings.max_prompt_chars = 5
    patched = client.patch(
        f"/v1/agents/{agent['id']}", json={"prompt_template": "Hello"}, headers=tenant.headers
    )
    assert patched.status_code == 200
    longer = client.patch(
        f"/v1/agents/{agent['id']}", json={"prompt_template": "Hello!"}, headers=tenant.headers
    )
    assert longer.status_code == 422
    assert "longer than 5 characters" in longer.json()["message"]


def test_voice_settings_and_variable_names_are_bounded(client: TestClient, tenant: Tenant) -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"next": deep}
    for fields in (
        {"voice": deep},
        {"voice": {"note": "x" * 70_000}},
        {"required_variables": ["x" * 256]},
        {"required_variables": [f"v{n}" for n in range(1001)]},
        {"defaults": {"note": "x" * 70_000}},
        {"defaults": {"plan": {"nested": "object"}}},
        {"defaults": {"plan": ["a", "list"]}},
        {"defaults": {"": "no name"}},
    ):
        response = _create(client, tenant, **fields)
        assert response.status_code == 422, fields
        assert next(iter(fields)) in response.json()["message"]


def _agent(client: TestClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = _create(client, tenant, **fields)
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent


def _get(client: TestClient, tenant: Tenant, agent_id: str) -> Any:
    return client.get(f"/v1/agents/{agent_id}", headers=tenant.headers)


def test_an_agent_is_created_ready_to_call_with_an_empty_template(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    agent = _agent(client, tenant)
    assert agent == {
        "id": agent["id"],
        "name": "Closer",
        "prompt_template": "",
        "sms_template": None,
        "required_variables": [],
        "defaults": {},
        "language": "en",
        "voice": {},
        "transport": "say",
        "stream_url": None,
        "sip_uri": None,
        "result_schema": None,
        "dispositions": [],
        "retry_dispositions": [],
        "max_callbacks": 2,
        "voicemail": "hangup",
        "voicemail_message": None,
        "voicemail_audio_url": None,
        "active": True,
        "ready": True,
        "created_at": clock.now().isoformat().replace("+00:00", "Z"),
    }
    assert _get(client, tenant, agent["id"]).json() == agent


def test_agents_are_listed_oldest_first_a_page_at_a_time(
    client: TestClient, tenant: Tenant, clock: ManualClock
) -> None:
    names = ["First", "Second", "Third"]
    for name in names:
        _agent(client, tenant, name=name)
        clock.advance(1)
    first = client.get("/v1/agents", params={"limit": 2}, headers=tenant.headers).json()
    assert [a["name"] for a in first["data"]] == names[:2]
    assert first["pagination"] == {"total": 3, "limit": 2, "offset": 0}
    rest = client.get("/v1/agents", params={"limit": 2, "offset": 2}, headers=tenant.headers).json()
    assert [a["name"] for a in rest["data"]] == names[2:]


def test_an_unknown_agent_is_404_naming_it(client: TestClient, tenant: Tenant) -> None:
    for response in (
        _get(client, tenant, "agt_missing"),
        client.patch("/v1/agents/agt_missing", json={"name": "x"}, headers=tenant.headers),
        client.delete("/v1/agents/agt_missing", headers=tenant.headers),
    ):
        assert response.status_code == 404
        assert response.json()["message"] == "Agent agt_missing not found"


def test_a_patch_changes_the_fields_it_names_and_leaves_the_rest(client: TestClient, tenant: Tenant) -> None:
    agent = _agent(client, tenant, prompt_template="Hi {{name}}", required_variables=["name"])
    response = client.patch(
        f"/v1/agents/{agent['id']}", json={"active": False, "language": "de"}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {**agent, "active": False, "language": "de"}
    # null is no change: a name, template or list is never erased by a field sent empty-handed.
    unchanged = client.patch(
        f"/v1/agents/{agent['id']}", json={"name": None, "prompt_template": None}, headers=tenant.headers
    )
    assert unchanged.json() == response.json()
    typo = client.patch(f"/v1/agents/{agent['id']}", json={"activ": True}, headers=tenant.headers)
    assert typo.status_code == 422
    assert _get(client, tenant, agent["id"]).json() == response.json()


def test_deleting_an_agent_keeps_its_batches_and_numbers_without_it(
    client: TestClient, tenant: Tenant
) -> None:
    agent = _agent(client, tenant)
    [caller] = register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    batch = create_batch(client, tenant, agent_id=agent["id"])
    assert batch["from_numbers"] == [caller["number"]]

    assert client.delete(f"/v1/agents/{agent['id']}", headers=tenant.headers).status_code == 204
    assert _get(client, tenant, agent["id"]).status_code == 404
    assert client.delete(f"/v1/agents/{agent['id']}", headers=tenant.headers).status_code == 404
    kept = batch_of(client, tenant, batch["id"])
    assert (kept["agent_id"], kept["from_numbers"]) == (None, [caller["number"]])
    number_now = client.get(f"/v1/phone-numbers/{caller['id']}", headers=tenant.headers).json()
    assert number_now["agent_id"] is None


def test_rows_are_held_to_the_agents_required_variables_as_they_are_when_the_rows_arrive(
    client: TestClient, tenant: Tenant
) -> None:
    agent = _agent(client, tenant, required_variables=["clinic"])
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    batch = create_batch(client, tenant, agent_id=agent["id"])
    before = add_rows(client, tenant, batch["id"], [{"phone_number": "+14155550101", "clinic": "North"}])
    assert before["accepted"] == 1
    client.patch(f"/v1/agents/{agent['id']}", json={"required_variables": ["plan"]}, headers=tenant.headers)
    after = add_rows(client, tenant, batch["id"], [{"phone_number": "+14155550102", "clinic": "North"}])
    assert after["accepted"] == 0
    assert [(e["row"], e["field"]) for e in after["errors"]] == [(1, "variables")]
    assert "plan" in after["errors"][0]["message"]
    assert len(calls_of(client, tenant, batch["id"])) == 1


def test_the_prompt_is_the_agent_template_rendered_at_dial_time(
    client: TestClient, tenant: Tenant, runtime: Runtime, dispatcher: Dispatcher
) -> None:
    agent = client.post(
        "/v1/agents",
        json={
            "name": "Reminder",
            "prompt_template": "Hi {{first_name}}, your {{item}} is ready at {{place}}. {{missing}}",
            "defaults": {"place": "the front desk"},
        },
        headers=tenant.headers,
    ).json()
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    batch = start(
        client,
        tenant,
        [{"phone_number": number(1), "first_name": "Ada", "variables": {"item": "car"}}],
        agent_id=agent["id"],
    )
    dispatcher.tick()
    call = calls_of(client, tenant, batch["id"])[0]
    detail = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    # A variable the row leaves out is the agent's default, or nothing: never a placeholder as written.
    assert detail["attempts"][0]["prompt"] == "Hi Ada, your car is ready at the front desk. "


def test_a_template_changed_after_rows_were_accepted_is_the_one_dialled(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher
) -> None:
    agent = _agent(client, tenant, prompt_template="Old {{first_name}}")
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    batch = start(client, tenant, [{"phone_number": number(1), "first_name": "Ada"}], agent_id=agent["id"])
    client.patch(
        f"/v1/agents/{agent['id']}", json={"prompt_template": "New {{first_name}}"}, headers=tenant.headers
    )
    dispatcher.tick()
    call = calls_of(client, tenant, batch["id"])[0]
    detail = client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()
    assert detail["attempts"][0]["prompt"] == "New Ada"


def test_an_agent_switched_off_or_not_ready_takes_no_new_batch_until_it_is_switched_back(
    client: TestClient, tenant: Tenant
) -> None:
    agent = _agent(client, tenant)
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    for off, reason in (({"active": False}, "is not active"), ({"ready": False}, "is not ready for calls")):
        client.patch(f"/v1/agents/{agent['id']}", json=off, headers=tenant.headers)
        refused = client.post(
            "/v1/batches", json={"name": "x", "agent_id": agent["id"]}, headers=tenant.headers
        )
        assert refused.status_code == 422
        assert refused.json()["message"] == f"Agent {agent['id']} {reason}"
        client.patch(
            f"/v1/agents/{agent['id']}", json={"active": True, "ready": True}, headers=tenant.headers
        )
        assert create_batch(client, tenant, agent_id=agent["id"])["agent_id"] == agent["id"]


def test_defaults_are_kept_read_and_changed_with_the_agent(client: TestClient, tenant: Tenant) -> None:
    agent = _agent(client, tenant, defaults={"clinic": "North", "visits": 2, "vip": False})
    assert agent["defaults"] == {"clinic": "North", "visits": 2, "vip": False}
    assert _get(client, tenant, agent["id"]).json()["defaults"] == agent["defaults"]
    patched = client.patch(
        f"/v1/agents/{agent['id']}", json={"defaults": {"clinic": "South"}}, headers=tenant.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["defaults"] == {"clinic": "South"}


def test_a_required_variable_with_a_default_may_be_left_out_of_a_row(
    client: TestClient, tenant: Tenant
) -> None:
    agent = _agent(
        client,
        tenant,
        prompt_template="{{clinic}} {{plan}}",
        required_variables=["clinic", "plan"],
        defaults={"clinic": "North"},
    )
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    batch = create_batch(client, tenant, agent_id=agent["id"])
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [{"phone_number": "+14155550101", "plan": "gold"}, {"phone_number": "+14155550102"}],
    )
    assert answer["accepted"] == 1
    [error] = answer["errors"]
    assert (error["row"], error["field"], error["message"]) == (
        2,
        "variables",
        "missing required variable(s): plan",
    )


def test_rows_name_the_agents_variables_in_any_case_and_spelling_and_the_answer_says_how(
    client: TestClient, tenant: Tenant
) -> None:
    agent = _agent(
        client, tenant, prompt_template="{{invoice_id}} {{due}}", required_variables=["invoice_id"]
    )
    register_numbers(client, tenant, "+14155550100", agent_id=agent["id"])
    batch = create_batch(client, tenant, agent_id=agent["id"])
    answer = add_rows(
        client,
        tenant,
        batch["id"],
        [
            {"phone_number": "+14155550101", "Invoice ID": "A-1", "DUE": "Friday"},
            {"phone_number": "+14155550102", "variables": {"invoice-id": "A-2"}},
        ],
    )
    assert (answer["accepted"], answer["errors"]) == (2, [])
    assert answer["mapped_columns"] == {"Invoice ID": "invoice_id", "DUE": "due", "invoice-id": "invoice_id"}
    calls = calls_of(client, tenant, batch["id"])
    assert [c["variables"] for c in calls] == [{"invoice_id": "A-1", "due": "Friday"}, {"invoice_id": "A-2"}]
