"""An agent (with its call's session token) or a workspace key posts what came of a conversation."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from batchcall.agent_sessions import service as agent_sessions
from batchcall.agent_sessions import tokens
from batchcall.auth import service as keys
from batchcall.auth.dependencies import DbSession, authenticate, bearer, guard_idempotency
from batchcall.auth.scopes import Scope
from batchcall.kit.errors import Unauthorized
from batchcall.results import service
from batchcall.results.schemas import ResultCreate, ResultRead
from batchcall.web.routing import UnitOfWorkRoute, get_session, runtime_of

router = APIRouter(tags=["calls"], route_class=UnitOfWorkRoute)


async def result_poster(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> service.Poster:
    """Who posts: the agent of one attempt, by its session token, or a key with call_management."""
    if credentials is None:
        raise Unauthorized("Send the call's session token, or an API key: 'Authorization: Bearer <token>'")
    credential = credentials.credentials
    if tokens.is_session_token(credential):
        runtime = runtime_of(request)
        opened: list[str] = []

        def verify() -> keys.Principal:
            principal, attempt_id = agent_sessions.principal_of(session, runtime, credential)
            opened.append(attempt_id)
            return principal

        principal = authenticate(request, verify)
        return service.Poster(principal.workspace_id, "agent", opened[0])
    principal = authenticate(request, partial(keys.verify_api_key, session, credential))
    principal.require(Scope.CALL_MANAGEMENT)
    await guard_idempotency(request, session, principal)
    return service.Poster(principal.workspace_id, principal.key_id)


@router.post("/calls/{call_id}/result")
def post_result(
    call_id: str,
    body: ResultCreate,
    request: Request,
    session: DbSession,
    poster: Annotated[service.Poster, Depends(result_poster)],
) -> ResultRead:
    """Report what came of the call's conversation: its disposition, summary, transcript and data (checked
    against the agent's result_schema), an opt-out, a callback time. The same result posted again answers
    the one stored; a different one for the same attempt is refused (409)."""
    result = service.post(session, poster, call_id, body, runtime_of(request).clock.now())
    return ResultRead.model_validate(result)
