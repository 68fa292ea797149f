"""RQ entry points for push: send one bulk call, poll one job (by batch id); the sweeper decides what is due.

Each job does one step of one batch in a few short transactions and takes only ids, so it can be run
twice, or die anywhere: the batch's lease runs out and the next sweep enqueues the step again.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlmodel import Session

from dnp.connection.credentials import certificate_files
from dnp.connection.token import TokenClient
from dnp.db import get_session
from dnp.delivery.push import results
from dnp.delivery.push import sending
from dnp.delivery.push import timing as push_timing
from dnp.delivery.push.client import ACCESS_TYPE
from dnp.delivery.push.client import ProvisioningClient
from dnp.delivery.push.client import SharedRateLimit
from dnp.delivery.push.client import SharedToken
from dnp.delivery.push.method import is_push
from dnp.delivery.push.models import PATHS
from dnp.jobs import redis_connection
from dnp.jobs.context import app_context
from dnp.types import utcnow

log = logging.getLogger(__name__)


def provisioning_location(config) -> str:
    """The location asked for in the token: ``DNP_PROVISIONING_LOCATION``, by default the API's URL."""
    return config.get("PROVISIONING_LOCATION") or config["PROVISIONING_URL"]


def client_from_config(config, session: Session) -> ProvisioningClient:
    """A Provisioning API client with our certificate, the shared token and the shared rate limit."""
    cert, key = certificate_files(config, session=session)
    tokens = TokenClient(
        auth_server_url=config["AUTH_SERVER_URL"],
        location=provisioning_location(config),
        tls_client_cert=cert,
        tls_client_key=key,
        ca_bundle=config.get("TLS_CA_BUNDLE"),
        auth_client_key=config.get("AUTH_CLIENT_KEY"),
        access_type=ACCESS_TYPE,
    )
    redis = redis_connection()
    return ProvisioningClient(
        config["PROVISIONING_URL"],
        SharedToken(tokens, redis),
        SharedRateLimit(config["REDIS_URL"], int(config["PROVISIONING_RATE"])),
        ca_bundle=config.get("TLS_CA_BUNDLE"),
        timeout=float(config["PROVISIONING_TIMEOUT"]),
        redis=redis,
    )


@contextmanager
def _claimed(batch_id: int, key: str, state: str):
    """One step's app context, session, timing and batch; the batch is None while pulling or not ours."""
    with app_context():
        config = current_app.config
        session = get_session()
        timing = push_timing.timing_from_config(config)
        batch = None
        if is_push(session=session):
            batch = sending.claim(batch_id, key, state, _worker(), utcnow(), timing, session=session)
        # Commit the lease (or end the failed claim's transaction) before the call: no transaction is
        # held open over the network, and another job sees the lease at once.
        session.commit()
        yield config, session, timing, batch


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def send_batch(batch_id: int, key: str) -> None:
    """Send one bulk call and record what Skolverket answered (202, 413, 429, 400, or a failure)."""
    with _claimed(batch_id, key, "new") as (config, session, timing, batch):
        if batch is None:
            return
        try:
            client = client_from_config(config, session)
        except (OSError, ssl.SSLError) as exc:  # e.g. an unreadable DNP_TLS_CA_BUNDLE
            sending.send_failed(
                batch, f"Klienten kunde inte skapas: {exc}", None, utcnow(), timing, session=session
            )
            session.commit()
            return
        try:
            reply = client.bulk(PATHS[batch.resource], batch.action, batch.body)
        finally:
            client.close()
        now = utcnow()
        if reply.status == 202 and isinstance(reply.body, dict) and reply.body.get("jobId"):
            sending.sent(batch, str(reply.body["jobId"]), 202, now, timing, session=session)
        elif reply.status == 413 and len(batch.entity_ids) > 1:
            sending.split(batch, now, session=session)
        elif reply.status in (400, 413):
            entries = reply.body if isinstance(reply.body, list) else []
            sending.refused(batch, entries, reply.status, now, session=session)
        elif reply.status == 429:
            sending.retry_later(
                batch, now, timedelta(seconds=reply.reset), reply.message(), 429, session=session
            )
        else:
            log.warning("push batch %s (%s) failed: %s", batch.id, batch.resource, reply.message())
            sending.send_failed(batch, reply.message(), reply.status, now, timing, session=session)
        session.commit()


def poll_batch(batch_id: int, key: str) -> None:
    """Ask whether Skolverket's job is done; when it is, fetch and store every object's answer."""
    with _claimed(batch_id, key, "polling") as (config, session, timing, batch):
        if batch is None:
            return
        path = PATHS[batch.resource]
        client = client_from_config(config, session)
        try:
            done = client.is_completed(path, batch.job_id)
            result = client.job(path, batch.job_id) if done.status == 200 and done.body is True else None
        finally:
            client.close()
        now = utcnow()
        if result is not None and result.status == 200 and isinstance(result.body, dict):
            results.record_answers(batch, result.body.get("responses"), now, timing, session=session)
        elif done.status == 200 and done.body is False:
            sending.still_pending(batch, now, timing, session=session)
        elif done.status == 404 or (result is not None and result.status == 404):
            sending.job_unknown(batch, now, session=session)
        else:
            failure = result if result is not None else done
            if failure.status == 429:
                sending.retry_later(
                    batch, now, timedelta(seconds=failure.reset), failure.message(), 429, session=session
                )
            else:
                sending.poll_failed(batch, failure.message(), failure.status, now, timing, session=session)
        session.commit()
