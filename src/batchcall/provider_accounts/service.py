"""Provider accounts: checked against their vendor's shape, secrets sealed apart from the rest, one
account per channel of a workspace; and the provider each channel of a workspace uses."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from batchcall.kit.errors import Conflict, Invalid, NotFound, validation_message
from batchcall.kit.outbound import check_url
from batchcall.kit.sealing import Sealer
from batchcall.kit.tenancy import get_owned
from batchcall.models import Channel, ProviderAccount
from batchcall.provider_accounts.schemas import (
    AccountChannel,
    ProviderAccountCreate,
    ProviderAccountRead,
    ProviderAccountUpdate,
)
from batchcall.providers import registry
from batchcall.providers.base import Account, Provider, ProviderRejected
from batchcall.runtime import Runtime

# A row's channel, as an account names the channels it serves.
ACCOUNT_CHANNEL = {
    Channel.PHONE: AccountChannel.VOICE,
    Channel.SMS: AccountChannel.SMS,
    Channel.EMAIL: AccountChannel.EMAIL,
}


def _vendor(name: str) -> registry.Vendor:
    try:
        return registry.vendor(name)
    except registry.UnknownProvider:
        known = ", ".join(sorted(registry.vendors()))
        raise Invalid(f"vendor: '{name}' is not a vendor this server has; known: {known}") from None


def _credentials(vendor: registry.Vendor, given: dict[str, Any]) -> dict[str, Any]:
    try:
        checked = vendor.credentials.model_validate(given)
    except ValidationError as exc:
        raise Invalid(_credentials_fault(exc)) from None
    return checked.model_dump(exclude_none=True)


def _credentials_fault(exc: ValidationError) -> str:
    """The first thing wrong with credentials, named by its field."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    reason = validation_message(first)
    return f"credentials.{where}: {reason}" if where else f"credentials: {reason}"


def _check_channels(
    session: Session,
    vendor: registry.Vendor,
    workspace_id: str,
    channels: Collection[str],
    account_id: str | None,
) -> None:
    unserved = sorted(channel for channel in channels if channel not in vendor.channels)
    if unserved:
        served = ", ".join(sorted(vendor.channels))
        raise Invalid(f"channels: {vendor.name} serves {served}, not {', '.join(unserved)}")
    for other in _accounts_of(session, workspace_id):
        taken = sorted(set(other.channels) & set(channels))
        if other.id != account_id and taken:
            raise Conflict(
                f"Channel {', '.join(taken)} is already served by provider account {other.id}; "
                "change or delete that account first"
            )


def accounts_with(session: Session, vendor: str, credential: str, value: str) -> list[ProviderAccount]:
    """Every workspace's accounts of ``vendor`` whose public credential ``credential`` is ``value``: the
    accounts a vendor's request may come from, before its signature says which it is."""
    query = select(ProviderAccount).where(ProviderAccount.vendor == vendor)
    return [account for account in session.scalars(query) if account.credentials.get(credential) == value]


def _accounts_of(session: Session, workspace_id: str) -> Sequence[ProviderAccount]:
    query = select(ProviderAccount).where(ProviderAccount.workspace_id == workspace_id)
    return session.scalars(query.order_by(ProviderAccount.created_at, ProviderAccount.id)).all()


def _store_credentials(
    account: ProviderAccount, vendor: registry.Vendor, credentials: dict[str, Any], sealer: Sealer
) -> None:
    secrets = {name: value for name, value in credentials.items() if name in vendor.secrets}
    account.credentials = {name: value for name, value in credentials.items() if name not in vendor.secrets}
    account.sealed_secrets = sealer.seal(secrets) if secrets else ""


def _check_base_url(url: str | None, allow_private: bool) -> None:
    if url is not None:
        try:
            check_url(url, allow_private=allow_private)
        except Invalid as exc:
            raise Invalid(f"api_base_url: {exc.message}") from None


def create(
    session: Session,
    workspace_id: str,
    data: ProviderAccountCreate,
    sealer: Sealer,
    now: datetime,
    *,
    allow_private: bool,
) -> ProviderAccount:
    vendor = _vendor(data.vendor)
    credentials = _credentials(vendor, data.credentials)
    _check_channels(session, vendor, workspace_id, data.channels, None)
    _check_base_url(data.api_base_url, allow_private)
    account = ProviderAccount(
        workspace_id=workspace_id,
        vendor=vendor.name,
        name=data.name,
        channels=sorted(channel.value for channel in data.channels),
        api_base_url=data.api_base_url,
        calls_per_second=data.calls_per_second,
        created_at=now,
        updated_at=now,
    )
    _store_credentials(account, vendor, credentials, sealer)
    session.add(account)
    session.flush()
    return account


def get(session: Session, workspace_id: str, account_id: str) -> ProviderAccount:
    return get_owned(session, ProviderAccount, workspace_id, account_id, "Provider account")


