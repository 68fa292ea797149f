"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel


def test_migrations_match_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    import pytest

    from dnp import create_app

    monkeypatch.delenv("DNP_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="DNP_SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": None})
