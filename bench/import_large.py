"""Benchmark: import the ``--scale large`` register from a file, on SQLite and PostgreSQL.

Prints wall time, CPU time and peak memory (RSS) of the import process, beside the idle CLI's,
for a first import into an empty database and for a second, unchanged import (idempotent: nothing
written), with the goal beside each (issue 15: under 30 s per 100,000 persons; the unchanged
re-import well under that).
PostgreSQL: a fresh database ``dnp_bench`` on the server of DNP_TEST_POSTGRES_URL (default
127.0.0.1:5432, user postgres, trust auth). The CPU time is the import process's own; the database
server's work shows in the wall time only.

    .venv/bin/python bench/import_large.py            # SQLite, then PostgreSQL
    .venv/bin/python bench/import_large.py --postgres # PostgreSQL only
    .venv/bin/python bench/import_large.py --sqlite   # SQLite only
    .venv/bin/python bench/import_large.py --phases   # first the parts that need no database
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
POSTGRES_URL = os.environ.get("DNP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FLASK = [sys.executable, "-m", "flask", "--app", "app", "dnp"]


def run(args: list[str], env: dict) -> tuple[float, float, float, str]:
    """Run a CLI command in a child process: (wall s, cpu s, its own peak RSS MB, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(FLASK + args, env=env, cwd=ROOT, stdout=out, stderr=err, text=True)
        # wait4 gives this child's own usage (RUSAGE_CHILDREN would be the largest child so far).
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"{args} failed:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout


def fresh_postgres() -> str:
    """An empty PostgreSQL database for the benchmark."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text('DROP DATABASE IF EXISTS "dnp_bench" WITH (FORCE)'))
        connection.execute(text('CREATE DATABASE "dnp_bench"'))
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/dnp_bench"


def main() -> None:
    """Generate the file once, then time imports per backend."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL only")
    parser.add_argument("--sqlite", "--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--phases", action="store_true", help="first time the work without a database, one part at a time"
    )
    options = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / f"large-seed{options.seed}.json"
    env = {**os.environ, "DNP_SECRET_KEY": "bench", "DNP_ENV": "testing"}  # production needs SAML settings
    if not data.exists():
        print(f"Generating {data.name} …", flush=True)
        run(["demo-data", "--scale", "large", "--seed", str(options.seed), "--write-file", str(data)], env)
    print(f"file: {data.stat().st_size / 1e6:.1f} MB")
    backends = [("sqlite", None), ("postgresql", fresh_postgres)]
    if options.postgres or options.sqlite:
        backends = [b for b in backends if (b[0] == "postgresql") == options.postgres]
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    if options.phases:
        _phases(data)
    for name, make in backends:
        with tempfile.TemporaryDirectory() as tmp:
            url = make() if make else f"sqlite:///{tmp}/bench.sqlite3"
            env["DNP_DATABASE_URL"] = url
            run(["migrate"], env)
            # The CLI with the app loaded and nothing imported: what the import adds is above this.
            _, _, idle, _ = run(["migrate"], env)
            print(f"{name:10} idle CLI (migrate, nothing to do): peak RSS {idle:5.0f} MB")
            wall, cpu, rss, out = run(["import", str(data)], env)
            persons = int(out.split('"persons": ')[1].split(",")[0])
            print(
                f"{name:10} first import : {persons} persons created in {wall:6.1f} s wall, "
                f"{cpu:6.1f} s CPU, peak RSS {rss:5.0f} MB; {_per_100k(wall, persons)}"
            )
            wall, cpu, rss, out = run(["import", str(data)], env)
            print(
                f"{name:10} second import: unchanged, {wall:6.1f} s wall, "
                f"{cpu:6.1f} s CPU, peak RSS {rss:5.0f} MB; {_per_100k(wall, persons)}"
            )


def _phases(data: Path) -> None:
    """CPU of the parts that need no database, each alone in this process (the import overlaps them with
    the database's work in a background thread): reading the top-level keys, parsing every kind, and
    checking and shaping every item (schema, text, rules, rows and their hashes)."""
    import ijson

    from dnp.register.file_import import BATCH
    from dnp.register.file_import import BATCH_OF
    from dnp.register.file_import import batched
    from dnp.register.file_import import top_level_keys
    from dnp.register.items import prepare_batch
    from dnp.register.results import KINDS

    with open(data, "rb") as stream:
        started = time.process_time()
        top_level_keys(stream)
        keys = time.process_time() - started
        parse = prepare = 0.0
        for kind in KINDS:
            stream.seek(0)
            batches = batched(ijson.items(stream, f"{kind}.item", use_float=True), BATCH_OF.get(kind, BATCH))
            while True:
                started = time.process_time()
                batch = next(batches, None)
                parse += time.process_time() - started
                if batch is None:
                    break
                started = time.process_time()
                prepare_batch(kind, batch)
                prepare += time.process_time() - started
    print(
        f"without a database: top-level keys {keys:4.1f} s CPU, parsing {parse:4.1f} s, "
        f"checking and shaping the items {prepare:4.1f} s"
    )


GOAL_PER_100K = 30.0  # seconds of wall time per 100,000 persons (issue 15)


def _per_100k(wall: float, persons: int) -> str:
    """The wall time per 100,000 persons beside the goal."""
    per = wall * 100_000 / max(persons, 1)
    verdict = "ok" if per < GOAL_PER_100K else "OVER"
    return f"{per:5.1f} s per 100k (goal < {GOAL_PER_100K:.0f} s: {verdict})"


if __name__ == "__main__":
    main()
