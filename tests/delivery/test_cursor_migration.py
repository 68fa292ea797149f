"""Migrations 0007a and 0007e: cursors stored before lose nothing and read nothing twice."""

from __future__ import annotations

import re
from datetime import timedelta

from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlmodel import Session

from dnp.delivery import attempts
from dnp.delivery import deliveries
from dnp.delivery.models import Delivery
from dnp.delivery.models import WebhookCursor
from dnp.migrate import alembic_config
from dnp.migrate import upgrade
from dnp.publication.models import Outbox
from dnp.types import utcnow
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


def test_0007e_keeps_id_cursors_exact_and_turns_them_into_snapshots_at_the_next_gather(
    tmp_path_factory, worker_id
):
    config = alembic_config("sqlite://")
    before = ScriptDirectory.from_config(config).get_revision("0007e").down_revision
    url = fresh_database(tmp_path_factory, worker_id, suffix="_snapshots", revision=before)
    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine, only=["outbox", "subscription", "webhook_cursor"])
    now = utcnow()
    subscription_id = "00000000-0000-4000-8000-00000000000e"
    with engine.begin() as connection:
        connection.execute(
            tables.tables["outbox"].insert(),
            [
                dict(resource="Person", entity_id=f"p{n}", change="modified", created_at=now)
                for n in (1, 2, 3)
            ],
        )
        connection.execute(
            tables.tables["subscription"].insert(),
            [
                dict(
                    id=subscription_id,
                    name="sv",
                    target="https://hook.example/e",
                    resource_types=["Person"],
                    expires=now + timedelta(days=90),
                    caller="",
                    created=now,
                    modified=now,
                )
            ],
        )
        # Rows 1 and 2 were gathered before the upgrade; row 3 was not.
        connection.execute(
            tables.tables["webhook_cursor"].insert(),
            [{"subscription_id": subscription_id, "last_outbox_id": 2}],
        )
    upgrade(url, "0007e")
    postgres = engine.dialect.name == "postgresql"
    with Session(engine, expire_on_commit=False) as session:
        session.add(Outbox(resource="Person", entity_id="p4", change="modified", created_at=utcnow()))
        session.commit()
        txids = dict(session.exec(select(Outbox.id, Outbox.txid)).all())
        assert [txids[n] is None for n in (1, 2, 3, 4)] == [True, True, True, not postgres]
        deliveries.gather(utcnow(), deliveries.Timing(coalesce_seconds=0), session=session)
        session.commit()
        [delivery] = session.scalars(select(Delivery)).all()
        assert (delivery.first_outbox_id, delivery.last_outbox_id) == (2, 4)  # nothing lost
        cursor = session.get(WebhookCursor, subscription_id)
        assert (cursor.snapshot is not None) == postgres and cursor.last_outbox_id == 4
        attempts.succeeded(delivery, 204, utcnow(), session=session)
        session.commit()
        deliveries.gather(utcnow(), deliveries.Timing(coalesce_seconds=0), session=session)
        session.commit()
        assert session.scalars(select(Delivery)).all() == [delivery]  # nothing read twice
    engine.dispose()
