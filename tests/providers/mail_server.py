"""A mail server on loopback (aiosmtpd) for the SMTP tests: it takes a login, answers each recipient as
the test scripts it (a greylisting 451, a 550 for no such mailbox) and keeps every message it accepts."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class MailServer:
    username: str = "mailer"
    password: str = "s3cret-mail"
    # What the server answers a recipient, instead of taking it: "451 4.7.1 Greylisted, try again later".
    refusals: dict[str, str] = field(default_factory=dict)
    received: list[EmailMessage] = field(default_factory=list)
    # Each message as it came over the wire.
    raw: list[bytes] = field(default_factory=list)
    port: int = 0

    @contextmanager
    def running(self) -> Iterator["MailServer"]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            auth_required=True,
        )
        controller.start()
        try:
            yield self
        finally:
            controller.stop()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        given = isinstance(data, LoginPassword) and (data.login, data.password)
        return AuthResult(success=given == (self.username.encode(), self.password.encode()), handled=False)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        refusal = self.refusals.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.raw.append(envelope.original_content)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> EmailMessage:
        [found] = [message for message in self.received if message["To"] == address]
        return found
