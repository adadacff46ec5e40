"""Text a database can keep: PostgreSQL refuses the NUL character in text and in JSON."""

from typing import Any

NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored"


def contains_nul(value: Any) -> bool:
    """Whether a NUL character hides anywhere in ``value``: strings, keys, nested lists and objects.

    Walked with a list, not by recursion: a row may nest as deep as the JSON parser allows."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
