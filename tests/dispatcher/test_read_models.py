"""The read models are filled positionally from their column lists: a column out of place would put one
field's value in another without any error, so the two must name the same things in the same order."""

from dataclasses import fields
from typing import Any

import pytest
from sqlalchemy.orm import QueryableAttribute

from batchcall.calls import views


@pytest.mark.parametrize(
    ("model", "columns"),
    [
        (views.DueCall, views.DUE_CALL_COLUMNS),
        (views.LiveCall, views.LIVE_CALL_COLUMNS),
        (views.LiveAttempt, views.LIVE_ATTEMPT_COLUMNS),
    ],
)
def test_each_read_model_names_its_columns_in_order(
    model: type, columns: tuple[QueryableAttribute[Any], ...]
) -> None:
    assert [field.name for field in fields(model)] == [column.key for column in columns]