def list_accounts(session: Session, workspace_id: str) -> Sequence[ProviderAccount]:
    return _accounts_of(session, workspace_id)


def update(
    session: Session,
    workspace_id: str,
    account_id: str,
    data: ProviderAccountUpdate,
    sealer: Sealer,
    now: datetime,
    *,
    allow_private: bool,
) -> ProviderAccount:
    account = get(session, workspace_id, account_id)
    vendor = _vendor(account.vendor)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("channels") is not None:
        _check_channels(session, vendor, workspace_id, changes["channels"], account.id)
        account.channels = sorted(AccountChannel(channel).value for channel in changes["channels"])
    if data.credentials is not None:
        # A secret left out keeps its value: an operator changes a token without retyping the rest.
        merged = {**opened_credentials(account, sealer), **data.credentials}
        _store_credentials(account, vendor, _credentials(vendor, merged), sealer)
    if "api_base_url" in changes:
        _check_base_url(data.api_base_url, allow_private)
        account.api_base_url = data.api_base_url
    if data.name is not None:
        account.name = data.name
    if data.calls_per_second is not None:
        account.calls_per_second = data.calls_per_second
    account.updated_at = now
    session.flush()
    return account


def delete(session: Session, workspace_id: str, account_id: str) -> None:
    session.delete(get(session, workspace_id, account_id))
    session.flush()


def _secrets_of(account: ProviderAccount, sealer: Sealer) -> dict[str, str]:
    return sealer.open(account.sealed_secrets) if account.sealed_secrets else {}


def opened_credentials(account: ProviderAccount, sealer: Sealer) -> dict[str, Any]:
    """Every credential of the account, its secrets opened: for building its provider, never to answer."""
    return {**account.credentials, **_secrets_of(account, sealer)}


def present(account: ProviderAccount, sealer: Sealer) -> ProviderAccountRead:
    return ProviderAccountRead(
        id=account.id,
        vendor=account.vendor,
        name=account.name,
        channels=account.channels,
        credentials=account.credentials,
        secrets_set=sorted(_secrets_of(account, sealer)),
        api_base_url=account.api_base_url,
        calls_per_second=account.calls_per_second,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


def reseal_all(session: Session, sealer: Sealer) -> int:
    """Seal every account's secrets again with the first key; answers how many accounts hold some."""
    accounts = session.scalars(select(ProviderAccount).where(ProviderAccount.sealed_secrets != "")).all()
    for account in accounts:
        account.sealed_secrets = sealer.reseal(account.sealed_secrets)
    session.flush()
    return len(accounts)


def provider_of(account: ProviderAccount, runtime: Runtime) -> Provider:
    """The account's provider, built with its secrets opened; ProviderRejected when its credentials no
    longer pass the vendor's rules (stored before a rule was tightened), so they are changed, not used."""
    opened = Account(
        account.id,
        account.vendor,
        opened_credentials(account, runtime.sealer),
        account.api_base_url,
        account.calls_per_second,
    )
    try:
        return registry.create(account.vendor, runtime, opened)
    except ValidationError as fault:
        raise ProviderRejected(
            f"provider account {account.id} needs its credentials changed: {_credentials_fault(fault)}"
        ) from None


def named_provider(session: Session, runtime: Runtime, vendor: str, account_id: str | None) -> Provider:
    """The provider a request from ``vendor`` names: the provider account ``account_id``, or the process
    default when None; NotFound when there is no such account of that vendor, or no such default."""
    if account_id is None:
        if vendor != runtime.settings.provider:
            raise NotFound(f"Provider '{vendor}' is not the one this server uses")
        return registry.create(vendor, runtime)
    account = session.get(ProviderAccount, account_id)
    if account is None or account.vendor != vendor:
        raise NotFound(f"Provider account {account_id} of {vendor} not found")
    try:
        return provider_of(account, runtime)
    except ProviderRejected as fault:
        raise NotFound(f"Provider account {account_id} cannot be used: {fault.message}") from None


def routes(session: Session, workspace_id: str, default: str) -> dict[str, tuple[str, str | None]]:
    """The (vendor, account id) of each row channel a provider serves for the workspace: its account for
    the channel, else the process default vendor ``default`` (account None) where that vendor has the
    channel. A channel missing here has no provider."""
    default_channels = registry.vendor(default).channels
    served: dict[str, tuple[str, str | None]] = {
        row_channel: (default, None)
        for row_channel, account_channel in ACCOUNT_CHANNEL.items()
        if account_channel in default_channels
    }
    for account in _accounts_of(session, workspace_id):
        for row_channel, account_channel in ACCOUNT_CHANNEL.items():
            if account_channel in account.channels:
                served[row_channel] = (account.vendor, account.id)
    return served
