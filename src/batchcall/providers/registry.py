"""The vendors this server has, found by folder: each ``providers/<vendor>/vendor.py`` declares one
``VENDOR``, so adding a vendor adds a folder and touches nothing here.

``BATCHCALL_PROVIDER`` names the process default, used for every channel a workspace has no account for.
"""

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from batchcall import providers
from batchcall.providers.base import Account, Provider

log = logging.getLogger("batchcall.providers")

if TYPE_CHECKING:
    # Only named: the runtime checks the configured name here when it is made.
    from batchcall.config import Settings
    from batchcall.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Vendor:
    """A vendor: the channels it can serve, its credentials' shape (with the fields that are secret), how
    to build its provider for an account, or for the process default (``account`` None), and the routes
    of its own the vendor calls (under ``/v1/providers/<vendor>/``) beside the status callbacks."""

    name: str
    channels: frozenset[str]
    credentials: type[BaseModel]
    secrets: frozenset[str]
    build: Callable[["Runtime", Account | None], Provider]
    # The installation secrets its providers are built with, read when a server starts: a route that
    # builds one inside its own transaction finds them read already (on SQLite, a second transaction
    # writing one the first time would wait for the route's).
    installation_secrets: tuple[str, ...] = ()
    # What the settings lack for it to serve as the process default (``BATCHCALL_PROVIDER``), if anything.
    default_missing: Callable[["Settings"], str | None] | None = None
    router: APIRouter | None = None


class UnknownProvider(LookupError):
    """``BATCHCALL_PROVIDER`` names no provider this server has: a mistake in its configuration."""


class ProviderNotSetUp(UnknownProvider):
    """``BATCHCALL_PROVIDER`` names a provider whose own settings are missing."""


@cache
def vendors() -> dict[str, Vendor]:
    found: dict[str, Vendor] = {}
    for module in pkgutil.iter_modules(providers.__path__):
        if module.ispkg:
            vendor: Vendor = importlib.import_module(f"{providers.__name__}.{module.name}.vendor").VENDOR
            found[vendor.name] = vendor
    return found


def vendor(name: str) -> Vendor:
    """The vendor called ``name``; raises UnknownProvider unless this server has one."""
    known = vendors()
    if name not in known:
        raise UnknownProvider(
            f"BATCHCALL_PROVIDER is '{name}', which is not a provider; known: {', '.join(sorted(known))}"
        )
    return known[name]


def check(settings: "Settings") -> None:
    """Raise UnknownProvider unless ``BATCHCALL_PROVIDER`` is a provider this server has, and
    ProviderNotSetUp when its settings do not let it serve as the process default."""
    missing = vendor(settings.provider).default_missing
    problem = missing(settings) if missing is not None else None
    if problem is not None:
        raise ProviderNotSetUp(f"BATCHCALL_PROVIDER is '{settings.provider}', but {problem}")


def read_installation_secrets(runtime: "Runtime") -> None:
    """Read the installation secrets the vendors' providers are built with, before any is built inside a
    transaction of its own (a route's, a claim's), which on SQLite would wait for itself writing one the
    first time. With the database out of reach now, they are read when first needed."""
    try:
        for vendor in vendors().values():
            for name in vendor.installation_secrets:
                runtime.installation_secret(name)
    except SQLAlchemyError as error:
        log.warning(
            "vendor secrets not read at start, the database is out of reach: %s", type(error).__name__
        )


def create(name: str, runtime: "Runtime", account: Account | None = None) -> Provider:
    """The provider of vendor ``name`` for ``account``, or the process default's when it is None."""
    return vendor(name).build(runtime, account)
