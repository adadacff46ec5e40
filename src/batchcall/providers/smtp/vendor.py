"""The SMTP vendor: email through a workspace's own mail server, given as an SMTP provider account."""

from typing import TYPE_CHECKING

from batchcall.mail.unsubscribe import UNSUBSCRIBE_KEY
from batchcall.providers.base import Account, Provider, ProviderRejected
from batchcall.providers.registry import Vendor
from batchcall.providers.smtp.config import SECRETS, SmtpCredentials
from batchcall.providers.smtp.provider import NAME, SmtpProvider

if TYPE_CHECKING:
    from batchcall.config import Settings
    from batchcall.runtime import Runtime


def default_missing(settings: "Settings") -> str | None:
    """SMTP sends only email, and each workspace's server is its own: it cannot be the process default."""
    return (
        "SMTP sends email only, through a workspace's own server: keep BATCHCALL_PROVIDER for calls and give "
        "each workspace an smtp provider account for email"
    )


def _build(runtime: "Runtime", account: Account | None) -> Provider:
    if account is None:
        raise ProviderRejected("no SMTP server: give the workspace an smtp provider account for email")
    return SmtpProvider(
        account,
        runtime.settings.smtp,
        runtime.clock,
        runtime.settings.public_url,
        runtime.installation_secret(UNSUBSCRIBE_KEY),
        runtime.settings.allow_private_targets,
    )


VENDOR = Vendor(
    name=NAME,
    channels=frozenset({"email"}),
    credentials=SmtpCredentials,
    secrets=SECRETS,
    build=_build,
    installation_secrets=(UNSUBSCRIBE_KEY,),
    default_missing=default_missing,
)
