"""Everything a key can reach belongs to its workspace; anything else does not exist for it."""

from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from batchcall.kit.errors import NotFound


class Owned(Protocol):
    workspace_id: Any


T = TypeVar("T", bound=Owned)


def get_owned(session: Session, model: type[T], workspace_id: str, id_: str, label: str) -> T:
    found = session.get(model, id_)
    if found is None or found.workspace_id != workspace_id:
        raise NotFound(f"{label} {id_} not found")
    return found
