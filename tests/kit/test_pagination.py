"""One page of a query, in the caller's order, with the total of the whole query."""

from sqlalchemy import select

from batchcall.kit.pagination import paginate
from batchcall.models import Workspace
from batchcall.runtime import Runtime
from tests.conftest import START


def test_a_page_keeps_the_callers_order_and_counts_the_whole_query(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        session.add_all(
            Workspace(id=f"w-{n}", name=f"W{n}", slug=f"w{n}", created_at=START) for n in range(5)
        )
        session.flush()
        newest_first = select(Workspace.id).order_by(Workspace.id.desc())
        assert paginate(session, newest_first, 2, 1) == (["w-3", "w-2"], 5)
        assert paginate(session, newest_first.where(Workspace.id != "w-0"), 10, 0) == (
            ["w-4", "w-3", "w-2", "w-1"],
            4,
        )
        assert paginate(session, newest_first, 2, 5) == ([], 5)
        session.rollback()
