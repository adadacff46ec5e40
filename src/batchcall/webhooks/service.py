"""Webhook endpoints, their deliveries, and the outbox: events are queued in the transaction that causes them.

``enqueue`` takes an event with its ready payload: the call and batch transitions (``calls.transitions``,
``batches.transitions``) are its callers, and this package imports no domain package. An event queues one
delivery row per active endpoint that subscribes to it, so it exists exactly when the change it reports
was committed; the sender posts the rows afterwards. The workspaces' endpoints are read once per session,
and ``listening`` lets a caller skip building a payload nobody would receive.
"""

import base64
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from batchcall.kit import outbound
from batchcall.kit.errors import Invalid, NotFound
from batchcall.kit.ids import new_id, new_secret
from batchcall.kit.tenancy import get_owned
from batchcall.models import WebhookDelivery, WebhookEndpoint
from batchcall.webhooks import repository
from batchcall.webhooks.schemas import (
    ALL_EVENTS,
    SECRET_PREFIX,
    DeliveryStatus,
    EndpointCreate,
    EndpointUpdate,
    EventType,
)

# session.info key: workspace id -> [(endpoint id, events)] of its active endpoints.
SUBSCRIPTIONS = "batchcall.webhooks.subscriptions"

Subscriptions = list[tuple[str, frozenset[str]]]


# Endpoints


def _check_target(url: str, *, allow_private: bool) -> None:
    """Refuse an endpoint URL this server may not post to: one whose host is, or now resolves to, an address
    that is not public. The sender checks again on every connection, whatever the name resolves to then."""
    try:
        outbound.check_url(url, allow_private=allow_private)
    except outbound.TargetRefused as refusal:
        raise Invalid.of_fields([("url", refusal.message)]) from None


def create_endpoint(
    session: Session, workspace_id: str, data: EndpointCreate, now: datetime, *, allow_private: bool
) -> WebhookEndpoint:
    url = str(data.url)
    _check_target(url, allow_private=allow_private)
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id,
        url=url,
        events=data.events,
        # A signing secret in the Standard Webhooks form: ``whsec_`` and the base64 of its bytes.
        secret=data.secret or SECRET_PREFIX + base64.b64encode(new_secret()).decode(),
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


def _forget_subscriptions(session: Session) -> None:
    session.info.pop(SUBSCRIPTIONS, None)


def _subscribers(session: Session, workspace_id: str, event: EventType) -> list[str]:
    return [
        endpoint_id
        for endpoint_id, events in _subscriptions(session, workspace_id)
        if event in events or ALL_EVENTS in events
    ]


def listening(session: Session, workspace_id: str, event: EventType | None = None) -> bool:
    """Whether an active endpoint of the workspace subscribes to ``event`` (to any event, when None): a
    change nobody listens to costs no payload."""
    if event is None:
        return bool(_subscriptions(session, workspace_id))
    return bool(_subscribers(session, workspace_id, event))


def enqueue(
    session: Session, workspace_id: str, event: EventType, data: dict[str, Any], at: datetime
) -> None:
    """Queue ``event`` with its ready payload ``data``, as of ``at``, for each of the workspace's active
    endpoints that subscribe to it, in the caller's transaction: the event exists exactly when the change
    it reports commits."""
    payload = {"type": event.value, "timestamp": at.isoformat(), "data": data}
    for endpoint_id in _subscribers(session, workspace_id, event):
        session.add(
            WebhookDelivery(
                id=new_id(),
                workspace_id=workspace_id,
                endpoint_id=endpoint_id,
                event_type=event.value,
                payload=payload,
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=at,
                last_status_code=None,
                last_error=None,
                created_at=at,
                delivered_at=None,
            )
        )
