"""The CLI's side of the HTTP API: one client that every API command uses.

It reads the server's answers as the wire carries them (JSON objects), so the CLI holds to the same
contract as any other client. Every fault comes back as a ``RemoteError`` with one line a person can act
on: the server's own message, or what to check when the server cannot be reached or refuses the key.
"""

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import httpx

from batchcall.config import ClientSettings, config_file
from batchcall.kit.errors import AppError

# Waits before sending a request again whose answer was lost (the connection broke, or the server answered
# 503): a POST carries an idempotency key, so the server answers a repeat with its first answer.
RETRY_DELAYS_SECONDS = (1.0, 3.0)
# Faults after which the request may have reached the server; a refused connection reached nothing.
LOST_ANSWER_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ReadTimeout)
UPLOAD_TIMEOUT_SECONDS = 600.0
PAGE_SIZE = 1000
# How much of a file is read at a time, to hash it or to send it.
CHUNK_BYTES = 1 << 20


class RemoteError(AppError):
    """The server refused the request, or could not be reached; the message says which."""


class ProgressReader:
    """A file wrapper that reports how many bytes have been read, so an upload can show progress."""

    def __init__(self, handle: IO[bytes], advance: Callable[[int], None]) -> None:
        self._handle = handle
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._advance(len(chunk))
        return chunk


def upload_key(batch_id: str, path: Path, country_code: str | None) -> str:
    """The idempotency key of uploading this file's bytes, read with this country code, to this batch:
    the same upload run again (by a retry, or by the operator) is answered with the first answer, not
    queued twice; the same file with another country code is another request."""
    digest = hashlib.sha256(f"{batch_id}\n{country_code or ''}\n".encode())
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    return f"upload-{digest.hexdigest()[:48]}"


def boundary_of(key: str) -> str:
    """A multipart boundary that depends only on the idempotency key, so a repeated upload is the same
    bytes on the wire."""
    return f"batchcall-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


class Api:
    """The API at ``settings.api_url``, with ``settings.api_key``."""

    def __init__(self, settings: ClientSettings) -> None:
        if not settings.api_key:
            raise RemoteError(
                'No API key: pass --api-key, set BATCHCALL_API_KEY, or put api_key = "<key>" in '
                f"{config_file()} (`batchcall workspace create NAME` prints a key)"
            )
        self.url = settings.api_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {settings.api_key}"},
            timeout=UPLOAD_TIMEOUT_SECONDS,
            trust_env=False,
        )

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def batch(self, batch_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/batches/{batch_id}")

    def batches(self, status: str | None) -> list[dict[str, Any]]:
        """Every batch of the workspace (with ``status``, if given), newest first, page by page."""
        found: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": len(found)}
            if status:
                params["status"] = status
            page = self._json("GET", "/v1/batches", params=params)
            found += page["data"]
            if not page["data"] or len(found) >= page["pagination"]["total"]:
                return found

    def create_batch(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/v1/batches", json=fields)

    def update_batch(self, batch_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self._json("PATCH", f"/v1/batches/{batch_id}", json=fields)

    def delete_batch(self, batch_id: str) -> None:
        self._answer(self._send("DELETE", f"/v1/batches/{batch_id}"))

    def act(self, batch_id: str, action: str) -> dict[str, Any]:
        """A batch's request: schedule, pause, resume, cancel or retry; the answer is the batch after it."""
        return self._json("POST", f"/v1/batches/{batch_id}/{action}")

    def calls(self, batch_id: str, status: str | None, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return self._json("GET", f"/v1/batches/{batch_id}/calls", params=params)

    def upload(
        self,
        batch_id: str,
        path: Path,
        country_code: str | None,
        dry_run: bool,
        advance: Callable[[int], None],
    ) -> dict[str, Any]:
        """Send a CSV file to the batch; with ``dry_run`` the server only answers what it would do.

        A real upload carries ``upload_key``; a dry run writes nothing, not even a stored answer, so it is
        sent without one (repeating it is harmless).
        """
        data = {"country_code": country_code} if country_code else {}
        headers: dict[str, str] = {}
        if not dry_run:
            key = upload_key(batch_id, path, country_code)
            headers = {
                "Idempotency-Key": key,
                "Content-Type": f"multipart/form-data; boundary={boundary_of(key)}",
            }

        def send() -> httpx.Response:
            with path.open("rb") as handle:
                # httpx reads any object with read(); its types ask for a full IO.
                files = {"file": (path.name, cast(IO[bytes], ProgressReader(handle, advance)), "text/csv")}
                return self._http.post(
                    f"/v1/batches/{batch_id}/calls/upload",
                    params={"dry_run": "true"} if dry_run else None,
                    files=files,
                    data=data,
                    headers=headers,
                )

        return self._answer(self._retrying(send))

    def download(self, path: str, target: IO[bytes]) -> int:
        """Stream a CSV answer (an export, rejected rows) into ``target``; the bytes written."""
        written = 0
        with self._reaching(), self._http.stream("GET", path) as response:
            if response.status_code >= 400:
                response.read()
                self._answer(response)
            for chunk in response.iter_bytes():
                written += target.write(chunk)
        return written

    def _json(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        return self._answer(self._send(method, path, **options))

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Send a request, again after a lost answer when that is safe: a read, or a POST under a key of
        its own (every POST this client sends has one)."""
        if method == "POST":
            options["headers"] = {"Idempotency-Key": f"cli-{uuid.uuid4()}", **options.get("headers", {})}
        if method not in ("GET", "POST"):
            with self._reaching():
                return self._http.request(method, path, **options)
        return self._retrying(lambda: self._http.request(method, path, **options))

    def _retrying(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        with self._reaching():
            for delay in RETRY_DELAYS_SECONDS:
                try:
                    response = send()
                except LOST_ANSWER_ERRORS:
                    pass
                else:
                    if response.status_code != 503:
                        return response
                time.sleep(delay)
            return send()

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Turn a transport fault into one line: where the CLI looked, and what went wrong."""
        try:
            yield
        except httpx.TransportError as error:
            reason = str(error) or type(error).__name__
            raise RemoteError(
                f"Cannot reach the API at {self.url} ({reason}): is `batchcall serve` running there? "
                "Point --api-url or BATCHCALL_API_URL at it"
            ) from error

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {"message": response.text.strip()[:200]}
        if not isinstance(body, dict):
            body = {"data": body}
        if response.status_code == 401:
            raise RemoteError(
                f"The API at {self.url} refused the key: {body.get('message', response.reason_phrase)}. "
                f"Pass --api-key, set BATCHCALL_API_KEY, or fix api_key in {config_file()}"
            )
        if response.status_code >= 400:
            message = body.get("message") or f"HTTP {response.status_code} {response.reason_phrase}"
            raise RemoteError(f"{message} (HTTP {response.status_code})")
        return body
