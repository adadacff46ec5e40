from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from batchcall.agents import service as agents
from batchcall.batches import transitions as batches
from batchcall.dispatcher import caps
from batchcall.dispatcher.window import local_midnight
from batchcall.ingest.phone import PhoneError, to_e164
from batchcall.kit.errors import Conflict, Invalid
from batchcall.kit.tenancy import get_owned
from batchcall.models import PhoneNumber
from batchcall.numbers import repository
from batchcall.numbers.schemas import PhoneNumberCreate, PhoneNumberUpdate


def create(session: Session, workspace_id: str, data: PhoneNumberCreate, now: datetime) -> PhoneNumber:
    try:
        number = to_e164(data.number, data.country_code)
    except PhoneError as exc:
        raise Invalid(f"number: {exc}") from None
    if repository.find_by_number(session, workspace_id, number) is not None:
        raise Conflict(f"Phone number {number} is already registered in this workspace")
    if data.agent_id is not None:
        agents.get(session, workspace_id, data.agent_id)
    phone_number = PhoneNumber(
        workspace_id=workspace_id,
        number=number,
        agent_id=data.agent_id,
        label=data.label,
        daily_cap=data.daily_cap,
        created_at=now,
    )
    session.add(phone_number)
    session.flush()
    # A batch waiting because none of its caller ids was the workspace's may dial from this one now.
    batches.wake(session, workspace_id=workspace_id)
    return phone_number


def get(session: Session, workspace_id: str, number_id: str) -> PhoneNumber:
    return get_owned(session, PhoneNumber, workspace_id, number_id, "Phone number")


def update(session: Session, workspace_id: str, number_id: str, data: PhoneNumberUpdate) -> PhoneNumber:
    phone_number = get(session, workspace_id, number_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("agent_id") is not None:
        agents.get(session, workspace_id, changes["agent_id"])
    if "label" in changes and changes["label"] is None:
        changes["label"] = ""  # null clears the label; the column holds text
    for name, value in changes.items():
        setattr(phone_number, name, value)
    if "daily_cap" in changes:
        # Batches waiting for this caller id's day to turn over may dial again now.
        batches.wake(session, workspace_id=workspace_id)
    session.flush()
    return phone_number


def delete(session: Session, workspace_id: str, number_id: str) -> None:
    session.delete(get(session, workspace_id, number_id))
    session.flush()


def resolve_caller_ids(
    session: Session,
    workspace_id: str,
    from_numbers: list[str],
    phone_number_ids: list[str],
    agent_id: str | None,
) -> list[str]:
    """The batch's caller-id pool: given numbers, numbers by id, else the agent's assigned numbers; every
    one of them a phone number of the workspace."""
    pool: list[str] = []
    for raw in from_numbers:
        try:
            pool.append(to_e164(raw))
        except PhoneError as exc:
            raise Invalid(f"from_numbers: {exc}") from None
    owned(session, workspace_id, pool)
    if phone_number_ids:
        found = {n.id: n.number for n in repository.find_by_ids(session, workspace_id, phone_number_ids)}
        missing = [i for i in phone_number_ids if i not in found]
        if missing:
            raise Invalid(f"phone_number_ids: unknown phone number id(s): {', '.join(missing)}")
        pool.extend(found[i] for i in phone_number_ids)
    if not pool and agent_id is not None:
        pool.extend(default_caller_ids(session, workspace_id, agent_id))
    return list(dict.fromkeys(pool))


def default_caller_ids(session: Session, workspace_id: str, agent_id: str | None) -> list[str]:
    """The caller ids of a batch that names none: its agent's numbers, or with no agent the workspace's
    numbers assigned to no agent (an agent's numbers are its own)."""
    return [n.number for n in repository.find_by_agent(session, workspace_id, agent_id)]


def list_numbers(
    session: Session, workspace_id: str, limit: int, offset: int
) -> tuple[list[PhoneNumber], int]:
    return repository.list_numbers(session, workspace_id, limit, offset)


def registered(session: Session, workspace_id: str, numbers: list[str]) -> dict[str, PhoneNumber]:
    """The workspace's phone numbers among ``numbers`` (E.164), by number."""
    return {n.number: n for n in repository.find_by_numbers(session, workspace_id, numbers)}


def owned(session: Session, workspace_id: str, numbers: list[str]) -> list[PhoneNumber]:
    """The workspace's phone numbers for ``numbers`` (E.164), in their order. A number that is not one of
    the workspace's own is refused (422, naming it): a workspace never calls from another's caller id."""
    wanted = list(dict.fromkeys(numbers))
    if not wanted:
        return []
    found = registered(session, workspace_id, wanted)
    foreign = [number for number in wanted if number not in found]
    if foreign:
        raise Invalid(
            f"Not a phone number of this workspace: {', '.join(foreign)}; "
            "a caller id must first be registered with POST /v1/phone-numbers",
            unowned_numbers=foreign,
        )
    return [found[number] for number in wanted]


@dataclass(frozen=True, slots=True)
class Usage:
    """Dials made from a number today, by its own local day, and how many its daily cap still allows
    (None: it has no cap)."""

    dials_today: int
    remaining_today: int | None


def usage_today(
    session: Session, workspace_id: str, phone_numbers: Sequence[PhoneNumber], now: datetime
) -> dict[str, Usage]:
    """Each number's usage today, by its id. A capped number's dials are the count the dispatcher holds
    its cap to; an uncapped number has no such count (the dispatcher counts only capped caller ids), so
    its dials are its attempts since its local midnight."""
    capped = [n for n in phone_numbers if n.daily_cap is not None]
    keys = {n.id: caps.caller_counter(workspace_id, n.number, now) for n in capped}
    counted = repository.dial_counts(session, list(keys.values()))
    since = {
        n.number: local_midnight(caps.caller_zone(n.number), now)
        for n in phone_numbers
        if n.daily_cap is None
    }
    attempts = repository.attempts_from_since(session, workspace_id, since)
    usage: dict[str, Usage] = {}
    for n in phone_numbers:
        if n.daily_cap is None:
            usage[n.id] = Usage(attempts[n.number], None)
        else:
            dials = counted[keys[n.id]]
            usage[n.id] = Usage(dials, max(0, n.daily_cap - dials))
    return usage
