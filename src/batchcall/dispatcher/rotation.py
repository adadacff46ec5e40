"""Which caller id a call goes out from.

- ``random``: any caller id of the pool with capacity left today, picked at random per call;
- ``sequential``: the first caller id of the pool until its daily cap is used up, then the next;
- ``round_robin``: the pool in turn, one call each, from where the batch's cursor stands.

A retry goes out from the caller id of the call's previous attempt while that one is still in the pool
and has capacity; only then does the rotation pick another.
"""

import random

from batchcall.dispatcher.caps import CallerCapacity
from batchcall.models import Batch, Rotation

_random = random.Random()


def choose(batch: Batch, capacity: CallerCapacity, previous: str | None) -> str | None:
    """A caller id from the batch's pool with capacity left; None when every one is used up."""
    pool = batch.from_numbers
    if previous is not None and previous in pool and capacity.usable(previous):
        chosen: str | None = previous
    elif batch.rotation == Rotation.SEQUENTIAL:
        chosen = next((n for n in pool if capacity.usable(n)), None)
    elif batch.rotation == Rotation.ROUND_ROBIN:
        chosen = None
        for step in range(len(pool)):
            candidate = pool[(batch.rotation_cursor + step) % len(pool)]
            if capacity.usable(candidate):
                batch.rotation_cursor = (batch.rotation_cursor + step + 1) % len(pool)
                chosen = candidate
                break
    else:
        usable = [n for n in pool if capacity.usable(n)]
        chosen = _random.choice(usable) if usable else None
    if chosen is not None:
        capacity.take(chosen)
    return chosen
