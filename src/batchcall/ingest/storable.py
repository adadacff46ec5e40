"""Text a database can keep: PostgreSQL refuses the NUL character in text and in JSON."""

from typing import Any

NUL_MESSAGE = "contains a NUL character (\\u0000), which cannot be stored"


def contains_nul(value: Any) -> bool:
    """Whether a NUL character hides anywhere in ``value``: strings, keys, nested lists and objects."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False
