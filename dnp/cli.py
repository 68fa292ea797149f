"""Command-line tools: ``dnp …`` (the venv's entry point), the same as ``flask --app app dnp …``."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup

from dnp.db import get_engine
from dnp.db import get_session
from dnp.db import refresh_statistics
from dnp.services.demo_data import load_demo
from dnp.services.demo_data import register_is_empty
from dnp.services.demo_data import write_demo_file
from dnp.services.file_import import import_stream
from dnp.services.ingest import IngestRejected
from dnp.wording import counted

dnp_cli = AppGroup("dnp", help="DNP administration commands.")


class LineProgress:
    """Progress as a line now and then, for output that is not a terminal (logs, CI, ``| tee``).

    click's bar draws only on a terminal, so a long import would otherwise print nothing until it ends.
    """

    def __init__(self, length: int, label: str, every: float = 10.0, clock=time.monotonic):
        self.length, self.label, self.pos = length, label, 0
        self.every, self.clock = every, clock
        self.last_shown = clock()

    def __enter__(self) -> LineProgress:
        click.echo(f"{self.label} …")
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            click.echo(f"{self.label}: klart.")

    def update(self, steps: int) -> None:
        """Advance by ``steps``; print where it is when ``every`` seconds have passed since the last line."""
        self.pos += steps
        if self.clock() - self.last_shown >= self.every:
            self.last_shown = self.clock()
            click.echo(f"{self.label}: {100 * self.pos // max(self.length, 1)} %")


def progress_bar(length: int, label: str):
    """click's progress bar on a terminal, periodic progress lines otherwise."""
    if sys.stdout.isatty():
        return click.progressbar(length=length, label=label)
    return LineProgress(length, label)


def _actor(kind: str) -> str:
    return f"cli:{kind}:{os.environ.get('USER') or getpass.getuser()}"


@dnp_cli.command("migrate")
def migrate_command():
    """Bring the database schema up to date (Alembic upgrade head)."""
    from dnp.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"])
    click.echo("Databasen är uppdaterad.")


@dnp_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(path: str):
    """Import a register file holding organisations, persons, duties and groups (ingest shapes)."""
    session = get_session()
    size = os.path.getsize(path)
    with open(path, "rb") as stream, progress_bar(size * 4, "Importerar") as bar:
        done = {"position": 0}
        order = ("organisations", "persons", "duties", "groups")

        def progress(kind: str, position: int) -> None:
            target = order.index(kind) * size + position
            bar.update(max(0, target - done["position"]))
            done["position"] = max(done["position"], target)

        try:
            summary = import_stream(session, stream, _actor("import"), progress)
        except IngestRejected as error:
            session.rollback()
            click.echo(f"\nInget importerades: {error.total} problem.", err=True)
            for problem in error.problems:
                where = f"{problem.kind}[{problem.index}]" if problem.index is not None else problem.kind
                click.echo(f"  {where} {problem.id or ''} {problem.field}: {problem.message}", err=True)
            sys.exit(1)
        bar.update(size * 4 - done["position"])
    session.commit()
    refresh_statistics(get_engine())
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))


@dnp_cli.command("demo-data")
@click.option("--seed", default=1, show_default=True, help="Same seed, same municipality.")
@click.option("--scale", type=click.Choice(["small", "large"]), default="small", show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing if the register already has data.")
@click.option("--write-file", type=click.Path(dir_okay=False), help="Write an import file instead.")
def demo_data_command(seed: int, scale: str, if_empty: bool, write_file: str | None):
    """Create a fictitious municipality (one huvudman, school units, pupils, staff, groups)."""
    if write_file:
        with open(write_file, "w", encoding="utf-8") as stream:
            count = write_demo_file(stream, seed, scale)
        click.echo(f"Skrev {counted(count, 'person', 'personer')} till {write_file}.")
        return
    session = get_session()
    if if_empty and not register_is_empty(session):
        click.echo("Registret har redan data; demodata lades inte in.")
        return
    with progress_bar(1, "Skapar demodata") as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        summary = load_demo(session, seed, scale, _actor("demo-data"), progress)
    session.commit()
    refresh_statistics(get_engine())
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))


ROLE_ARGUMENTS = {"central-admin": "central_admin", "unit-admin": "unit_admin", "operator": "operator"}


@dnp_cli.command("grant")
@click.argument("role", type=click.Choice(sorted(ROLE_ARGUMENTS)))
@click.argument("eppn")
@click.option(
    "--unit", "unit_codes", multiple=True, help="School unit code (skolenhetskod); repeat for several."
)
def grant_command(role: str, eppn: str, unit_codes: tuple[str, ...]):
    """Grant a role to an EPPN (bootstrap the first central administrator with this)."""
    from sqlmodel import select

    from dnp.models import Organisation
    from dnp.services.access import AccessError
    from dnp.services.access import grant_role

    session = get_session()
    unit_ids = []
    for code in unit_codes:
        unit = session.exec(select(Organisation).where(Organisation.school_unit_code == code)).first()
        if unit is None:
            raise click.ClickException(f"Ingen skolenhet med koden {code}.")
        unit_ids.append(unit.id)
    try:
        added = grant_role(session, _actor("grant"), eppn, ROLE_ARGUMENTS[role], unit_ids)
    except AccessError as error:
        raise click.ClickException(str(error)) from error
    session.commit()
    if added:
        click.echo(f"{counted(added, 'ny behörighet', 'nya behörigheter')} för {eppn}.")
    else:
        click.echo(f"{eppn} hade redan behörigheten.")


