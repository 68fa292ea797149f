"""Alembic environment: our SQLModel metadata, URL from DNP configuration."""

from alembic import context
from sqlmodel import SQLModel

import dnp.tables  # noqa: F401  (registers every table on the metadata)
from dnp.config import from_environment
from dnp.db import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or from_environment()["DATABASE_URL"]
target_metadata = SQLModel.metadata


def run_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run against the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch mode rebuilds a table (copy, drop the old one, rename): with foreign keys on, dropping
                # the old table would cascade-delete the rows that reference it. SQLite switches this only
                # outside a transaction, so before the migrations begin; the check below stands in for it.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"Migrations left {len(broken)} rows with a broken foreign key.")
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    finally:
        engine.dispose()  # also when a migration fails: no connection is left to the garbage collector


if context.is_offline_mode():
    run_offline()
else:
    run_online()
