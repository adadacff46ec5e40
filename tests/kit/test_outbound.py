"""Where this server may send requests: the address rules, the URL check, the client that enforces them."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import pytest

from batchcall.kit import outbound
from batchcall.kit.outbound import TargetRefused, TargetUnresolved

REFUSED_ADDRESSES = [
    "127.0.0.1",
    "127.255.0.9",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "2001:db8::1",
    "2002:7f00:1::",
    "2002:a00:1::",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
]
PUBLIC_ADDRESSES = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2002:808:808::",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_an_address_that_is_not_public_unicast_is_not_public(address: str) -> None:
    assert not outbound.is_public(ip_address(address))


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_a_public_unicast_address_is_public(address: str) -> None:
    assert outbound.is_public(ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]:9/",
        "http://0.0.0.0/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "http://[2002:7f00:1::]/",
        "http://[64:ff9b::a9fe:a9fe]/",
    ],
)
def test_a_url_reaching_a_private_address_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        outbound.check_url(url, allow_private=False)
    assert "public addresses" in refused.value.message
    assert outbound.ALLOW_SETTING in refused.value.message
    outbound.check_url(url, allow_private=True)


def test_the_refusal_names_the_resolved_address_and_its_kind() -> None:
    with pytest.raises(TargetRefused, match=r"^2130706433 resolves to 127\.0\.0\.1, which is a loopback"):
        outbound.check_url("http://2130706433/", allow_private=False)
    with pytest.raises(TargetRefused, match=r"^169\.254\.169\.254 is a link-local address"):
        outbound.check_url("http://169.254.169.254/", allow_private=False)


@pytest.mark.parametrize(
    "url", ["https://8.8.8.8/hooks", "http://[2606:4700:4700::1111]:81/", "https://x.invalid/"]
)
def test_a_public_or_unresolved_url_passes(url: str) -> None:
    outbound.check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8/", "http:///x", "http://0177.0.0.1/"]
)
def test_only_http_and_https_urls_with_a_host_pass(url: str) -> None:
    with pytest.raises(TargetRefused):
        outbound.check_url(url, allow_private=True)


def test_an_unresolved_name_has_no_address_to_connect_to() -> None:
    with pytest.raises(TargetUnresolved, match=r"x\.invalid does not resolve"):
        outbound.allowed_addresses("x.invalid", allow_private=True)


def test_an_excerpt_is_short_printable_and_on_one_line() -> None:
    text = "a\x00b\x1b[0m\r\n\tc\u202ed\u200b " + "\x07z" * 10_000
    cleaned = outbound.excerpt(text)
    assert cleaned.startswith("ab[0m cd z")
    assert len(cleaned) == outbound.EXCERPT_CHARS
    assert cleaned.isprintable()
    assert outbound.excerpt("\x00\x01 \n") == ""


@pytest.fixture
def server() -> Iterator[tuple[int, list[str]]]:
    """A loopback server answering 204, and the paths it was asked for."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], seen
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_the_client_connects_to_no_private_address(server: tuple[int, list[str]], host: str) -> None:
    port, seen = server
    with outbound.client(allow_private=lambda: False, timeout=5) as http:
        with pytest.raises(TargetRefused, match="loopback"):
            http.get(f"http://{host}:{port}/refused")
    assert seen == []


def test_the_client_asks_on_each_connection_whether_private_addresses_are_allowed(
    server: tuple[int, list[str]],
) -> None:
    port, seen = server
    allowed = [False]
    with outbound.client(allow_private=lambda: allowed[0], timeout=5) as http:
        with pytest.raises(TargetRefused):
            http.get(f"http://localhost:{port}/refused")
        allowed[0] = True
        assert http.get(f"http://localhost:{port}/allowed").status_code == 204
    assert seen == ["/allowed"]


def test_the_client_ignores_the_environments_proxy(
    server: tuple[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, seen = server
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{port}")
    with outbound.client(allow_private=lambda: False, timeout=5) as http, pytest.raises(TargetUnresolved):
        http.get("http://hooks.x.invalid/through-the-proxy")
    assert seen == []