@dnp_cli.command("publish")
@click.option("--rebuild", is_flag=True, required=True, help="Recompute every published document.")
def publish_command(rebuild: bool):
    """Recompute the SS 12000 publication from the register; unchanged documents stay untouched."""
    from dnp.services.publication_listeners import rebuild as rebuild_publication

    session = get_session()
    counts = rebuild_publication(session)
    session.commit()
    refresh_statistics(get_engine())
    click.echo(json.dumps(counts or {"unchanged": True}, ensure_ascii=False, sort_keys=True))


@dnp_cli.command("sweeper")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between sweeps.")
@click.option("--once", is_flag=True, help="Sweep once and exit.")
def sweeper_command(interval: float, once: bool):
    """Gather publication changes into webhook deliveries and enqueue what is due (the clock process)."""
    from dnp.jobs.sweeper import run_forever
    from dnp.jobs.sweeper import sweep_once

    if once:
        click.echo(json.dumps(sweep_once()))
        return
    click.echo(f"Sveparen går var {interval:g} s. Avsluta med Ctrl-C.")
    run_forever(interval)


@dnp_cli.group("deliveries")
def deliveries_cli():
    """Webhook deliveries to Skolverket (on-call)."""


@deliveries_cli.command("status")
def deliveries_status():
    """Backlog counts and the deliveries that are failing or dead."""
    from dnp.services import delivery_ops

    session = get_session()
    backlog = delivery_ops.backlog(session)
    click.echo(json.dumps(vars(backlog), default=lambda value: value.isoformat()))  # counts stay numbers
    for row in delivery_ops.troubled(session):
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
    from dnp.models.types import utcnow
    from dnp.services import audit
    from dnp.services import deliveries

    if delivery_id is None and not everything:
        raise click.UsageError("Ange ett leverans-id eller --all.")
    session = get_session()
    count = deliveries.requeue_dead(session, utcnow(), None if everything else delivery_id)
    audit.record(
        session,
        _actor("deliveries"),
        "ops.deliveries_requeued",
        "Delivery",
        str(delivery_id or "*"),
        after={"count": count},
    )
    session.commit()
    click.echo(f"{counted(count, 'leverans', 'leveranser')} skickas igen.")


@dnp_cli.command("transfer-method")
@click.argument("method", type=click.Choice(["push", "pull"]))
def transfer_method_command(method: str):
    """Choose how Skolverket gets the data (audited; asks nothing, for scripted installs)."""
    from dnp.delivery.push.method import METHOD_NAMES
    from dnp.delivery.push.method import set_transfer_method

    session = get_session()
    changed = set_transfer_method(session, _actor("transfer-method"), method)
    session.commit()
    name = METHOD_NAMES[method]
    click.echo(f"Överföringsmetod: {name}." if changed else f"Överföringsmetoden var redan: {name}.")


@dnp_cli.group("push")
def push_cli():
    """Push to Skolverket's Provisioning API (on-call)."""


@push_cli.command("status")
def push_status():
    """What waits, what is in flight, what Skolverket refused, what failed; the latest failed calls."""
    from dnp.delivery.push import ops
    from dnp.delivery.push.method import transfer_method

    session = get_session()
    result = ops.status(session)
    counts = {key: getattr(result, key) for key in ("waiting", "in_flight", "refused", "failed")}
    click.echo(json.dumps({"method": transfer_method(session), **counts}, sort_keys=True))
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
    count = ops.resend(session, _actor("push"), failed=failed, everything=everything)
    session.commit()
    click.echo(f"{counted(count, 'objekt', 'objekt')} skickas igen.")


@dnp_cli.group("catalog")
def catalog_cli():
    """The provaktivitet catalog from Skolverket's open-data API."""


@catalog_cli.command("refresh")
def catalog_refresh():
    """Fetch the catalog now (falls back to the bundled demo catalog when the API cannot be reached)."""
    from dnp.services.catalog import refresh_catalog

    session = get_session()
    count, source, problem = refresh_catalog(session, current_app.config["OPEN_DATA_URL"])
    session.commit()
    if problem:
        click.echo(f"Skolverkets API kunde inte användas ({problem}); demokatalogen används.", err=True)
    origin = "Skolverket" if source == "skolverket" else "demokatalog"
    click.echo(f"{counted(count, 'provaktivitet', 'provaktiviteter')} ({origin}).")


def _app_for_command_line():
    """The app for ``dnp …``, with a hint instead of a traceback when its settings are missing."""
    from dnp import create_app

    try:
        return create_app()
    except RuntimeError as error:
        raise click.ClickException(
            f"{error}. Lokalt (som efter make run): export DNP_ENV=development; "
            "i drift: sätt DNP_SECRET_KEY, DNP_DATABASE_URL och DNP_SAML_*."
        ) from error


def main() -> None:
    """``dnp``: the administration commands without Flask's wrapper; the app is built only to run one."""
    from flask.cli import ScriptInfo

    group = click.Group("dnp", commands=dnp_cli.commands, help=dnp_cli.help)
    group.main(prog_name="dnp", obj=ScriptInfo(create_app=_app_for_command_line, set_debug_flag=False))
