"""Text a database can keep: NUL characters are found wherever they hide, however deep."""

from typing import Any

from batchcall.ingest.storable import contains_nul


def _nested(levels: int, inner: Any) -> Any:
    value = inner
    for _ in range(levels):
        value = [{"k": value}]
    return value


def test_a_nul_is_found_in_strings_keys_and_nested_values() -> None:
    assert contains_nul("a\x00b")
    assert contains_nul({"k\x00": 1})
    assert contains_nul({"a": [1, {"b": "\x00"}]})
    assert not contains_nul({"a": [1, {"b": "ok"}], "c": None})


def test_a_nul_deeper_than_pythons_recursion_limit_is_found() -> None:
    assert contains_nul(_nested(5_000, "\x00"))
    assert not contains_nul(_nested(5_000, "ok"))
