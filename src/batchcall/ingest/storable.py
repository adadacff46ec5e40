"""Text a database can keep: PostgreSQL refuses the NUL character in text and in JSON."""

from typing import Any

import orjson

NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored"
# How JSON writes a NUL character; the same six characters as text are written with the backslash doubled.
NUL_IN_JSON = b"\\u0000"


def contains_nul(value: Any) -> bool:
    """Whether a NUL character hides anywhere in ``value``: strings, keys, nested lists and objects.

    Every row is asked, so the common answer comes fast: written as JSON (in C) a value without a NUL has
    no ``\\u0000`` in it. Only a value that has one, or that JSON cannot write, is walked."""
    try:
        written = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return _walk(value)
    return NUL_IN_JSON in written and _walk(value)


def _walk(value: Any) -> bool:
    """Walked with a list, not by recursion: a row may nest as deep as the JSON parser allows."""
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
