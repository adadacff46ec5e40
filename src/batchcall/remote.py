"""The CLI's side of the HTTP API: submit a CSV with a progress bar, download an export."""

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

import httpx

from batchcall.kit.errors import AppError


class RemoteError(AppError):
    """The server refused the request; the message is the server's own."""


class ProgressReader:
    """A file wrapper that reports how many bytes have been read, so an upload can show progress."""

    def __init__(self, handle: IO[bytes], advance: Callable[[int], None]) -> None:
        self._handle = handle
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._advance(len(chunk))
        return chunk


def client(api_url: str, api_key: str) -> httpx.Client:
    if not api_key:
        raise RemoteError("No API key: pass --key or set BATCHCALL_API_KEY")
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=600)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"message": response.text}
    if response.status_code >= 400:
        raise RemoteError(f"{response.status_code}: {body.get('message', body)}")
    return body


def create_batch(http: httpx.Client, fields: dict[str, Any]) -> dict[str, Any]:
    return _answer(http.post("/v1/batches", json=fields))


def upload_csv(
    http: httpx.Client, batch_id: str, path: Path, country_code: str | None, advance: Callable[[int], None]
) -> dict[str, Any]:
    data = {"country_code": country_code} if country_code else {}
    with path.open("rb") as handle:
        # httpx reads any object with read(); its types ask for a full IO.
        files = {"file": (path.name, cast(IO[bytes], ProgressReader(handle, advance)), "text/csv")}
        return _answer(http.post(f"/v1/batches/{batch_id}/calls/upload", files=files, data=data))


def schedule(http: httpx.Client, batch_id: str) -> dict[str, Any]:
    return _answer(http.post(f"/v1/batches/{batch_id}/schedule"))


def export(http: httpx.Client, batch_id: str, target: IO[bytes]) -> int:
    written = 0
    with http.stream("GET", f"/v1/batches/{batch_id}/export") as response:
        if response.status_code >= 400:
            response.read()
            _answer(response)
        for chunk in response.iter_bytes():
            written += target.write(chunk)
    return written
