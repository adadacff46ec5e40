"""Email through a workspace's own SMTP server, with ``aiosmtplib``.

A message goes out with its rendered subject and parts, and a ``List-Unsubscribe`` link with
``List-Unsubscribe-Post`` (RFC 8058 one-click), on a connection kept while messages follow one another. An
SMTP server says at once whether it took a message, so the attempt ends as soon as it answers: taken (250)
is a completed attempt, a 5xx a failed one with the server's reason, and a 4xx (greylisting, a busy
mailbox) sends nothing and tries again later. The server's address is checked on every connection as every
outbound target is, and the connection goes to the very address that check passed.
"""

import asyncio
import socket
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import aiosmtplib

from batchcall.kit.clock import Clock
from batchcall.kit.errors import Invalid
from batchcall.kit.outbound import allowed_addresses
from batchcall.mail import unsubscribe
from batchcall.mail.addresses import address_fault, is_address
from batchcall.models import CallStatus, Channel
from batchcall.providers.base import (
    Account,
    CallbackForged,
    DialRequest,
    NoStatus,
    ProviderRejected,
    ProviderUnanswered,
    ProviderUnavailable,
    StatusEvent,
    Verification,
    VoicemailMessage,
    status_event_id,
)
from batchcall.providers.smtp.config import SmtpCredentials, SmtpSettings, Tls

NAME = "smtp"
PREFIX = "smtp:"
# How long a connection is kept for the next message: long enough for a claim's emails to share one, short
# of the five minutes RFC 5321 lets a server wait before it drops an idle client, which would then fail a
# message under way.
KEEP_SECONDS = 30.0
# A server's "service not available, closing the channel".
CLOSING = 421
# Lines as long as RFC 5322 allows: the unsubscribe link is one long word, which a 78-character policy
# would turn into an encoded-word no mail client reads as a link. Seven-bit parts (quoted-printable where
# the text is not ASCII), which every server takes, with or without 8BITMIME.
WIRE = policy.SMTP.clone(max_line_length=998, cte_type="7bit")


