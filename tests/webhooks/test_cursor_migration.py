"""Migration 0007a: subscriptions stored before cursors were recorded with them lose nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy import create_engine
from sqlalchemy import select

from dnp.migrate import alembic_config
from dnp.migrate import upgrade
from dnp.models.types import utcnow
from tests.conftest import fresh_database


def test_subscriptions_without_a_cursor_get_one_from_their_creation_and_deliveries_a_job_key(
    tmp_path_factory, worker_id
):
    config = alembic_config("sqlite://")
    before = ScriptDirectory.from_config(config).get_revision("0007a").down_revision
    url = fresh_database(tmp_path_factory, worker_id, suffix="_cursors", revision=before)
    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    outbox, subscription = tables.tables["outbox"], tables.tables["subscription"]
    cursor, delivery = tables.tables["webhook_cursor"], tables.tables["delivery"]
    now = utcnow()

    def subscribed(key: str, created, expires=now + timedelta(days=90)) -> dict:
        return dict(
            id=f"00000000-0000-4000-8000-00000000000{key}",
            name=key,
            target=f"https://hook.example/{key}",
            resource_types=["Person"],
            expires=expires,
            caller="",
            created=created,
            modified=created,
        )

    def changed(minutes: int) -> dict:
        at = now + timedelta(minutes=minutes)
        return dict(resource="Person", entity_id=f"p{minutes}", change="modified", created_at=at)

    with engine.begin() as connection:
        connection.execute(outbox.insert(), [changed(-30), changed(-20), changed(-10)])
        connection.execute(
            subscription.insert(),
            [
                subscribed("a", now - timedelta(minutes=25)),  # never swept: rows 2 and 3 are its own
                subscribed("b", now - timedelta(minutes=25)),  # swept already: its cursor stays
                subscribed("c", now - timedelta(hours=1)),  # older than every outbox row
            ],
        )
        connection.execute(
            cursor.insert(), [{"subscription_id": subscribed("b", now)["id"], "last_outbox_id": 3}]
        )
        connection.execute(
            delivery.insert(),
            [
                dict(
                    subscription_id=subscribed("b", now)["id"],
                    status="delivered",
                    resources=["Person"],
                    deletions=False,
                    first_outbox_id=0,
                    last_outbox_id=3,
                    first_change_at=now,
                    trying_since=now,
                    next_attempt_at=now,
                    attempts=1,
                    claimed_by="",
                    last_error="",
                    created=now,
                )
            ]
            * 2,
        )
    upgrade(url, "0007a")
    with engine.connect() as connection:
        cursors = dict(connection.execute(select(cursor.c.subscription_id, cursor.c.last_outbox_id)).all())
        keys = connection.exec_driver_sql("SELECT job_key FROM delivery").scalars().all()
    engine.dispose()
    assert {key[-1]: value for key, value in cursors.items()} == {"a": 1, "b": 3, "c": 0}
    assert len(keys) == 2 and len(set(keys)) == 2
    assert all(re.fullmatch(r"[0-9a-f]{16}", key) for key in keys)
