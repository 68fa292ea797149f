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


def test_0007b_folds_the_letter_case_of_stored_eppns(tmp_path_factory, worker_id):
    from sqlalchemy import text

    from dnp.migrate import upgrade
    from tests.conftest import fresh_database

    url = fresh_database(tmp_path_factory, worker_id, suffix="_eppn_case", revision="0006")
    engine = create_engine(url)
    with engine.begin() as connection:
        for eppn, role in [
            ("Anna@Skola.se", "operator"),
            ("anna@skola.se", "operator"),
            ("ANNA@skola.se", "central_admin"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO role_grant (eppn, role, granted_by, granted_at)"
                    " VALUES (:e, :r, 'x', CURRENT_TIMESTAMP)"
                ),
                {"e": eppn, "r": role},
            )
        for eppn in ("Anna@Skola.se", "ANNA@SKOLA.SE"):
            connection.execute(
                text(
                    "INSERT INTO user_account (eppn, display_name, first_login, last_login)"
                    " VALUES (:e, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"e": eppn},
            )
        connection.execute(
            text(
                "INSERT INTO login_session (id, eppn, method, created, last_seen)"
                " VALUES ('s1', 'Anna@Skola.se', 'saml', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    upgrade(url)
    with engine.connect() as connection:
        grants = connection.execute(text("SELECT eppn, role FROM role_grant")).all()
        accounts = connection.execute(text("SELECT eppn FROM user_account")).scalars().all()
        sessions = connection.execute(text("SELECT eppn FROM login_session")).scalars().all()
    engine.dispose()
    assert sorted(map(tuple, grants)) == [("anna@skola.se", "central_admin"), ("anna@skola.se", "operator")]
    assert accounts == ["anna@skola.se"] and sessions == ["anna@skola.se"]


def test_0011v_adds_the_group_check_table_and_takes_it_away_again(tmp_path_factory, worker_id):
    from alembic import command
    from sqlalchemy import inspect

    from dnp.migrate import alembic_config
    from dnp.migrate import upgrade
    from tests.conftest import fresh_database

    url = fresh_database(tmp_path_factory, worker_id, suffix="_group_check", revision="0011v")
    engine = create_engine(url)
    assert "test_group_check" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(url), "0011v-1")
    engine.dispose()
    assert "test_group_check" not in inspect(engine).get_table_names()
    upgrade(url)
    engine.dispose()
    columns = {c["name"] for c in inspect(engine).get_columns("test_group_check")}
    engine.dispose()
    assert columns == {"test_group_id", "pupils", "staff", "errors", "warnings", "checked_at"}