class Client(aiosmtplib.SMTP):
    """aiosmtplib's client, telling whether a message's DATA began: a connection lost after that may have
    delivered the message, one lost before it cannot have."""

    data_began = False

    async def data(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_began = True
        return await super().data(*args, **kwargs)


class KeptConnection:
    """One connection to the server, kept from message to message on an event loop of its own."""

    def __init__(self) -> None:
        # A loop of its own rather than an asyncio.Runner: closing a Runner runs the loop once more, which
        # cannot be done when the provider is let go inside another running loop (a garbage collection
        # on a server's thread).
        self.loop = asyncio.new_event_loop()
        self.server: Client | None = None
        self.last_sent = 0.0

    def fresh(self) -> bool:
        return time.monotonic() - self.last_sent < KEEP_SECONDS

    def drop(self) -> None:
        """Let the connection go (the server may have closed it already)."""
        if self.server is not None:
            self.server.close()
            self.server = None

    def close(self) -> None:
        self.drop()
        self.loop.close()


class SmtpProvider:
    name = NAME

    def __init__(
        self,
        account: Account,
        settings: SmtpSettings,
        clock: Clock,
        public_url: str,
        unsubscribe_key: bytes,
        allow_private: bool,
    ) -> None:
        self._credentials = SmtpCredentials.model_validate(account.credentials)
        self._settings = settings
        self._clock = clock
        self._public_url = public_url
        self._unsubscribe_key = unsubscribe_key
        self._allow_private = allow_private
        # The endings of messages the server took, handed to the dispatcher on its next poll.
        self._taken: list[StatusEvent] = []
        self._kept = KeptConnection()
        self._sending = threading.Lock()
        # The connection and its loop end with the provider (an account changed, the process exits).
        weakref.finalize(self, self._kept.close)

    def start_call(self, request: DialRequest) -> str:
        if request.channel != Channel.EMAIL or request.email is None:
            raise ProviderRejected("an SMTP account sends email only")
        if not self._public_url:
            raise ProviderRejected(
                "BATCHCALL_PUBLIC_URL is not set, so the email could carry no working unsubscribe link"
            )
        if not is_address(request.to):
            raise ProviderRejected(f"'{request.to}' {address_fault(request.to)}")
        message = self._message(request)
        with self._sending:
            try:
                self._kept.loop.run_until_complete(self._send(message, request.to))
            except aiosmtplib.SMTPRecipientsRefused as refused:
                [first, *_] = refused.recipients
                raise self._refusal(first.code, first.message) from None
            except aiosmtplib.SMTPResponseException as fault:
                if fault.code == CLOSING:
                    self._kept.drop()
                raise self._refusal(fault.code, fault.message) from None
            except (aiosmtplib.SMTPException, OSError) as fault:
                sent = self._kept.server is not None and self._kept.server.data_began
                self._kept.drop()
                if sent:
                    raise ProviderUnanswered(
                        f"the mail server went away before it said whether it took the email: {fault}"
                    ) from None
                raise ProviderUnavailable(
                    f"the mail server could not be reached: {fault}", self._settings.retry_after_seconds
                ) from None
            except ValueError as fault:
                # aiosmtplib refuses an address it cannot write to the server before it writes anything.
                self._kept.drop()
                raise ProviderRejected(f"the email could not be given to the mail server: {fault}") from None
            except BaseException:
                # Whatever else broke mid-message, the next one must not find this one's envelope open.
                self._kept.drop()
                raise
        provider_id = f"{PREFIX}{request.attempt_id}"
        self._taken.append(self._taken_event(provider_id, request.attempt_id))
        return provider_id

    def _message(self, request: DialRequest) -> EmailMessage:
        assert request.email is not None
        own = self._credentials
        message = EmailMessage(policy=WIRE)
        message["From"] = formataddr((own.from_name or "", own.from_address))
        message["To"] = request.to
        message["Subject"] = request.email.subject
        message["Date"] = format_datetime(self._clock.now())
        message["Message-ID"] = f"<{request.attempt_id}@{own.from_address.rpartition('@')[2]}>"
        link = unsubscribe.link(self._public_url, self._unsubscribe_key, request.workspace_id, request.to)
        message["List-Unsubscribe"] = f"<{link}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(request.email.text or "")
        if request.email.html is not None:
            message.add_alternative(request.email.html, subtype="html")
        return message

    async def _send(self, message: EmailMessage, recipient: str) -> None:
        """Send the message once, as this module writes it (aiosmtplib's own writing would fold the long
        link): on the kept connection while it is fresh and the server still answers on it, else on a new
        one. It is never sent again here: once its DATA began, the server may have it."""
        kept = self._kept
        if not await self._answering(kept.server):
            await self._reconnect()
        assert kept.server is not None
        kept.server.data_began = False
        await kept.server.sendmail(self._credentials.from_address, [recipient], message.as_bytes(policy=WIRE))
        kept.last_sent = time.monotonic()

    async def _answering(self, server: "Client | None") -> bool:
        """Whether the kept connection can carry the next message: fresh, and answering a NOOP (a server
        may let an idle client go at any time)."""
        if server is None or not server.is_connected or not self._kept.fresh():
            return False
        try:
            await server.noop()
        except (aiosmtplib.SMTPException, OSError):
            return False
        return True

    async def _reconnect(self) -> None:
        self._kept.drop()
        self._kept.server = self._connected()
        await self._kept.server.connect()

    def _connected(self) -> Client:
        """A client for the server, on a socket connected to an address the outbound check allows (a
        private one only where BATCHCALL_ALLOW_PRIVATE_TARGETS says so)."""
        own = self._credentials
        try:
            addresses = allowed_addresses(own.host, allow_private=self._allow_private)
        except Invalid as refused:
            raise ProviderRejected(f"the mail server's host is refused: {refused.message}") from None
        sock = socket.create_connection((addresses[0], own.port), timeout=self._settings.timeout_seconds)
        return Client(
            hostname=own.host,
            sock=sock,
            username=own.username,
            password=own.password,
            use_tls=own.tls == Tls.TLS,
            start_tls=own.tls == Tls.STARTTLS,
            cert_bundle=self._settings.ca_file,
            timeout=self._settings.timeout_seconds,
        )

    def _refusal(self, code: int, reason: str) -> ProviderRejected | ProviderUnavailable:
        described = f"the mail server answered {code} {reason.strip()}"
        if 400 <= code < 500:
            return ProviderUnavailable(described, self._settings.retry_after_seconds)
        return ProviderRejected(described, code=str(code))

    def _taken_event(self, provider_id: str, attempt_id: str | None) -> StatusEvent:
        now = self._clock.now()
        return StatusEvent(
            event_id=status_event_id(provider_id, CallStatus.COMPLETED),
            provider_call_id=provider_id,
            status=CallStatus.COMPLETED,
            occurred_at=now,
            attempt_id=attempt_id,
            ended_at=now,
        )

    def end_call(self, provider_call_id: str) -> None:
        """A message the server took is out of reach."""

    def leave_message(self, provider_call_id: str, message: VoicemailMessage) -> None:
        """An email has no answering machine."""

    def fetch_status(self, provider_call_id: str) -> StatusEvent:
        """An SMTP id is only given to a message the server took: it is delivered to the server."""
        if not provider_call_id.startswith(PREFIX):
            raise ProviderRejected(f"'{provider_call_id}' is not an SMTP message id")
        return self._taken_event(provider_call_id, provider_call_id.removeprefix(PREFIX))

    def lookup(self, attempt_ids: Sequence[str]) -> Mapping[str, StatusEvent | NoStatus]:
        """An SMTP server keeps nothing one could ask about afterwards."""
        return dict.fromkeys(attempt_ids, NoStatus.CANNOT_TELL)

    def poll_events(self) -> Sequence[StatusEvent]:
        taken, self._taken = self._taken, []
        return taken

    def parse_callback(self, headers: Mapping[str, str], body: bytes, url: str = "") -> Sequence[StatusEvent]:
        raise CallbackForged("an SMTP server sends no callbacks")

    def verify(self, caller_ids: Sequence[str]) -> Verification:
        """Connect, greet, upgrade to TLS and log in as a message would, sending nothing."""

        async def greet() -> None:
            async with self._connected() as server:
                await server.noop()

        own = self._credentials
        try:
            asyncio.run(greet())
        except ProviderRejected as refused:
            return Verification(False, refused.message)
        except aiosmtplib.SMTPResponseException as fault:
            return Verification(False, f"the mail server answered {fault.code} {fault.message.strip()}")
        except (aiosmtplib.SMTPException, OSError) as fault:
            return Verification(False, f"the mail server could not be reached: {fault}")
        login = f" and took the login of {own.username}" if own.username else ""
        return Verification(True, f"{own.host}:{own.port} answered over {own.tls}{login}", "active")
