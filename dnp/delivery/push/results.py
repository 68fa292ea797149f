"""Push answers: every object's status from Skolverket's job, and waking what waited for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery.push.intake import mark_dirty
from dnp.delivery.push.models import ACCEPTED
from dnp.delivery.push.models import PushAnswer
from dnp.delivery.push.models import PushBatch
from dnp.delivery.push.models import PushObject
from dnp.delivery.push.order import states
from dnp.delivery.push.timing import Timing


def record_answers(
    batch: PushBatch, responses: list, now: datetime, timing: Timing, *, session: Session
) -> None:
    """Store every object's answer (and its history); retry temporary ones; wake what waited on them."""
    answers = {}
    for entry in responses if isinstance(responses, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("response"), dict):
            answers[str(entry.get("id"))] = entry["response"]
    objects = {
        o.entity_id: o
        for o in session.exec(
            select(PushObject).where(PushObject.resource == batch.resource, PushObject.batch_id == batch.id)
        ).all()
    }
    history = []
    accepted: list[str] = []
    for entity_id in batch.entity_ids:
        answer = answers.get(entity_id) or {"status": "Pending"}
        status = str(answer.get("status") or "Pending")
        logs = [
            e for e in (answer.get("errors") or []) + (answer.get("warnings") or []) if isinstance(e, dict)
        ]
        history.append(
            {"batch_id": batch.id, "resource": batch.resource, "entity_id": entity_id, "status": status,
             "log_entries": logs, "at": now}
        )  # fmt: skip
        obj = objects.get(entity_id)
        if obj is None:
            continue  # deleted meanwhile (a resend or a sync took it over)
        obj.batch_id, obj.status, obj.log_entries = None, status, logs
        item = batch.items.get(entity_id, {})
        if status in ACCEPTED:
            obj.answered_at, obj.attempts, obj.trying_since, obj.failed = now, 0, None, False
            obj.sent_hash = item.get("hash", "")
            if batch.action == "delete":
                obj.remote = False
                if not obj.dirty:
                    session.delete(obj)
                    continue
            else:
                obj.remote = True
                accepted.append(entity_id)
                left_out = set(item.get("left_out", [])) | _missing_in(logs)
                obj.left_out, obj.incomplete = sorted(left_out), bool(left_out)
        elif status == "Error":
            obj.answered_at, obj.attempts, obj.trying_since = now, 0, None
            obj.sent_hash = item.get("hash", "")
        else:  # TemporaryError, or still Pending although the job is complete
            if status == "TemporaryError":
                obj.answered_at = now
            obj.attempts += 1
            obj.trying_since = obj.trying_since or batch.sent_at or now
            if now - obj.trying_since >= timing.give_up_after:
                obj.failed, obj.dirty = True, False
            else:
                obj.dirty, obj.due_at = True, now + timing.backoff(obj.attempts)
        session.add(obj)
    if history:
        session.execute(insert(PushAnswer.__table__), history)
    batch.status, batch.finished_at, batch.body, batch.lease_until = "done", now, "", None
    session.add(batch)
    session.flush()
    if batch.action == "upsert" and accepted and batch.resource in ("Person", "Duty"):
        wake_incomplete(
            "Group" if batch.resource == "Person" else "Activity", set(accepted), now, session=session
        )
    if batch.action == "upsert" and batch.resource in ("Group", "Activity"):
        # Members (teachers) accepted while this call was in flight woke nothing: send again now.
        _wake_if_caught_up(session, batch.resource, [objects[i] for i in accepted if i in objects], now)


def _missing_in(logs: list[dict]) -> set[str]:
    """Members a Group was accepted without (Skolverket's Warning names them in ``attributeValue``)."""
    found = set()
    for entry in logs:
        if entry.get("severityLevel") == "Warning" and "groupMemberships" in str(
            entry.get("attributeName", "")
        ):
            value = str(entry.get("attributeValue") or "")
            if len(value) == 36:
                found.add(value)
    return found


def _wake_if_caught_up(session: Session, resource: str, sent: list[PushObject], now: datetime) -> None:
    kind = "Person" if resource == "Group" else "Duty"
    refs = {kind: {ref for o in sent for ref in o.left_out or []}}
    known = states(refs, session=session)
    woken = [
        o.entity_id for o in sent if any(known.get((kind, ref), (False, False))[0] for ref in o.left_out)
    ]
    if woken:
        mark_dirty(resource, woken, now, session=session)


def wake_incomplete(resource: str, accepted: set[str], now: datetime, *, session: Session) -> int:
    """Groups (or Activities) sent without some members (teachers) now accepted: send them again."""
    waiting = session.exec(
        select(PushObject).where(PushObject.resource == resource, PushObject.incomplete.is_(True))
    ).all()
    woken = [o.entity_id for o in waiting if accepted & set(o.left_out or [])]
    if woken:
        mark_dirty(resource, woken, now, session=session)
    return len(woken)
