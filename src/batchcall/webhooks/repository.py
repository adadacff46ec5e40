from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from batchcall.kit.bulk import bulk_insert
from batchcall.models import Batch, Call, WebhookDelivery, WebhookEndpoint
from batchcall.models.base import table_of
from batchcall.webhooks.schemas import DeliveryStatus


def active_subscriptions(session: Session, workspace_id: str) -> list[tuple[str, list[str]]]:
    """(endpoint id, events) of the workspace's active endpoints."""
    query = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
        WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.active.is_(True)
    )
    return [(endpoint_id, events) for endpoint_id, events in session.execute(query)]


def any_active_endpoint(session: Session) -> bool:
    query = select(WebhookEndpoint.id).where(WebhookEndpoint.active.is_(True)).limit(1)
    return session.scalar(query) is not None


def workspace_of_batch(session: Session, batch_id: str) -> str | None:
    batch = session.get(Batch, batch_id)
    return None if batch is None else batch.workspace_id


def calls_of_batch_in(session: Session, batch_id: str, statuses: Iterable[str]) -> list[Call]:
    query = select(Call).where(Call.batch_id == batch_id, Call.status.in_(list(statuses)))
    return list(session.scalars(query))


def calls_by_id(session: Session, call_ids: Sequence[str]) -> list[Call]:
    """The calls as their rows stand now, also where this session loaded them before a bulk write."""
    query = select(Call).where(Call.id.in_(list(call_ids))).execution_options(populate_existing=True)
    return list(session.scalars(query))


def calls_by_id_in(session: Session, call_ids: Sequence[str], statuses: Iterable[str]) -> list[Call]:
    query = select(Call).where(Call.id.in_(list(call_ids)), Call.status.in_(list(statuses)))
    return list(session.scalars(query))


def insert_deliveries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(session, table_of(WebhookDelivery), rows)


def list_endpoints(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[WebhookEndpoint], int]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WebhookEndpoint.created_at, WebhookEndpoint.id).limit(limit).offset(offset)
    )
    return list(rows), total


def list_deliveries(
    session: Session, endpoint_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[WebhookDelivery], int]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return list(session.scalars(ordered.limit(limit).offset(offset))), total


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
