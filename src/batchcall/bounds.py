"""Bounds on what one request may hold, taken from the settings of the runtime serving it.

Schema validators cannot reach the request, so each unit of work puts its runtime's settings in effect
while the request is read: a bound lowered on a runtime (by its environment, or by a test) holds from the
next request. Outside a request, the process's settings apply.
"""

from contextvars import ContextVar
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, Field

from batchcall.config import Settings, get_settings

SETTINGS_IN_EFFECT: ContextVar[Settings | None] = ContextVar("settings_in_effect", default=None)
# Short text is bounded by the width of the column it is kept in; a country code is two letters, give or
# take the spaces a form leaves around it.
ID_CHARS = 36
COUNTRY_CODE_CHARS = 8


def settings_in_effect() -> Settings:
    return SETTINGS_IN_EFFECT.get() or get_settings()


def nests_deeper(value: Any, levels: int) -> bool:
    """Whether objects and arrays in ``value`` nest more than ``levels`` deep; looks no deeper than that."""
    layer = [value]
    for _ in range(levels + 1):
        containers = [item for item in layer if isinstance(item, dict | list)]
        if not containers:
            return False
        layer = [child for c in containers for child in (c.values() if isinstance(c, dict) else c)]
    return True


def json_fault(value: Any, max_bytes: int, max_depth: int) -> str | None:
    """Why ``value`` may not be stored as JSON, if it may not: too deep, too large, or not JSON at all."""
    if nests_deeper(value, max_depth):
        return f"nests deeper than {max_depth} levels (BATCHCALL_MAX_JSON_DEPTH)"
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError as exc:
        return f"cannot be stored as JSON: {exc}"
    if size > max_bytes:
        return f"is larger than {max_bytes} bytes as JSON (BATCHCALL_MAX_ROW_JSON_BYTES)"
    return None


def within_json_bounds(value: dict[str, Any]) -> dict[str, Any]:
    """``value``, if it is as small and shallow as stored JSON may be (the settings in effect); else a
    ValueError naming the bound."""
    settings = settings_in_effect()
    fault = json_fault(value, settings.max_row_json_bytes, settings.max_json_depth)
    if fault is not None:
        raise ValueError(fault)
    return value


def _prompt(value: str) -> str:
    limit = settings_in_effect().max_prompt_chars
    if len(value) > limit:
        raise ValueError(f"is longer than {limit} characters (BATCHCALL_MAX_PROMPT_CHARS)")
    return value


Id = Annotated[str, Field(max_length=ID_CHARS)]
CountryCode = Annotated[str, Field(max_length=COUNTRY_CODE_CHARS)]
# An object kept as JSON, as large and as deep as a row's variables may be.
StoredJson = Annotated[dict[str, Any], AfterValidator(within_json_bounds)]
PromptText = Annotated[str, AfterValidator(_prompt)]
