from alembic import context

from batchcall.db import make_engine
from batchcall.kit.sqltypes import is_postgresql
from batchcall.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it: Alembic's batch mode.
        render_as_batch=not is_postgresql(connection),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
