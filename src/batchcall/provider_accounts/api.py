from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from batchcall.auth.dependencies import Admin, DbSession
from batchcall.kit.pagination import Limit, Offset, Page
from batchcall.numbers import repository as numbers
from batchcall.provider_accounts import service
from batchcall.provider_accounts.schemas import (
    ProviderAccountCreate,
    ProviderAccountRead,
    ProviderAccountUpdate,
    ProviderAccountVerification,
)
from batchcall.web.routing import UnitOfWorkRoute, runtime_of

router = APIRouter(tags=["provider accounts"], route_class=UnitOfWorkRoute)


@router.post("/provider-accounts", status_code=201)
def create_provider_account(
    request: Request, body: ProviderAccountCreate, principal: Admin, session: DbSession
) -> ProviderAccountRead:
    """Add an account with a vendor for some of the workspace's channels; its secrets are sealed and
    never answered back."""
    runtime = runtime_of(request)
    account = service.create(
        session,
        principal.workspace_id,
        body,
        runtime.sealer,
        runtime.clock.now(),
        allow_private=runtime.settings.allow_private_targets,
    )
    return service.present(account, runtime.sealer)


@router.get("/provider-accounts")
def list_provider_accounts(
    request: Request, principal: Admin, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[ProviderAccountRead]:
    sealer = runtime_of(request).sealer
    accounts = service.list_accounts(session, principal.workspace_id)
    shown = [service.present(account, sealer) for account in accounts[offset : offset + limit]]
    return Page.of(shown, len(accounts), limit, offset)


@router.get("/provider-accounts/{account_id}")
def get_provider_account(
    request: Request, account_id: str, principal: Admin, session: DbSession
) -> ProviderAccountRead:
    account = service.get(session, principal.workspace_id, account_id)
    return service.present(account, runtime_of(request).sealer)


@router.patch("/provider-accounts/{account_id}")
def update_provider_account(
    request: Request, account_id: str, body: ProviderAccountUpdate, principal: Admin, session: DbSession
) -> ProviderAccountRead:
    runtime = runtime_of(request)
    account = service.update(
        session,
        principal.workspace_id,
        account_id,
        body,
        runtime.sealer,
        runtime.clock.now(),
        allow_private=runtime.settings.allow_private_targets,
    )
    return service.present(account, runtime.sealer)


@router.delete("/provider-accounts/{account_id}", status_code=204)
def delete_provider_account(account_id: str, principal: Admin, session: DbSession) -> None:
    service.delete(session, principal.workspace_id, account_id)


@router.post("/provider-accounts/{account_id}/verify")
async def verify_provider_account(
    request: Request, account_id: str, principal: Admin, session: DbSession
) -> ProviderAccountVerification:
    """Ask the vendor whether the credentials work, and which of the workspace's caller ids the account
    owns."""
    runtime = runtime_of(request)
    account = service.get(session, principal.workspace_id, account_id)
    provider = service.provider_of(account, runtime)
    caller_ids = numbers.numbers_of(session, principal.workspace_id)
    found = await run_in_threadpool(provider.verify, caller_ids)
    return ProviderAccountVerification.model_validate(found)
