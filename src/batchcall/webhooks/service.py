"""Webhook endpoints, their deliveries, and the outbox: events are queued in the transaction that causes them.

Calls and batches report their status changes here (``calls.lifecycle`` and ``batches.service`` are the
only callers). A change queues one delivery row per active endpoint that subscribes to its event, so an
event exists exactly when the change it reports was committed; the sender posts the rows afterwards.
The workspaces' endpoints are read once per session, and nothing else is read or written while no
workspace has an endpoint.
"""

import base64
import secrets
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, object_session

from batchcall.batches import repository as batches
from batchcall.calls.schemas import CallSummary
from batchcall.kit import outbound
from batchcall.kit.errors import Invalid, NotFound
from batchcall.kit.ids import new_id
from batchcall.kit.tenancy import get_owned
from batchcall.models import Batch, Call, WebhookDelivery, WebhookEndpoint
from batchcall.webhooks import repository
from batchcall.webhooks.schemas import (
    ALL_EVENTS,
    ENDED_EVENT,
    SECRET_PREFIX,
    DeliveryStatus,
    EndpointCreate,
    EndpointUpdate,
    EventType,
)

# session.info keys: workspace id -> [(endpoint id, events)] of its active endpoints; whether any exists.
SUBSCRIPTIONS = "batchcall.webhooks.subscriptions"
ANY_ENDPOINT = "batchcall.webhooks.any_endpoint"

Subscriptions = list[tuple[str, frozenset[str]]]


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


# Endpoints


def _check_target(url: str, *, allow_private: bool) -> None:
    """Refuse an endpoint URL this server may not post to: one whose host is, or now resolves to, an address
    that is not public. The sender checks again on every connection, whatever the name resolves to then."""
    try:
        outbound.check_url(url, allow_private=allow_private)
    except outbound.TargetRefused as refusal:
        raise Invalid(
            f"url: {refusal.message}", errors=[{"field": "url", "message": refusal.message}]
        ) from None


def create_endpoint(
    session: Session, workspace_id: str, data: EndpointCreate, now: datetime, *, allow_private: bool
) -> WebhookEndpoint:
    url = str(data.url)
    _check_target(url, allow_private=allow_private)
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id,
        url=url,
        events=data.events,
        secret=data.secret or new_secret(),
        active=data.active,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    _forget_subscriptions(session)
    return endpoint


def get_endpoint(session: Session, workspace_id: str, endpoint_id: str) -> WebhookEndpoint:
    return get_owned(session, WebhookEndpoint, workspace_id, endpoint_id, "Webhook endpoint")


def list_endpoints(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[WebhookEndpoint], int]:
    return repository.list_endpoints(session, workspace_id, limit, offset)


def update_endpoint(
    session: Session, workspace_id: str, endpoint_id: str, data: EndpointUpdate, *, allow_private: bool
) -> WebhookEndpoint:
    if data.url is not None:
        _check_target(str(data.url), allow_private=allow_private)
    endpoint = get_endpoint(session, workspace_id, endpoint_id)
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is not None:
            setattr(endpoint, name, str(value) if name == "url" else value)
    session.flush()
    _forget_subscriptions(session)
    return endpoint


def delete_endpoint(session: Session, workspace_id: str, endpoint_id: str) -> None:
    """The endpoint goes, and its deliveries with it (also those not yet sent)."""
    session.delete(get_endpoint(session, workspace_id, endpoint_id))
    session.flush()
    _forget_subscriptions(session)


# Deliveries


def list_deliveries(
    session: Session,
    workspace_id: str,
    endpoint_id: str,
    status: DeliveryStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[WebhookDelivery], int]:
    endpoint = get_endpoint(session, workspace_id, endpoint_id)
    return repository.list_deliveries(session, endpoint.id, status, limit, offset)


