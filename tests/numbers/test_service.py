"""The numbers service's rules as every entry point (native API, dialects) gets them: which of a list of
caller ids are the workspace's own, and a batch's caller-id pool from numbers, number ids or its agent."""

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from batchcall import db
from batchcall.agents import service as agents
from batchcall.agents.schemas import AgentCreate
from batchcall.kit.errors import Invalid
from batchcall.numbers import service as numbers
from batchcall.numbers.schemas import PhoneNumberCreate
from batchcall.runtime import Runtime
from tests.support import Tenant

NEW_YORK, SAN_FRANCISCO, LONDON = "+12125550100", "+14155550100", "+442079460958"


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with db.unit_of_work(runtime.sessions) as session:
        yield session


def _register(
    session: Session, runtime: Runtime, tenant: Tenant, number: str, agent_id: str | None = None
) -> str:
    created = numbers.create(
        session, tenant.workspace_id, PhoneNumberCreate(number=number, agent_id=agent_id), runtime.clock.now()
    )
    return created.id


def test_owned_answers_the_workspaces_numbers_in_the_order_asked_once_each(
    session: Session, runtime: Runtime, tenant: Tenant
) -> None:
    _register(session, runtime, tenant, NEW_YORK)
    _register(session, runtime, tenant, LONDON)
    found = numbers.owned(session, tenant.workspace_id, [LONDON, NEW_YORK, LONDON])
    assert [n.number for n in found] == [LONDON, NEW_YORK]
    assert numbers.owned(session, tenant.workspace_id, []) == []


def test_owned_refuses_another_workspaces_number_naming_each_once(
    session: Session, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    _register(session, runtime, tenant, NEW_YORK)
    _register(session, runtime, other_tenant, SAN_FRANCISCO)
    with pytest.raises(Invalid) as refused:
        numbers.owned(session, tenant.workspace_id, [NEW_YORK, SAN_FRANCISCO, LONDON, SAN_FRANCISCO])
    assert refused.value.message.startswith(
        f"Not a phone number of this workspace: {SAN_FRANCISCO}, {LONDON}; "
    )
    assert refused.value.details == {"unowned_numbers": [SAN_FRANCISCO, LONDON]}


def test_registered_answers_only_the_workspaces_own_numbers_by_number_and_refuses_nothing(
    session: Session, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    _register(session, runtime, tenant, NEW_YORK)
    _register(session, runtime, other_tenant, SAN_FRANCISCO)
    found = numbers.registered(session, tenant.workspace_id, [NEW_YORK, SAN_FRANCISCO, LONDON])
    assert {number: phone.workspace_id for number, phone in found.items()} == {NEW_YORK: tenant.workspace_id}


def test_a_pool_is_the_numbers_given_then_the_numbers_by_id_each_once(
    session: Session, runtime: Runtime, tenant: Tenant
) -> None:
    new_york = _register(session, runtime, tenant, NEW_YORK)
    _register(session, runtime, tenant, SAN_FRANCISCO)
    london = _register(session, runtime, tenant, LONDON)
    pool = numbers.resolve_caller_ids(
        session, tenant.workspace_id, ["(415) 555-0100", NEW_YORK], [london, new_york], agent_id=None
    )
    assert pool == [SAN_FRANCISCO, NEW_YORK, LONDON]


def test_a_pool_refuses_an_unknown_number_id_or_a_number_that_cannot_be_dialled(
    session: Session, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = _register(session, runtime, other_tenant, SAN_FRANCISCO)
    with pytest.raises(Invalid) as unknown:
        numbers.resolve_caller_ids(session, tenant.workspace_id, [], [theirs], agent_id=None)
    assert unknown.value.message == f"phone_number_ids: unknown phone number id(s): {theirs}"
    with pytest.raises(Invalid) as undiallable:
        numbers.resolve_caller_ids(session, tenant.workspace_id, ["123"], [], agent_id=None)
    assert undiallable.value.message.startswith("from_numbers: '123' ")


def test_without_numbers_a_pool_is_the_agents_assigned_numbers(
    session: Session, runtime: Runtime, tenant: Tenant
) -> None:
    agent = agents.create(session, tenant.workspace_id, AgentCreate(name="Closer"), runtime.clock.now())
    _register(session, runtime, tenant, NEW_YORK, agent_id=agent.id)
    _register(session, runtime, tenant, SAN_FRANCISCO)
    assert numbers.resolve_caller_ids(session, tenant.workspace_id, [], [], agent.id) == [NEW_YORK]
    assert numbers.resolve_caller_ids(session, tenant.workspace_id, [SAN_FRANCISCO], [], agent.id) == [
        SAN_FRANCISCO
    ]
    assert numbers.resolve_caller_ids(session, tenant.workspace_id, [], [], agent_id=None) == []
