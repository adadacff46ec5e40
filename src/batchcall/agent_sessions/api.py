"""An agent reads its call's session with the session token the call's bridge handed it."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from batchcall.agent_sessions import service
from batchcall.agent_sessions.schemas import AgentSession
from batchcall.auth.dependencies import DbSession, authenticate, bearer
from batchcall.kit.errors import Unauthorized
from batchcall.web.routing import UnitOfWorkRoute, public_base, runtime_of

router = APIRouter(tags=["agents"], route_class=UnitOfWorkRoute)


@router.get("/agent-sessions/{token}")
def get_agent_session(
    token: str,
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AgentSession:
    """The call's rendered prompt, row, contact and batch, for the agent holding its session token (sent
    as ``Authorization: Bearer <token>`` as well); the token works for its own call only, until it expires."""
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        raise Unauthorized("Send the session token as 'Authorization: Bearer <token>' too")
    runtime = runtime_of(request)
    authenticate(request, lambda: service.principal_of(session, runtime, token)[0])
    return service.open_session(session, runtime, token, public_base(request))
