"""Memory: the server's resident set after the largest requests it allows, against its baseline.

The server runs in its own process on loopback; its RSS is read from its own ``/metrics``
(``process_resident_memory_bytes``). The baseline is taken after a small request of each kind, so code
loaded on first use is not counted. Then, one at a time: native 100,000 rows (all good, then all bad),
dialect E at its cap (100,000 contacts, every call in the answer), and E far over its cap (1,000,001
contacts, refused by their count). After each: the RSS at once and a few seconds later, as a ratio to the
baseline. The goal is that every later figure is within 20 % of the baseline. The series runs twice: a
second round that ends where the first did shows freed memory reused, not lost. Once more with
``PYTHONMALLOC=malloc``, which an operator may set: what CPython's small-object allocator keeps in
partly used arenas then goes back to the system with the rest.
"""

import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from batchcall import db
from batchcall.testing import scratch_database
from bench.support import create_workspace, running_server, valid_numbers

ROWS = 100_000
OVER_CAP = 1_000_001
SETTLE_SECONDS = 5.0
GOAL = 1.2
ROUNDS = 2


def resident_bytes(client: httpx.Client) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return int(float(line.split()[1]))
    raise RuntimeError("the server's /metrics has no process_resident_memory_bytes")


def post_json(client: httpx.Client, path: str, body: dict[str, Any], expected: int) -> None:
    response = client.post(path, content=orjson.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == expected, (response.status_code, response.text[:300])


def new_batch(client: httpx.Client) -> str:
    response = client.post("/v1/batches", json={"name": "memory"})
    response.raise_for_status()
    batch_id: str = response.json()["id"]
    return batch_id


def native_rows(numbers: list[str]) -> Callable[[httpx.Client], None]:
    rows = [
        {"phone_number": n, "first_name": "Pat", "variables": {"account": f"A{i}"}}
        for i, n in enumerate(numbers)
    ]
    return lambda client: post_json(client, f"/v1/batches/{new_batch(client)}/calls", {"rows": rows}, 200)


def bad_native_rows(count: int) -> Callable[[httpx.Client], None]:
    rows = [{"phone_number": "12"}] * count
    return lambda client: post_json(client, f"/v1/batches/{new_batch(client)}/calls", {"rows": rows}, 200)


def contacts(numbers: list[str]) -> Callable[[httpx.Client], None]:
    body = {"contacts": [{"numberToCall": n, "metadata": {"i": i}} for i, n in enumerate(numbers)]}
    return lambda client: post_json(client, "/ai-phone-calls/call-contact-bulk", body, 201)


def contacts_over_cap(client: httpx.Client) -> None:
    post_json(client, "/ai-phone-calls/call-contact-bulk", {"contacts": [{}] * OVER_CAP}, 422)


def run(kind: str, **env: str) -> bool:
    numbers = valid_numbers(2 * ROWS + 2_000)
    warm_up = [
        ("native, 1,000 rows", native_rows(numbers[:1_000])),
        ("E, 1,000 contacts", contacts(numbers[1_000:2_000])),
        ("E, over its cap", lambda client: post_json(client, "/ai-phone-calls/call-contact-bulk",
                                                     {"contacts": [{}] * 100_001}, 422)),
    ]  # fmt: skip
    requests = [
        (f"native, {ROWS:,} rows", native_rows(numbers[2_000 : 2_000 + ROWS])),
        (f"native, {ROWS:,} bad rows", bad_native_rows(ROWS)),
        (f"E, {ROWS:,} contacts (its cap)", contacts(numbers[2_000 + ROWS :])),
        (f"E, {OVER_CAP:,} contacts (over its cap)", contacts_over_cap),
    ]
    label = " ".join([kind, *(f"{name}={value}" for name, value in env.items())])
    within = True
    with scratch_database(kind, "batchcall_bench") as url:
        db.migrate(url)
        key = create_workspace(url)
        with (
            running_server(url, **env) as base_url,
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=600
            ) as client,
        ):
            for _, send in warm_up:
                send(client)
            time.sleep(SETTLE_SECONDS)
            baseline = resident_bytes(client)
            print(
                f"[{label}] baseline RSS {baseline / 2**20:,.0f} MiB (after one small request of each kind)"
            )
            for round_number in range(1, ROUNDS + 1):
                for name, send in requests:
                    started = time.perf_counter()
                    send(client)
                    elapsed = time.perf_counter() - started
                    after = resident_bytes(client)
                    time.sleep(SETTLE_SECONDS)
                    settled = resident_bytes(client)
                    within = within and settled <= baseline * GOAL
                    print(
                        f"[{label}] round {round_number}, {name}: {elapsed:.1f} s; "
                        f"RSS after {after / 2**20:,.0f} MiB ({after / baseline:.2f}x), "
                        f"{SETTLE_SECONDS:.0f} s later {settled / 2**20:,.0f} MiB ({settled / baseline:.2f}x)"
                    )
                    sys.stdout.flush()
    return within


def main() -> None:
    print(
        f"memory: server RSS after the largest allowed requests, as a ratio to its baseline (goal <= {GOAL})"
    )
    for kind, env in (("sqlite", {}), ("postgresql", {}), ("sqlite", {"PYTHONMALLOC": "malloc"})):
        within = run(kind, **env)
        label = " ".join([kind, *(f"{name}={value}" for name, value in env.items())])
        print(f"[{label}] " + ("every figure within the goal" if within else "OVER THE GOAL"))


if __name__ == "__main__":
    main()
