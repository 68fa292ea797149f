"""Command-line tools: ``dnp …`` (the venv's entry point), the same as ``flask --app app dnp …``."""

from __future__ import annotations

import json
import os
import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import select

from dnp.auth.models import Role
from dnp.auth.roles import AccessError
from dnp.auth.roles import grant_role
from dnp.cli_transfer import command_actor
from dnp.cli_transfer import deliveries_cli
from dnp.cli_transfer import push_cli
from dnp.cli_transfer import transfer_method_command
from dnp.common.wording import counted
from dnp.db import get_engine
from dnp.db import get_session
from dnp.db import refresh_statistics
from dnp.demo.register import load_demo
from dnp.demo.register import register_is_empty
from dnp.demo.register import write_demo_file
from dnp.groups.catalog import refresh_catalog
from dnp.groups.checks import check_unchecked_groups
from dnp.jobs.sweeper import run_forever
from dnp.jobs.sweeper import sweep_once
from dnp.migrate import upgrade
from dnp.publication.changes import rebuild as rebuild_publication
from dnp.register.file_import import import_stream
from dnp.register.models import Organisation
from dnp.register.results import IngestRejected

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


@dnp_cli.command("migrate")
def migrate_command():
    """Bring the database schema up to date (Alembic upgrade head)."""
    upgrade(current_app.config["DATABASE_URL"])
    session = get_session()
    checked = check_unchecked_groups(session=session)  # groups from before their summaries were stored
    session.commit()
    if checked:
        click.echo(f"{counted(checked, 'provgrupp', 'provgrupper')} kontrollerade.")
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
            summary = import_stream(stream, command_actor("import"), progress, session=session)
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
    if if_empty and not register_is_empty(session=session):
        click.echo("Registret har redan data; demodata lades inte in.")
        return
    with progress_bar(1, "Skapar demodata") as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        summary = load_demo(seed, scale, command_actor("demo-data"), progress, session=session)
    session.commit()
    refresh_statistics(get_engine())
    click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))


ROLE_ARGUMENTS = {role.replace("_", "-"): role for role in Role}


@dnp_cli.command("grant")
@click.argument("role", type=click.Choice(sorted(ROLE_ARGUMENTS)))
@click.argument("eppn")
@click.option(
    "--unit", "unit_codes", multiple=True, help="School unit code (skolenhetskod); repeat for several."
)
def grant_command(role: str, eppn: str, unit_codes: tuple[str, ...]):
    """Grant a role to an EPPN (bootstrap the first central administrator with this)."""
    session = get_session()
    unit_ids = []
    for code in unit_codes:
        unit = session.exec(select(Organisation).where(Organisation.school_unit_code == code)).first()
        if unit is None:
            raise click.ClickException(f"Ingen skolenhet med koden {code}.")
        unit_ids.append(unit.id)
    try:
        added = grant_role(command_actor("grant"), eppn, ROLE_ARGUMENTS[role], unit_ids, session=session)
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
    session = get_session()
    counts = rebuild_publication(session=session)
    session.commit()
    refresh_statistics(get_engine())
    click.echo(json.dumps(counts or {"unchanged": True}, ensure_ascii=False, sort_keys=True))


@dnp_cli.command("sweeper")
@click.option("--interval", default=0.5, show_default=True, help="Seconds between sweeps.")
@click.option("--once", is_flag=True, help="Sweep once and exit.")
def sweeper_command(interval: float, once: bool):
    """Gather publication changes into webhook deliveries and enqueue what is due (the clock process)."""
    if once:
        click.echo(json.dumps(sweep_once()))
        return
    click.echo(f"Sveparen går var {interval:g} s. Avsluta med Ctrl-C.")
    run_forever(interval)


@dnp_cli.group("catalog")
def catalog_cli():
    """The provaktivitet catalog from Skolverket's open-data API."""


@catalog_cli.command("refresh")
def catalog_refresh():
    """Fetch the catalog now (falls back to the bundled demo catalog when the API cannot be reached)."""
    session = get_session()
    count, source, problem = refresh_catalog(current_app.config["OPEN_DATA_URL"], session=session)
    session.commit()
    if problem:
        click.echo(f"Skolverkets API kunde inte användas ({problem}); demokatalogen används.", err=True)
    origin = "Skolverket" if source == "skolverket" else "demokatalog"
    click.echo(f"{counted(count, 'provaktivitet', 'provaktiviteter')} ({origin}).")


dnp_cli.add_command(deliveries_cli)
dnp_cli.add_command(transfer_method_command)
dnp_cli.add_command(push_cli)
