"""Events reach a real receiver, signed; failures are retried with back-off, then given up; redelivery."""

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook, WebhookVerificationError

from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.models import WebhookDelivery
from batchcall.runtime import Runtime
from batchcall.webhooks.sender import JITTER, WebhookSender, backoff
from tests.dialling import number, run_until_done, start
from tests.support import Tenant, add_rows, create_batch
from tests.webhooks.conftest import Receiver, Reply, deliveries, register


def _outbox_size(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def _one_call_done(
    client: TestClient, tenant: Tenant, dispatcher: Dispatcher, clock: ManualClock, **row: Any
) -> dict[str, Any]:
    batch = start(client, tenant, [{"phone_number": number(1), **row}])
    return run_until_done(dispatcher, clock, client, tenant, batch["id"])


def test_a_finished_call_is_posted_signed_with_its_request_metadata(
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    batch = _one_call_done(
        client,
        tenant,
        dispatcher,
        clock,
        variables={"plan": "gold"},
        metadata={"crm_id": "42", "tags": ["a"]},
    )
    assert sender.tick() == 1
    [received] = receiver.received
    assert received.event is not None, "the signature did not verify"
    assert received.headers["webhook-id"] == deliveries(client, tenant, endpoint_id)[0]["id"]
    assert received.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert received.headers["webhook-signature"].startswith("v1,")
    event = received.event
    assert event["type"] == "call.completed"
    call = event["data"]
    assert call["batch_id"] == batch["id"]
    assert (call["status"], call["outcome"], call["to"], call["attempts"]) == (
        "completed",
        "completed",
        number(1),
        1,
    )
    assert call["from"] is None or call["from"].startswith("+")
    assert call["variables"] == {"plan": "gold"}
    assert call["metadata"] == call["requestMetadata"] == {"crm_id": "42", "tags": ["a"]}
    assert client.get(f"/v1/calls/{call['id']}", headers=tenant.headers).json()["status"] == "completed"
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 1, 204)
    assert delivery["payload"] == event
    assert sender.tick() == 0


def test_the_signature_does_not_verify_with_another_secret(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    register(client, tenant, receiver, ["call.completed"])
    _one_call_done(client, tenant, dispatcher, clock)
    sender.tick()
    [received] = receiver.received
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(received.body, received.headers)
    tampered = received.body.replace(b"completed", b"failed")
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify(tampered, received.headers)


def test_each_endpoint_gets_only_what_it_subscribes_to(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    everything = register(client, tenant, receiver)
    batches_only = register(client, tenant, receiver, ["batch.status_changed"])
    failures_only = register(client, tenant, receiver, ["call.failed"])
    batch = _one_call_done(client, tenant, dispatcher, clock)
    while sender.tick():
        pass
    assert deliveries(client, tenant, failures_only) == []
    assert [d["payload"]["data"]["status"] for d in deliveries(client, tenant, batches_only)] == ["completed"]
    [completed] = [d["payload"]["data"] for d in deliveries(client, tenant, batches_only)]
    assert completed["id"] == batch["id"]
    assert completed["previous_status"] == "active"
    assert completed["counters"]["total"] == completed["counters"]["completed"] == 1
    seen = [(d["event_type"], d["payload"]["data"]) for d in deliveries(client, tenant, everything)]
    moves = {data["previous_status"]: data["status"] for kind, data in seen if kind == "call.status_changed"}
    path = ["queued"]
    while path[-1] in moves:
        path.append(moves[path[-1]])
    assert path[:3] == ["queued", "dialing", "ringing"]
    assert path[-1] == "completed"
    assert len(moves) == len(path) - 1
    kinds = [kind for kind, _ in seen]
    assert kinds.count("call.completed") == kinds.count("batch.status_changed") == 1
    assert all(r.event is not None for r in receiver.received)
    assert len(receiver.received) == len(seen) + 1


def test_nothing_is_queued_without_a_subscribed_active_endpoint(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    runtime: Runtime,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    theirs = register(client, other_tenant, receiver)
    switched_off = register(client, tenant, receiver)
    client.patch(f"/v1/webhooks/{switched_off}", json={"active": False}, headers=tenant.headers)
    _one_call_done(client, tenant, dispatcher, clock)
    assert _outbox_size(runtime) == 0
    assert sender.tick() == 0
    assert receiver.received == []
    assert deliveries(client, other_tenant, theirs) == []


def test_canceling_a_batch_posts_each_waiting_call_canceled(
    client: TestClient, tenant: Tenant, sender: WebhookSender, receiver: Receiver
) -> None:
    register(client, tenant, receiver, ["call.canceled", "batch.status_changed"])
    batch = create_batch(client, tenant)
    rows = [{"phone_number": number(i), "metadata": {"row": i}} for i in range(3)]
    add_rows(client, tenant, batch["id"], rows)
    assert client.post(f"/v1/batches/{batch['id']}/cancel", headers=tenant.headers).status_code == 200
    while sender.tick():
        pass
    canceled = receiver.events("call.canceled")
    assert sorted(e["data"]["requestMetadata"]["row"] for e in canceled) == [0, 1, 2]
    assert {(e["data"]["previous_status"], e["data"]["status"]) for e in canceled} == {("queued", "canceled")}
    [batch_event] = receiver.events("batch.status_changed")
    assert batch_event["data"]["status"] == "canceled"
    assert batch_event["data"]["counters"]["canceled"] == 3


def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    _one_call_done(client, tenant, dispatcher, clock)
    receiver.answers = [500, 503]
    for attempt in (1, 2):
        sent_at = clock.now()
        assert sender.tick() == 1
        [delivery] = deliveries(client, tenant, endpoint_id)
        assert (delivery["status"], delivery["attempts"]) == ("pending", attempt)
        assert delivery["last_status_code"] == (500, 503)[attempt - 1]
        assert delivery["last_error"].startswith(f"HTTP {delivery['last_status_code']}")
        settings = runtime.settings
        wait = settings.webhook_backoff_base_seconds * settings.webhook_backoff_factor ** (attempt - 1)
        due = _parse(delivery["next_attempt_at"]) - sent_at
        assert timedelta(seconds=wait * (1 - JITTER)) <= due <= timedelta(seconds=wait * (1 + JITTER))
        clock.advance(wait * (1 - JITTER) - 1)
        assert sender.tick() == 0, "sent again before its back-off passed"
        clock.set(_parse(delivery["next_attempt_at"]))
    assert sender.tick() == 1
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 3, 204)
    assert delivery["last_error"] is None
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {delivery["id"]}, "every attempt carries the same webhook-id"
    assert len(receiver.received) == 3


def test_a_delivery_fails_after_the_last_attempt_and_can_be_redelivered(
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    runtime.settings.webhook_max_attempts = 3
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    _one_call_done(client, tenant, dispatcher, clock)
    receiver.answers = [500] * 3
    for _ in range(3):
        assert sender.tick() == 1
        clock.advance(24 * 3600)
    assert sender.tick() == 0
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["attempts"], delivery["next_attempt_at"]) == ("failed", 3, None)
    assert deliveries(client, tenant, endpoint_id, status="failed") == [delivery]
    assert deliveries(client, tenant, endpoint_id, status="pending") == []

    path = f"/v1/webhooks/{endpoint_id}/deliveries/{delivery['id']}"
    response = client.post(f"{path}/redeliver", headers=tenant.headers)
    assert response.status_code == 202, response.text
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 0)
    assert sender.tick() == 1
    again = client.get(path, headers=tenant.headers).json()
    assert (again["status"], again["attempts"], again["last_status_code"]) == ("delivered", 1, 204)
    assert receiver.received[-1].event is not None
    assert receiver.received[-1].headers["webhook-id"] == delivery["id"]


def test_an_unreachable_endpoint_is_retried(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    client.patch(
        f"/v1/webhooks/{endpoint_id}", json={"url": "http://127.0.0.1:9/closed"}, headers=tenant.headers
    )
    _one_call_done(client, tenant, dispatcher, clock)
    assert sender.tick() == 1
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, None)
    assert "ConnectError" in delivery["last_error"]


def test_back_off_grows_and_stays_within_its_cap(runtime: Runtime) -> None:
    rng = random.Random(7)
    delays = [backoff(n, runtime.settings, rng).total_seconds() for n in range(1, 12)]
    assert delays[0] <= 12
    assert delays[1] >= 32
    assert max(delays) <= 6 * 3600 * (1 + JITTER)


def test_back_off_follows_its_settings(
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    settings = runtime.settings
    settings.webhook_backoff_base_seconds = 1.0
    settings.webhook_backoff_factor = 3.0
    settings.webhook_backoff_cap_seconds = 5.0
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    _one_call_done(client, tenant, dispatcher, clock)
    receiver.answers = [500] * 4
    for wait in (1.0, 3.0, 5.0, 5.0):
        sent_at = clock.now()
        assert sender.tick() == 1
        [delivery] = deliveries(client, tenant, endpoint_id)
        due = _parse(delivery["next_attempt_at"]) - sent_at
        assert timedelta(seconds=wait * (1 - JITTER)) <= due <= timedelta(seconds=wait * (1 + JITTER))
        clock.set(_parse(delivery["next_attempt_at"]))
    assert len(receiver.received) == 4


def test_back_off_beyond_any_float_is_the_cap(runtime: Runtime) -> None:
    runtime.settings.webhook_backoff_factor = 1e300
    delay = backoff(40, runtime.settings, random.Random(7)).total_seconds()
    assert delay <= runtime.settings.webhook_backoff_cap_seconds * (1 + JITTER)


def test_a_name_resolving_to_loopback_is_refused_when_sending(
    client: TestClient,
    tenant: Tenant,
    runtime: Runtime,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    # Registered while private targets were allowed, then the installation stopped allowing them.
    receiver.url = receiver.url.replace("127.0.0.1", "localhost")
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    runtime.settings.allow_private_targets = False
    _one_call_done(client, tenant, dispatcher, clock)
    assert sender.tick() == 1
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, None)
    error = delivery["last_error"]
    assert "127.0.0.1" in error
    assert "loopback" in error
    assert "BATCHCALL_ALLOW_PRIVATE_TARGETS" in error
    assert receiver.paths == []
    # Allowed again, the retry heals it.
    runtime.settings.allow_private_targets = True
    clock.set(_parse(delivery["next_attempt_at"]))
    assert sender.tick() == 1
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)


def test_a_redirect_is_not_followed(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    elsewhere = receiver.url.replace("/hooks", "/elsewhere")
    receiver.answers = [Reply(307, {"location": elsewhere})]
    _one_call_done(client, tenant, dispatcher, clock)
    assert sender.tick() == 1
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["last_status_code"]) == ("pending", 307)
    assert "redirects are not followed" in delivery["last_error"]
    assert elsewhere in delivery["last_error"]
    assert receiver.paths == ["/hooks"]


def test_a_refusal_keeps_only_a_short_clean_excerpt_of_the_reply(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    body = "Internal\x00 error\x1b[2J\r\n\tsecret\u202e: ".encode() + b"\x07x" * 50_000
    receiver.answers = [Reply(500, {"content-type": "text/plain"}, body)]
    _one_call_done(client, tenant, dispatcher, clock)
    assert sender.tick() == 1
    [delivery] = deliveries(client, tenant, endpoint_id)
    error = delivery["last_error"]
    assert error.startswith("HTTP 500: Internal error[2J secret: xxx")
    assert len(error) <= len("HTTP 500: ") + 200
    assert error.isprintable()


def test_nothing_of_a_successful_reply_is_kept(
    client: TestClient,
    tenant: Tenant,
    dispatcher: Dispatcher,
    clock: ManualClock,
    sender: WebhookSender,
    receiver: Receiver,
) -> None:
    endpoint_id = register(client, tenant, receiver, ["call.completed"])
    receiver.answers = [Reply(200, {"content-type": "text/plain"}, b"internal token abc" * 1000)]
    _one_call_done(client, tenant, dispatcher, clock)
    assert sender.tick() == 1
    [delivery] = deliveries(client, tenant, endpoint_id)
    assert (delivery["status"], delivery["last_status_code"], delivery["last_error"]) == (
        "delivered",
        200,
        None,
    )


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)
