"""The ``dnp`` commands for getting the data to Skolverket: webhook deliveries, the transfer method, push."""

from __future__ import annotations

import getpass
import json
import os

import click
from flask.cli import AppGroup
from flask.cli import with_appcontext

from dnp.common.wording import counted
from dnp.db import get_session


def command_actor(kind: str) -> str:
    """Who ran a command, for the audit log (the OS user and the command)."""
    return f"cli:{kind}:{os.environ.get('USER') or getpass.getuser()}"


@click.group("deliveries", cls=AppGroup)
def deliveries_cli():
    """Webhook deliveries to Skolverket (on-call)."""


@deliveries_cli.command("status")
def deliveries_status():
    """Backlog counts and the deliveries that are failing or dead."""
    from dnp.delivery import ops

    session = get_session()
    backlog = ops.backlog(session=session)
    click.echo(json.dumps(vars(backlog), default=lambda value: value.isoformat()))  # counts stay numbers
    for row in ops.troubled(session=session):
        d = row.delivery
        fields = (
            d.id,
            d.status,
            d.attempts,
            row.target_host,
            f"{d.next_attempt_at:%Y-%m-%d %H:%M:%S}",
            d.last_error,
        )
        click.echo("\t".join(str(field) for field in fields))


@deliveries_cli.command("requeue")
@click.argument("delivery_id", required=False, type=int)
@click.option("--all", "everything", is_flag=True, help="Every dead delivery.")
def deliveries_requeue(delivery_id: int | None, everything: bool):
    """Send a dead delivery (or --all) again, with a fresh three days of attempts."""
    from dnp.delivery import ops
    from dnp.types import utcnow

    if delivery_id is None and not everything:
        raise click.UsageError("Ange ett leverans-id eller --all.")
    session = get_session()
    count = ops.requeue_dead(
        command_actor("deliveries"), None if everything else delivery_id, utcnow(), session=session
    )
    session.commit()
    click.echo(f"{counted(count, 'leverans', 'leveranser')} skickas igen.")


@click.command("transfer-method")
@with_appcontext
@click.argument("method", type=click.Choice(["push", "pull"]))
def transfer_method_command(method: str):
    """Choose how Skolverket gets the data (audited; asks nothing, for scripted installs)."""
    from dnp.delivery.push.method import METHOD_NAMES
    from dnp.delivery.push.method import set_transfer_method

    session = get_session()
    changed = set_transfer_method(command_actor("transfer-method"), method, session=session)
    session.commit()
    name = METHOD_NAMES[method]
    click.echo(f"Överföringsmetod: {name}." if changed else f"Överföringsmetoden var redan: {name}.")


@click.group("push", cls=AppGroup)
def push_cli():
    """Push to Skolverket's Provisioning API (on-call)."""


@push_cli.command("status")
def push_status():
    """What waits, what is in flight, what Skolverket refused, what failed; the latest failed calls."""
    from dnp.delivery.push import ops
    from dnp.delivery.push.method import transfer_method

    session = get_session()
    result = ops.status(session=session)
    counts = {key: getattr(result, key) for key in ("waiting", "in_flight", "refused", "failed")}
    click.echo(json.dumps({"method": transfer_method(session=session), **counts}, sort_keys=True))
    for batch in result.last_failures:
        fields = (batch.id, batch.resource, batch.action, batch.status, batch.attempts, batch.last_error)
        click.echo("\t".join(str(field) for field in fields))


@push_cli.command("resend")
@click.option("--failed", "failed", is_flag=True, help="Every object Skolverket refused or that failed.")
@click.option("--all", "everything", is_flag=True, help="Everything that is ready (a full sync).")
def push_resend(failed: bool, everything: bool):
    """Send objects to Skolverket again (audited); the next sweep sends them, in order."""
    from dnp.delivery.push import ops

    if failed == everything:
        raise click.UsageError("Ange --failed eller --all.")
    session = get_session()
    count = ops.resend(command_actor("push"), failed=failed, everything=everything, session=session)
    session.commit()
    click.echo(f"{counted(count, 'objekt', 'objekt')} skickas igen.")
