"""The ``dnp`` command: the administration commands of ``cli`` without Flask's wrapper.

Kept apart from ``cli`` because it builds the app, and the app factory registers ``cli``.
"""

from __future__ import annotations

import click
from flask.cli import ScriptInfo

from dnp import create_app
from dnp.cli import dnp_cli


def _app_for_command_line():
    """The app for ``dnp …``, with a hint instead of a traceback when its settings are missing."""
    try:
        return create_app()
    except RuntimeError as error:
        raise click.ClickException(
            f"{error}. Lokalt (som efter make run): export DNP_ENV=development; "
            "i drift: sätt DNP_SECRET_KEY, DNP_DATABASE_URL och DNP_SAML_*."
        ) from error


def main() -> None:
    """``dnp``: the administration commands without Flask's wrapper; the app is built only to run one."""
    group = click.Group("dnp", commands=dnp_cli.commands, help=dnp_cli.help)
    group.main(prog_name="dnp", obj=ScriptInfo(create_app=_app_for_command_line, set_debug_flag=False))
