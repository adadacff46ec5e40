"""The Twilio vendor: voice and SMS through a workspace's Twilio account, or through the
process's own (``BATCHCALL_TWILIO_*``) for a one-tenant box."""

from typing import TYPE_CHECKING

from batchcall.agent_sessions.tokens import SESSION_KEY
from batchcall.providers.base import Account, Provider, ProviderRejected
from batchcall.providers.registry import Vendor
from batchcall.providers.twilio.api import router
from batchcall.providers.twilio.config import SECRETS, TwilioCredentials
from batchcall.providers.twilio.provider import NAME, TwilioProvider
from batchcall.providers.twilio.urls import TWIML_KEY

if TYPE_CHECKING:
    from batchcall.config import Settings
    from batchcall.runtime import Runtime


def default_missing(settings: "Settings") -> str | None:
    """What a one-tenant box dialling through Twilio has not set."""
    if not settings.twilio.account_sid or not settings.twilio.auth_token:
        return "BATCHCALL_TWILIO_ACCOUNT_SID and BATCHCALL_TWILIO_AUTH_TOKEN are not set"
    if not settings.public_url:
        return (
            "BATCHCALL_PUBLIC_URL is not set: Twilio fetches each call's TwiML and posts its callbacks there"
        )
    return None


def default_account(runtime: "Runtime") -> Account:
    """The process's own Twilio account, from settings; raises ProviderRejected when none is set."""
    own = runtime.settings.twilio
    if not own.account_sid or not own.auth_token:
        raise ProviderRejected(
            "no Twilio account: set BATCHCALL_TWILIO_ACCOUNT_SID and BATCHCALL_TWILIO_AUTH_TOKEN, or give "
            "the workspace a Twilio provider account"
        )
    credentials = {"account_sid": own.account_sid, "auth_token": own.auth_token}
    if own.api_key:
        credentials |= {"api_key": own.api_key, "api_secret": own.api_secret}
    return Account(None, NAME, credentials, own.api_base_url, own.calls_per_second)


def _build(runtime: "Runtime", account: Account | None) -> Provider:
    return TwilioProvider(
        account or default_account(runtime),
        runtime.settings.twilio,
        runtime.clock,
        runtime.settings.public_url,
        runtime.installation_secret(TWIML_KEY),
    )


VENDOR = Vendor(
    name=NAME,
    channels=frozenset({"voice", "sms"}),
    credentials=TwilioCredentials,
    secrets=SECRETS,
    build=_build,
    installation_secrets=(TWIML_KEY, SESSION_KEY),
    default_missing=default_missing,
    router=router,
)
