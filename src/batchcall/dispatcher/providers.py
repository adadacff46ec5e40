"""The providers a worker dials through: the process default, and one per provider account its
workspaces' calls go through, built when first needed and built again when the account changes.

A provider keeps state of its own (the simulated one its due events, Twilio's its pace), so a worker holds
each one for as long as its account stays the same.
"""

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.models import ProviderAccount
from batchcall.provider_accounts import service as provider_accounts
from batchcall.providers import registry
from batchcall.providers.base import Provider, ProviderRejected
from batchcall.runtime import Runtime


class ProviderPool:
    def __init__(self, runtime: Runtime, default: Provider | None = None) -> None:
        self._runtime = runtime
        # Accounts' providers are built inside the claim's and the dials' transactions.
        registry.read_installation_secrets(runtime)
        self.default = default or registry.create(runtime.settings.provider, runtime)
        # Process defaults of vendors other than this process's (attempts placed before a restart that
        # changed BATCHCALL_PROVIDER), by vendor.
        self._vendors: dict[str, Provider] = {self.default.name: self.default}
        self._accounts: dict[str, tuple[datetime, Provider]] = {}

    def of(self, session: Session, vendor: str, account_id: str | None) -> Provider:
        """The provider of ``vendor`` for the account (None: the process default); raises
        ProviderRejected when the account is gone or its vendor cannot be built."""
        if account_id is None:
            if vendor not in self._vendors:
                self._vendors[vendor] = registry.create(vendor, self._runtime)
            return self._vendors[vendor]
        account = session.get(ProviderAccount, account_id)
        if account is None:
            raise ProviderRejected(f"provider account {account_id} was deleted")
        held = self._accounts.get(account_id)
        if held is not None and held[0] == account.updated_at:
            return held[1]
        built = provider_accounts.provider_of(account, self._runtime)
        self._accounts[account_id] = (account.updated_at, built)
        return built

    def held(self) -> Iterator[tuple[str | None, Provider]]:
        """Every provider built so far, with its account id (None for a process default)."""
        for provider in self._vendors.values():
            yield None, provider
        for account_id, (_, provider) in self._accounts.items():
            yield account_id, provider
