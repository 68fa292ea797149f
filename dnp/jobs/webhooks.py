"""RQ entry points for webhooks: deliver one delivery (by id); the sweeper decides what is due."""

from __future__ import annotations

import logging
import os
import socket

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from dnp.connection.credentials import token_client
from dnp.db import get_session
from dnp.delivery import attempts
from dnp.delivery import deliveries
from dnp.delivery.models import Subscription
from dnp.delivery.sender import post_webhook
from dnp.delivery.subscriptions import target_allowed
from dnp.jobs.context import app_context
from dnp.publication.restamp import restamp
from dnp.types import utcnow

log = logging.getLogger(__name__)


def deliver_webhook(delivery_id: int, job_key: str | None = None) -> None:
    """Claim the delivery, re-stamp if late, send it, and record the outcome. Never raises for HTTP.

    ``job_key`` ties the job to the delivery it was made for (jobs enqueued before it existed have
    none). A subscription deleted meanwhile ends the job as a no-op: its deliveries went with it.
    """
    with app_context():
        config = current_app.config
        session = get_session()
        worker = f"{socket.gethostname()}:{os.getpid()}"
        delivery = attempts.claim(session, delivery_id, worker, utcnow(), job_key)
        session.commit()  # the claim is seen by other workers before anything is sent
        if delivery is None:
            return
        subscription = session.get(Subscription, delivery.subscription_id)
        timing = deliveries.timing_from_config(config)
        if subscription is None or subscription.expires <= utcnow():
            attempts.give_up(session, delivery, "cancelled", "Prenumerationen har gått ut.")
            _commit(session, delivery_id)
            return
        if not target_allowed(subscription.target, config["WEBHOOK_ALLOWED_TARGETS"]):
            attempts.give_up(
                session, delivery, "dead", "Mottagaradressen är inte tillåten (DNP_WEBHOOK_ALLOWED_TARGETS)."
            )
            _commit(session, delivery_id)
            return
        if utcnow() - delivery.first_change_at > timing.restamp_after:
            restamp(session, delivery, subscription.resource_types, utcnow())
            if not _commit(session, delivery_id):
                return
        result = post_webhook(
            subscription.target,
            deliveries.body_for(delivery),
            token_client(config, session),
            config.get("TLS_CA_BUNDLE"),
            timeout=float(config["WEBHOOK_TIMEOUT"]),
        )
        now = utcnow()
        if result.ok:
            attempts.succeeded(session, delivery, result.status, now)
        else:
            log.warning(
                "delivery %s to subscription %s failed: %s", delivery.id, subscription.id, result.error
            )
            attempts.failed(session, delivery, result.error, now, timing, result.status)
        _commit(session, delivery_id)


def _commit(session, delivery_id: int) -> bool:
    """Commit the delivery's new state; False (logged) if the delivery was deleted meanwhile.

    Deleting a subscription deletes its deliveries, also one in flight. The job then has nothing to
    record; that is the end of it, not a failure for RQ to keep.
    """
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        log.info(
            "delivery %s cancelled: its subscription was deleted while the webhook was in flight", delivery_id
        )
        return False
    return True


__all__ = ["deliver_webhook"]