def get_delivery(session: Session, workspace_id: str, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
    endpoint = get_endpoint(session, workspace_id, endpoint_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    return delivery


def redeliver(
    session: Session, workspace_id: str, endpoint_id: str, delivery_id: str, now: datetime
) -> WebhookDelivery:
    """Send the delivery again from its first attempt, whatever became of it; its webhook-id stays, so a
    receiver that saw it before can tell."""
    delivery = get_delivery(session, workspace_id, endpoint_id, delivery_id)
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.delivered_at = None
    session.flush()
    return delivery


# The outbox


def _subscriptions(session: Session, workspace_id: str) -> Subscriptions:
    cache: dict[str, Subscriptions] = session.info.setdefault(SUBSCRIPTIONS, {})
    if workspace_id not in cache:
        # Reading endpoints must not flush the caller's half-made changes.
        with session.no_autoflush:
            cache[workspace_id] = [
                (endpoint_id, frozenset(events))
                for endpoint_id, events in repository.active_subscriptions(session, workspace_id)
            ]
    return cache[workspace_id]


def _any_endpoint(session: Session) -> bool:
    if ANY_ENDPOINT not in session.info:
        with session.no_autoflush:
            session.info[ANY_ENDPOINT] = repository.any_active_endpoint(session)
    found: bool = session.info[ANY_ENDPOINT]
    return found


def _forget_subscriptions(session: Session) -> None:
    session.info.pop(SUBSCRIPTIONS, None)
    session.info.pop(ANY_ENDPOINT, None)


def _subscribers(session: Session, workspace_id: str, event: EventType) -> list[str]:
    return [
        endpoint_id
        for endpoint_id, events in _subscriptions(session, workspace_id)
        if event in events or ALL_EVENTS in events
    ]


def _deliveries(
    session: Session, workspace_id: str, event: EventType, data: dict[str, Any], at: datetime
) -> list[dict[str, Any]]:
    payload = {"type": event.value, "timestamp": at.isoformat(), "data": data}
    return [
        {
            "id": new_id(),
            "workspace_id": workspace_id,
            "endpoint_id": endpoint_id,
            "event_type": event.value,
            "payload": payload,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": at,
            "last_status_code": None,
            "last_error": None,
            "created_at": at,
            "delivered_at": None,
        }
        for endpoint_id in _subscribers(session, workspace_id, event)
    ]


def listening(session: Session, workspace_id: str, event: EventType | None = None) -> bool:
    """Whether an active endpoint of the workspace subscribes to ``event`` (to any event, when None): a
    change nobody listens to costs no payload."""
    subscriptions = _subscriptions(session, workspace_id)
    if event is None:
        return bool(subscriptions)
    return any(event in events or ALL_EVENTS in events for _, events in subscriptions)


def enqueue(
    session: Session, workspace_id: str, event: EventType, data: dict[str, Any], at: datetime
) -> None:
    """Queue ``event`` with its ready payload ``data``, as of ``at``, for each of the workspace's active
    endpoints that subscribe to it, in the caller's transaction: the event exists exactly when the change
    it reports commits."""
    for row in _deliveries(session, workspace_id, event, data, at):
        session.add(WebhookDelivery(**row))


def _call_events(session: Session, call: Call, previous: str) -> list[dict[str, Any]]:
    """The deliveries a call's move from ``previous`` to its current status makes."""
    events = [EventType.CALL_STATUS_CHANGED]
    if call.status in ENDED_EVENT:
        events.append(ENDED_EVENT[call.status])
    if not any(_subscribers(session, call.workspace_id, event) for event in events):
        return []
    data = CallSummary.model_validate(call).model_dump(mode="json", by_alias=True)
    # Seed E: the row's metadata comes back to the caller as requestMetadata.
    data |= {"previous_status": previous, "requestMetadata": data["metadata"]}
    return [
        row
        for event in events
        for row in _deliveries(session, call.workspace_id, event, data, call.updated_at)
    ]


def call_status_changed(call: Call, previous: str) -> None:
    """Queue the events of one call's status change, in the session that holds the call."""
    session = object_session(call)
    if session is None or not _subscriptions(session, call.workspace_id):
        return
    for row in _call_events(session, call, previous):
        session.add(WebhookDelivery(**row))


def calls_changed(session: Session, workspace_id: str, previous: Mapping[str, str]) -> None:
    """Queue the events of the workspace's calls whose status a bulk write just changed, given each one's
    status before (call id -> status). Nothing is read while the workspace has no endpoint."""
    if not previous or not _subscriptions(session, workspace_id):
        return
    rows = [
        row
        for call in repository.calls_by_id(session, list(previous))
        if call.status != previous[call.id]
        for row in _call_events(session, call, previous[call.id])
    ]
    repository.insert_deliveries(session, rows)


@contextmanager
def calls_moving(
    session: Session, statuses: Collection[str], *, batch_id: str | None = None, call_ids: Sequence[str] = ()
) -> Iterator[None]:
    """Queue the events of a bulk status change made inside the block: of the calls of ``batch_id`` (or
    with ``call_ids``) in one of ``statuses``, read before the change and seen after it."""
    calls: list[Call] = []
    if batch_id is not None:
        workspace_id = repository.workspace_of_batch(session, batch_id)
        if workspace_id is not None and _subscriptions(session, workspace_id):
            calls = repository.calls_of_batch_in(session, batch_id, statuses)
    elif call_ids and _any_endpoint(session):
        calls = [
            call
            for call in repository.calls_by_id_in(session, call_ids, statuses)
            if _subscriptions(session, call.workspace_id)
        ]
    before = {call.id: call.status for call in calls}
    yield
    # The bulk update kept these loaded calls in step with the rows it changed.
    rows = [
        row
        for call in calls
        if call.status != before[call.id]
        for row in _call_events(session, call, before[call.id])
    ]
    repository.insert_deliveries(session, rows)


def batch_status_changed(batch: Batch, previous: str) -> None:
    """Queue the batch.status_changed events of a batch's status change."""
    session = object_session(batch)
    if session is None or not _subscribers(session, batch.workspace_id, EventType.BATCH_STATUS_CHANGED):
        return
    data = {
        "id": batch.id,
        "name": batch.name,
        "status": batch.status,
        "previous_status": previous,
        "status_reason": batch.status_reason,
        "metadata": batch.metadata_,
        "counters": batches.counters(session, [batch.id])[batch.id].model_dump(),
    }
    for row in _deliveries(
        session, batch.workspace_id, EventType.BATCH_STATUS_CHANGED, data, batch.updated_at
    ):
        session.add(WebhookDelivery(**row))
