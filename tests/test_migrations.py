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


def _check_names(connection, table: str) -> set[str]:
    from sqlalchemy import inspect

    return {check["name"] for check in inspect(connection).get_check_constraints(table)}


def test_the_value_checks_of_the_models_are_in_the_database(database_url):
    """Alembic does not compare CHECK constraints: the models' and the migrated database's are compared."""
    from sqlalchemy import CheckConstraint

    engine = create_engine(database_url)
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            declared = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
            assert _check_names(connection, table.name) == declared, table.name
    engine.dispose()
    assert "ck_test_group_status" in {c.name for c in SQLModel.metadata.tables["test_group"].constraints}


def _seed_0009p(url: str) -> None:
    """A unit with an administrator, a ready group with a pupil, an outbox row: rows that refer to others."""
    from sqlmodel import Session

    from dnp.auth.models import RoleGrant
    from dnp.groups.models import TestActivity
    from dnp.groups.models import TestGroup
    from dnp.groups.models import TestGroupMember
    from dnp.groups.models import TestOccasion
    from dnp.publication.models import Outbox
    from dnp.register.models import Organisation
    from dnp.register.models import Person

    engine = create_engine(url)
    with Session(engine) as session:
        session.add(Organisation(id="u1", display_name="Skolan", school_unit_code="12345678"))
        session.add(Person(id="p1", given_name="Ada", family_name="Andersson", civic_no="201001012386"))
        session.add(TestActivity(id="a1", display_name="MATMAT01c", school_type="GY"))
        session.flush()
        session.add(RoleGrant(eppn="anna@skola.se", role="unit_admin", school_unit_id="u1", granted_by="x"))
        occasion = TestOccasion(activity_id="a1", term="VT 2027")
        session.add(occasion)
        session.flush()
        group = TestGroup(id="g1", occasion_id=occasion.id, school_unit_id="u1", display_name="9A")
        group.status, group.created_by = "ready", "x"
        session.add(group)
        session.flush()
        session.add(TestGroupMember(test_group_id="g1", person_id="p1", role="pupil", origin="manual"))
        session.add(Outbox(resource="Person", entity_id="p1", change="created"))
        session.commit()
    engine.dispose()


def _counts(connection) -> dict[str, int]:
    from sqlalchemy import func
    from sqlalchemy import select
    from sqlalchemy import table

    names = ("organisation", "role_grant", "test_group", "test_group_member", "outbox")
    return {name: connection.scalar(select(func.count()).select_from(table(name))) for name in names}


def test_0010c_adds_value_checks_that_keep_rows_and_come_off_again(tmp_path_factory, worker_id):
    """Upgrade keeps every row (SQLite's rebuilds cascade nothing), refuses unknown values, downgrades."""
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from dnp.migrate import alembic_config
    from dnp.migrate import upgrade
    from tests.conftest import fresh_database

    url = fresh_database(tmp_path_factory, worker_id, suffix="_value_checks", revision="0009p")
    _seed_0009p(url)
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        assert _counts(connection) == dict.fromkeys(_counts(connection), 1)
        assert "ck_test_group_status" in _check_names(connection, "test_group")
        assert "ck_test_group_member_role" in _check_names(connection, "test_group_member")
    for statement in (
        "UPDATE test_group SET status = 'published'",
        "UPDATE role_grant SET role = 'admin'",
        "UPDATE organisation SET organisation_type = 'Skola'",
        "UPDATE outbox SET change = 'moved'",
    ):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()

    command.downgrade(alembic_config(url), "0009p")
    engine = create_engine(url)
    with engine.begin() as connection:
        assert _check_names(connection, "test_group") == set()
        assert _counts(connection) == dict.fromkeys(_counts(connection), 1)
        connection.execute(text("UPDATE test_group SET status = 'published'"))
    engine.dispose()

    with pytest.raises(RuntimeError, match=r"test_group\.status: 1 rows"):
        upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        assert _check_names(connection, "test_group") == set()  # stopped before changing anything
        connection.execute(text("UPDATE test_group SET status = 'ready'"))
    engine.dispose()
    upgrade(url)


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
