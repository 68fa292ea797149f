"""The ``dnp`` command of the venv, and what the commands print."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dnp.cli import LineProgress
from dnp.common.wording import counted
from tests import factories
from tests.helpers import send

DNP = shutil.which("dnp", path=str(Path(sys.executable).parent))


def run_dnp(*args: str, **environ: str) -> subprocess.CompletedProcess:
    """``dnp ARGS`` as a user types it, with only ``environ`` of the DNP_* variables set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DNP_")}
    return subprocess.run([DNP, *args], env={**env, **environ}, capture_output=True, text=True, timeout=120)


def test_the_venv_has_a_dnp_command_whose_help_needs_no_settings():
    assert DNP, "pip install -e . puts dnp into the venv's bin ([project.scripts])"
    result = run_dnp("--help")  # production is the default, and it has no DNP_SECRET_KEY here
    assert result.returncode == 0, result.stderr
    assert "grant" in result.stdout and "deliveries" in result.stdout


def test_a_command_without_production_settings_says_what_to_set_not_a_traceback():
    result = run_dnp("deliveries", "status")
    assert result.returncode == 1
    assert "DNP_SECRET_KEY" in result.stderr and "DNP_ENV=development" in result.stderr
    assert "Traceback" not in result.stderr


def test_counts_agree_with_their_number():
    assert counted(1, "ny behörighet", "nya behörigheter") == "1 ny behörighet"
    assert counted(2, "ny behörighet", "nya behörigheter") == "2 nya behörigheter"
    assert counted(0, "leverans", "leveranser") == "0 leveranser"


def test_granting_a_unit_admin_two_units_says_two_new_grants(runner, client):
    units = [factories.organisation(), factories.organisation()]
    send(client, "PUT", "organisations", units)
    codes = [arg for unit in units for arg in ("--unit", unit["schoolUnitCode"])]
    result = runner.invoke(args=["dnp", "grant", "unit-admin", "rektor@kommun.se", *codes])
    assert result.exit_code == 0, result.output
    assert "2 nya behörigheter för rektor@kommun.se." in result.output


def test_progress_off_a_terminal_is_a_line_now_and_then(capsys):
    now = [0.0]
    with LineProgress(400, "Importerar", every=10, clock=lambda: now[0]) as progress:
        progress.update(100)  # too soon for a line
        now[0] = 10.5
        progress.update(100)
        now[0] = 15
        progress.update(100)
    assert capsys.readouterr().out.splitlines() == ["Importerar …", "Importerar: 50 %", "Importerar: klart."]


def test_the_import_command_prints_progress_lines_when_output_is_not_a_terminal(runner, tmp_path):
    path = tmp_path / "register.json"
    path.write_text(json.dumps({"organisations": [factories.organisation()]}))
    result = runner.invoke(args=["dnp", "import", str(path)])  # the runner's output is no terminal
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Importerar …\n") and "Importerar: klart.\n" in result.output


def test_port_moves_the_ss12000_location_of_make_run_and_of_the_fake_nutid():
    from tests.fakes.serve_nutid import default_location

    assert default_location({"PORT": "8000"}) == "http://127.0.0.1:8000/ss12000"
    assert default_location({}) == "http://127.0.0.1:5000/ss12000"
    assert default_location({"PORT": "8000", "DNP_SS12000_LOCATION": "https://x/ss"}) == "https://x/ss"
    root = Path(__file__).resolve().parents[1]
    plan = subprocess.run(
        ["make", "-n", "-o", ".venv/bin/.installed", "run", "PORT=8000"],
        cwd=root,
        env={key: value for key, value in os.environ.items() if not key.startswith("DNP_")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "PORT=8000 DNP_SS12000_LOCATION=http://127.0.0.1:8000/ss12000" in plan
