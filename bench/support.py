"""What the benchmarks share: throw-away databases, a real server on a free loopback port, test numbers."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import phonenumbers

from batchcall.testing import free_port

AREA_CODES = (212, 213, 305, 310, 312, 404, 415, 503, 512, 617, 646, 702, 713, 718, 801, 919)


def machine_load() -> str:
    """The load average and the CPU count, printed beside a benchmark's figures."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"load average {load} ({os.cpu_count()} CPUs)"


@contextmanager
def running_server(database_url: str, **env: str) -> Iterator[str]:
    """``batchcall serve`` in a subprocess on a free port; yields its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "BATCHCALL_DATABASE_URL": database_url,
        "BATCHCALL_RUN_DISPATCHER": "false",
        "BATCHCALL_LOG_LEVEL": "WARNING",
        **env,
    }
    command = [sys.executable, "-m", "batchcall", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=environment)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not come up")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def create_workspace(database_url: str) -> str:
    """A workspace through the CLI, as a user makes one; returns its API key."""
    import json

    environment = {**os.environ, "BATCHCALL_DATABASE_URL": database_url}
    output = subprocess.run(
        [sys.executable, "-m", "batchcall", "workspace", "create", f"bench-{uuid.uuid4().hex[:8]}", "--json"],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    key: str = json.loads(output)["api_key"]
    return key


def valid_numbers(count: int, offset: int = 0) -> list[str]:
    """``count`` distinct valid North American numbers in E.164, the same ones for the same offset."""
    numbers: list[str] = []
    index = offset
    while len(numbers) < count:
        area = AREA_CODES[index % len(AREA_CODES)]
        rest = index // len(AREA_CODES)
        exchange, line = 200 + (rest // 10_000) % 800, rest % 10_000
        candidate = f"+1{area}{exchange}{line:04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            numbers.append(candidate)
        index += 1
    return numbers
