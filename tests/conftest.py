"""One suite, run on SQLite and on PostgreSQL: every test gets a clean database of each kind."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from batchcall import db
from batchcall.app import create_app
from batchcall.config import Settings
from batchcall.dispatcher.loop import Dispatcher
from batchcall.kit.clock import ManualClock
from batchcall.kit.sealing import new_key
from batchcall.models import Base
from batchcall.providers.simulated.config import SimulatedSettings
from batchcall.runtime import Runtime
from batchcall.testing import scratch_database
from tests.support import Tenant, make_tenant

# A Monday, noon in New York and 09:00 in Los Angeles: inside any ordinary calling window, and inside the
# recipient's hours (08:00-21:00 local) of the US, Canadian, European and Saudi numbers the tests call.
START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
UNLIMITED = "1000000/second"
# The suite's key for sealing stored secrets (provider credentials).
SECRET_KEY = new_key()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A throw-away database per run, migrated from empty."""
    with scratch_database(request.param, "batchcall_test") as url:
        db.migrate(url)
        yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        run_dispatcher=False,
        simulated=SimulatedSettings(ledger=str(tmp_path / "ledger.jsonl"), speed=1000.0),
        # The suite's servers and receivers are on loopback, and it sends requests faster than any limit
        # a real installation would keep; the tests of those rules set their own.
        allow_private_targets=True,
        rate_limit_per_key=UNLIMITED,
        rate_limit_per_client=UNLIMITED,
        auth_failure_limit=UNLIMITED,
        secret_keys=SECRET_KEY,
    )


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(settings, clock)
    _empty(runtime)
    yield runtime
    runtime.engine.dispose()


def _empty(runtime: Runtime) -> None:
    # DELETE, children first: on tables this small it is several times faster than TRUNCATE on PostgreSQL.
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with runtime.engine.begin() as connection:
        for table in tables:
            connection.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture
def dispatcher(runtime: Runtime) -> Dispatcher:
    """A dispatcher the test drives tick by tick on the manual clock (helpers in tests/dialling.py)."""
    return Dispatcher(runtime, worker_id="worker-1")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


@pytest.fixture
def tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime, "Acme")


@pytest.fixture
def other_tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime, "Globex")
