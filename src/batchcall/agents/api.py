from fastapi import APIRouter, Request

from batchcall.agents import service
from batchcall.agents.schemas import AgentCreate, AgentRead, AgentUpdate
from batchcall.auth.dependencies import Admin, DbSession, Reader
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["agents"], route_class=UnitOfWorkRoute)


@router.post("/agents", status_code=201)
def create_agent(request: Request, body: AgentCreate, principal: Admin, session: DbSession) -> AgentRead:
    runtime = runtime_of(request)
    agent = service.create(
        session,
        principal.workspace_id,
        body,
        runtime.clock.now(),
        allow_private=runtime.settings.allow_private_targets,
    )
    return AgentRead.model_validate(agent)


@router.get("/agents")
def list_agents(
    principal: Reader,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AgentRead]:
    agents, total = service.list_agents(session, principal.workspace_id, limit, offset)
    return Page.of([AgentRead.model_validate(a) for a in agents], total, limit, offset)


@router.get("/agents/{agent_id}")
def get_agent(agent_id: str, principal: Reader, session: DbSession) -> AgentRead:
    return AgentRead.model_validate(service.get(session, principal.workspace_id, agent_id))


@router.patch("/agents/{agent_id}")
def update_agent(
    agent_id: str, request: Request, body: AgentUpdate, principal: Admin, session: DbSession
) -> AgentRead:
    allow_private = runtime_of(request).settings.allow_private_targets
    agent = service.update(session, principal.workspace_id, agent_id, body, allow_private=allow_private)
    return AgentRead.model_validate(agent)


@router.delete("/agents/{agent_id}", status_code=204)
def delete_agent(agent_id: str, principal: Admin, session: DbSession) -> None:
    service.delete(session, principal.workspace_id, agent_id)
