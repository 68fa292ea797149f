"""Webhook subscriptions registered by Skolverket's client: validation, allowed targets, renewal."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlmodel import Session

from dnp.audit import trail
from dnp.delivery import deliveries
from dnp.delivery.models import Subscription
from dnp.types import stamp
from dnp.types import utcnow

RESOURCE_TYPES = ("Activity", "Duty", "Group", "Person", "Organisation")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_TARGET = 2000


class SubscriptionRejected(ValueError):
    """The subscription cannot be stored; the message says why (sent as a 400)."""


def _origin_and_path(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) of a plain http(s) URL, or None for anything tricky.

    Only printable ASCII is taken, and the path may hold no ``;`` (matrix parameters, which some
    servers strip: ``…/..;/x``) and no ``%`` at all: an encoded byte (``%2e``, ``%252e`` decoded
    twice, ``%00``) can mean a different path to the server than the one the prefix check saw.
    """
    if any(not 32 < ord(char) < 127 or char == "\\" for char in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    if parts.fragment or "@" in parts.netloc:
        return None
    path = parts.path or "/"
    if ";" in path or "%" in path:
        return None
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme], path


def target_allowed(target: str, allowed: str) -> bool:
    """True when ``target`` starts with one of the comma-separated ``allowed`` URL prefixes.

    Compared as parsed URLs: scheme, host and port exactly, and the path as a prefix that ends on a
    segment boundary, so ``https://skolverket.se.evil.example`` or ``…/v1evil`` never pass.
    """
    wanted = _origin_and_path(target)
    if wanted is None:
        return False
    for prefix in (part.strip() for part in (allowed or "").split(",")):
        base = _origin_and_path(prefix) if prefix else None
        if base is None or base[:3] != wanted[:3]:
            continue
        base_path, path = base[3], wanted[3]
        if path == base_path or path.startswith(base_path if base_path.endswith("/") else base_path + "/"):
            return True
    return False


def resource_types(value: object) -> list[str]:
    """``[{"resource": "Person"}, "Group", …]`` → ``["Person", "Group"]``; SubscriptionRejected if odd."""
    if not isinstance(value, list) or not value:
        raise SubscriptionRejected("resourceTypes must be a non-empty list")
    names = []
    for item in value:
        name = item.get("resource") if isinstance(item, dict) else item
        if name not in RESOURCE_TYPES:
            raise SubscriptionRejected(f"resourceTypes may only hold {', '.join(RESOURCE_TYPES)}")
        names.append(name)
    return list(dict.fromkeys(names))


def as_json(subscription: Subscription) -> dict:
    """The Subscription body of the API."""
    return {
        "id": subscription.id,
        "name": subscription.name,
        "target": subscription.target,
        "resourceTypes": [{"resource": name} for name in subscription.resource_types],
        "expires": stamp(subscription.expires),
    }


def create(session: Session, body: object, caller: str, allowed: str, days: int) -> Subscription:
    """Store a subscription; one per target, so a client that registers again renews the same one."""
    if not isinstance(body, dict):
        raise SubscriptionRejected("the body must be a JSON object")
    name, target = body.get("name"), body.get("target")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise SubscriptionRejected("name must be a non-empty string of at most 255 characters")
    if not isinstance(target, str) or not target.lower().startswith(("http://", "https://")):
        raise SubscriptionRejected("target must be an http(s) URL")
    if len(target) > MAX_TARGET:
        raise SubscriptionRejected(f"target may be at most {MAX_TARGET} characters")
    types = resource_types(body.get("resourceTypes"))
    if not target_allowed(target, allowed):
        raise SubscriptionRejected("target is not one of the webhook addresses this API may call")
    now = utcnow()
    subscription = session.execute(select(Subscription).where(Subscription.target == target)).scalar()
    if subscription is None:
        subscription = Subscription(id=str(uuid.uuid4()), name=name, target=target, expires=now, created=now)
    restart = subscription.expires <= now  # new, or renewed after it had expired
    subscription.name, subscription.resource_types = name, types
    subscription.expires, subscription.modified, subscription.caller = now + timedelta(days=days), now, caller
    session.add(subscription)
    session.flush()
    # In this transaction, so nothing committed after the 201 goes unannounced (rule 4).
    deliveries.open_cursor(session, subscription, restart=restart)
    after = {"target": target, "resourceTypes": types}
    trail.record(
        session, f"ss12000:{caller}", "subscription.created", "Subscription", subscription.id, after=after
    )
    return subscription


def renew(session: Session, subscription_id: str, caller: str, days: int) -> Subscription | None:
    """Push ``expires`` to now + ``days``; None when there is no such subscription.

    A live subscription keeps its place in the outbox; an expired one starts again from now.
    """
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return None
    now = utcnow()
    restart = subscription.expires <= now
    subscription.expires, subscription.modified = now + timedelta(days=days), now
    session.add(subscription)
    deliveries.open_cursor(session, subscription, restart=restart)
    trail.record(session, f"ss12000:{caller}", "subscription.renewed", "Subscription", subscription_id)
    return subscription


def remove(session: Session, subscription_id: str, caller: str) -> None:
    """Delete a subscription (unconditionally: deleting an unknown one is not an error)."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is not None:
        session.delete(subscription)
        trail.record(session, f"ss12000:{caller}", "subscription.deleted", "Subscription", subscription_id)


def all_subscriptions(*, session: Session) -> list[Subscription]:
    """Every subscription, oldest first (what the connection page lists)."""
    return list(session.execute(select(Subscription).order_by(Subscription.created)).scalars())
