from fastapi import APIRouter, Request

from batchcall.auth.dependencies import Admin, DbSession, Reader
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.web.routing import UnitOfWorkRoute, runtime_of
from batchcall.webhooks import service
from batchcall.webhooks.schemas import (
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointCreate,
    EndpointCreated,
    EndpointUpdate,
)

router = APIRouter(tags=["webhooks"], route_class=UnitOfWorkRoute)


@router.post("/webhooks", status_code=201)
def create_endpoint(
    request: Request, body: EndpointCreate, principal: Admin, session: DbSession
) -> EndpointCreated:
    """Register an endpoint. The answer carries its signing secret, shown this once."""
    runtime = runtime_of(request)
    endpoint = service.create_endpoint(
        session,
        principal.workspace_id,
        body,
        runtime.clock.now(),
        allow_private=runtime.settings.allow_private_targets,
    )
    return EndpointCreated.model_validate(endpoint)


@router.get("/webhooks")
def list_endpoints(
    principal: Reader, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[Endpoint]:
    endpoints, total = service.list_endpoints(session, principal.workspace_id, limit, offset)
    return Page.of([Endpoint.model_validate(e) for e in endpoints], total, limit, offset)


@router.get("/webhooks/{endpoint_id}")
def get_endpoint(endpoint_id: str, principal: Reader, session: DbSession) -> Endpoint:
    return Endpoint.model_validate(service.get_endpoint(session, principal.workspace_id, endpoint_id))


@router.patch("/webhooks/{endpoint_id}")
def update_endpoint(
    request: Request, endpoint_id: str, body: EndpointUpdate, principal: Admin, session: DbSession
) -> Endpoint:
    allow_private = runtime_of(request).settings.allow_private_targets
    return Endpoint.model_validate(
        service.update_endpoint(
            session, principal.workspace_id, endpoint_id, body, allow_private=allow_private
        )
    )


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, principal: Admin, session: DbSession) -> None:
    service.delete_endpoint(session, principal.workspace_id, endpoint_id)


@router.get("/webhooks/{endpoint_id}/deliveries")
def list_deliveries(
    endpoint_id: str,
    principal: Reader,
    session: DbSession,
    status: DeliveryStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[Delivery]:
    """The endpoint's deliveries, newest first."""
    deliveries, total = service.list_deliveries(
        session, principal.workspace_id, endpoint_id, status, limit, offset
    )
    return Page.of([Delivery.model_validate(d) for d in deliveries], total, limit, offset)


@router.get("/webhooks/{endpoint_id}/deliveries/{delivery_id}")
def get_delivery(endpoint_id: str, delivery_id: str, principal: Reader, session: DbSession) -> Delivery:
    return Delivery.model_validate(
        service.get_delivery(session, principal.workspace_id, endpoint_id, delivery_id)
    )


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", status_code=202)
def redeliver(
    request: Request, endpoint_id: str, delivery_id: str, principal: Admin, session: DbSession
) -> Delivery:
    """Send a delivery again from its first attempt, now, under the same webhook-id."""
    now = runtime_of(request).clock.now()
    return Delivery.model_validate(
        service.redeliver(session, principal.workspace_id, endpoint_id, delivery_id, now)
    )
