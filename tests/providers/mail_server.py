"""A mail server on loopback (aiosmtpd) for the SMTP tests: it takes a login, answers each recipient as
the test scripts it (a greylisting 451, a 550 for no such mailbox) and keeps every message it accepts."""

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that vouches for itself (the CA a test trusts), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class MailServer:
    username: str = "mailer"
    password: str = "s3cret-mail"
    # What the server answers a recipient, instead of taking it: "451 4.7.1 Greylisted, try again later".
    refusals: dict[str, str] = field(default_factory=dict)
    received: list[EmailMessage] = field(default_factory=list)
    # Recipients whose message the server keeps and then hangs up on, before saying it took it.
    lost_answers: set[str] = field(default_factory=set)
    # Each message as it came over the wire.
    raw: list[bytes] = field(default_factory=list)
    port: int = 0
    # A certificate and key: the server then offers STARTTLS, and takes neither a login nor mail without it.
    tls: tuple[Path, Path] | None = None
    # One per connection: every client logs in once.
    logins: int = 0
    _clients: list[Any] = field(default_factory=list)
    _controller: Any = None

    @contextmanager
    def running(self) -> Iterator["MailServer"]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=context is not None,
            auth_required=True,
            tls_context=context,
            require_starttls=context is not None,
        )
        controller.start()
        self._controller = controller
        try:
            yield self
        finally:
            controller.stop()

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins += 1
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
        self._clients.append(server)
        self.raw.append(envelope.original_content)
        if self.lost_answers & set(envelope.rcpt_tos):
            server.transport.close()
        return "250 Message accepted for delivery"

    def hang_up(self) -> None:
        """Close every client's connection, as a server does with clients idle too long."""
        # A client is listed once per message it sent, and its transport is gone once closed.
        transports = {id(client.transport): client.transport for client in self._clients}
        for transport in transports.values():
            if transport is not None:
                self._controller.loop.call_soon_threadsafe(transport.close)
        self._clients.clear()

    def to(self, address: str) -> EmailMessage:
        [found] = [message for message in self.received if message["To"] == address]
        return found
