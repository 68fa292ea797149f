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
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
