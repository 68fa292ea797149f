"""Bootstrapping roles from the command line."""

from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.auth.models import RoleGrant
from tests import factories
from tests.helpers import send


def test_grant_central_admin_and_unit_admin(runner, client, db):
    result = runner.invoke(args=["dnp", "grant", "central-admin", "chef@kommun.se"])
    assert result.exit_code == 0, result.output
    assert db.exec(select(RoleGrant).where(RoleGrant.eppn == "chef@kommun.se")).one().role == "central_admin"
    assert (
        db.exec(select(AuditEvent).where(AuditEvent.action == "access.granted"))
        .one()
        .actor.startswith("cli:grant:")
    )
    unit = factories.organisation()
    send(client, "PUT", "organisations", [unit])
    result = runner.invoke(
        args=["dnp", "grant", "unit-admin", "rektor@kommun.se", "--unit", unit["schoolUnitCode"]]
    )
    assert result.exit_code == 0, result.output
    grant = db.exec(select(RoleGrant).where(RoleGrant.eppn == "rektor@kommun.se")).one()
    assert grant.school_unit_id == unit["id"]
    again = runner.invoke(
        args=["dnp", "grant", "unit-admin", "rektor@kommun.se", "--unit", unit["schoolUnitCode"]]
    )
    assert "redan" in again.output


def test_grant_refuses_bad_input(runner, db):
    assert runner.invoke(args=["dnp", "grant", "king", "a@b.se"]).exit_code == 2
    result = runner.invoke(args=["dnp", "grant", "unit-admin", "a@b.se", "--unit", "99999999"])
    assert result.exit_code == 1 and "Ingen skolenhet" in result.output
    result = runner.invoke(args=["dnp", "grant", "unit-admin", "a@b.se"])
    assert result.exit_code == 1 and "minst en skolenhet" in result.output
    result = runner.invoke(args=["dnp", "grant", "operator", "not-an-eppn"])
    assert result.exit_code == 1
    assert db.exec(select(RoleGrant)).all() == []
