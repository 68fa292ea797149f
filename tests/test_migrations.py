"""The Alembic migrations build exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel


# SQLite cannot reflect an index on an expression (lower(eppn)): PostgreSQL compares it, on SQLite
# the test looks for it by name.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_match_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
        if engine.dialect.name == "sqlite":
            indexes = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
            assert "ix_person_eppn_lower" in indexes.scalars().all()
    engine.dispose()
    assert differences == []


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    from dnp import create_app

    monkeypatch.delenv("DNP_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="DNP_SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": None})
