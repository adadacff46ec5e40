from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.pagination import paginate
from batchcall.models import WebhookDelivery, WebhookEndpoint
from batchcall.webhooks.schemas import DeliveryStatus


def active_subscriptions(session: Session, workspace_id: str) -> list[tuple[str, list[str]]]:
    """(endpoint id, events) of the workspace's active endpoints."""
    query = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
        WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.active.is_(True)
    )
    return [(endpoint_id, events) for endpoint_id, events in session.execute(query)]


def list_endpoints(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[WebhookEndpoint], int]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id)
    return paginate(session, query.order_by(WebhookEndpoint.created_at, WebhookEndpoint.id), limit, offset)


def list_deliveries(
    session: Session, endpoint_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[WebhookDelivery], int]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    ordered = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return paginate(session, ordered, limit, offset)


def claim_due(session: Session, now: datetime, limit: int) -> list[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Pending deliveries whose time came, oldest first, with their endpoints; locked, skipping rows another
    sender holds (SQLite has one writer at a time, so the transaction itself is the lock there). A disabled
    endpoint's deliveries wait until it is enabled again."""
    query = (
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    return [(delivery, endpoint) for delivery, endpoint in session.execute(query)]


def lock_deliveries(session: Session, delivery_ids: Sequence[str]) -> dict[str, WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.id.in_(list(delivery_ids))).with_for_update()
    return {delivery.id: delivery for delivery in session.scalars(query)}
