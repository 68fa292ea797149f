"""Skolverket's order rules: what an object refers to, and whether it may be sent yet.

Person → Duty → Group → Activity (transfer-methods.md §5.1): a Duty after its Person was accepted, a
Group once every member was answered (carrying the accepted ones), an Activity after its Groups and
its teachers' Duties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlmodel import Session

from dnp.delivery.push.models import CHUNK
from dnp.delivery.push.models import PushObject

# More referenced ids than this are looked up in one pass over their type.
WHOLE_TYPE_ABOVE = 4 * CHUNK


@dataclass
class Item:
    """One object of a bulk call: its id, the body to send and the members (teachers) left out."""

    entity_id: str
    body: object  # the object (upsert) or the bare id (delete)
    left_out: list[str]

    @property
    def text(self) -> str:
        """The body as compact JSON (what is sent, measured and hashed)."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))


def content(text: str) -> dict:
    """A published document as Skolverket gets it (without our ``meta``)."""
    document = json.loads(text)
    document.pop("meta", None)
    return document


def references(resource: str, documents: dict[str, dict]) -> dict[str, set[str]]:
    """The objects these documents refer to, per resource type (what their order rules wait for)."""
    refs: dict[str, set[str]] = {"Person": set(), "Duty": set(), "Group": set()}
    for document in documents.values():
        if resource == "Duty":
            refs["Person"].add(str((document.get("person") or {}).get("id")))
        elif resource == "Group":
            refs["Person"].update(member_ids(document))
        elif resource == "Activity":
            refs["Group"].update(str(group.get("id")) for group in document.get("groups") or [])
            refs["Duty"].update(teacher_duties(document))
    return refs


def member_ids(document: dict) -> list[str]:
    """A Group's members' Person ids."""
    return [str((m.get("person") or {}).get("id")) for m in document.get("groupMemberships") or []]


def teacher_duties(document: dict) -> list[str]:
    """An Activity's teachers' Duty ids."""
    return [str((t.get("duty") or {}).get("id")) for t in document.get("teachers") or []]


def states(refs: dict[str, set[str]], *, session: Session) -> dict[tuple[str, str], tuple[bool, bool]]:
    """(resource, id) → (Skolverket holds it, it has been answered at least once); unknown ids are left out.

    Many ids (a full sync's Groups name every pupil) are read as one pass over the type's answered
    objects: hundreds of ``IN`` lists cost a sweep seconds.
    """
    found: dict[tuple[str, str], tuple[bool, bool]] = {}
    columns = (PushObject.entity_id, PushObject.remote, PushObject.answered_at)
    for resource, ids in refs.items():
        if len(ids) > WHOLE_TYPE_ABOVE:
            rows = session.execute(
                sa_select(*columns).where(
                    PushObject.resource == resource,
                    or_(PushObject.remote.is_(True), PushObject.answered_at.is_not(None)),
                )
            ).all()
            for entity_id, remote, answered_at in rows:
                if entity_id in ids:
                    found[(resource, entity_id)] = (bool(remote), answered_at is not None)
            continue
        ordered = sorted(ids)
        for start_at in range(0, len(ordered), CHUNK):
            rows = session.execute(
                sa_select(*columns).where(
                    PushObject.resource == resource,
                    PushObject.entity_id.in_(ordered[start_at : start_at + CHUNK]),
                )
            ).all()
            for entity_id, remote, answered_at in rows:
                found[(resource, entity_id)] = (bool(remote), answered_at is not None)
    return found


def ready(resource: str, entity_id: str, document: dict, known) -> Item | None:
    """The object to send if its order rule is met, else None (it stays dirty and waits).

    Duty: its Person accepted. Group: every member answered at least once; carries the accepted ones.
    Activity: its groups accepted and every teacher's Duty answered; carries the accepted Duties.
    """

    def remote(kind: str, ref: str) -> bool:
        return known.get((kind, ref), (False, False))[0]

    def answered(kind: str, ref: str) -> bool:
        return known.get((kind, ref), (False, False))[1]

    if resource == "Duty" and not remote("Person", str((document.get("person") or {}).get("id"))):
        return None
    if resource == "Group":
        members = member_ids(document)
        if not all(answered("Person", member) for member in members):
            return None
        left_out = sorted(member for member in members if not remote("Person", member))
        document["groupMemberships"] = [
            m for m in document.get("groupMemberships") or [] if str(m["person"]["id"]) not in left_out
        ]
        return Item(entity_id, document, left_out)
    if resource == "Activity":
        groups = [str(group.get("id")) for group in document.get("groups") or []]
        if not groups or not all(remote("Group", group) for group in groups):
            return None
        duties = teacher_duties(document)
        if not all(answered("Duty", duty) for duty in duties):
            return None
        left_out = sorted(duty for duty in duties if not remote("Duty", duty))
        document["teachers"] = [
            t for t in document.get("teachers") or [] if str(t["duty"]["id"]) not in left_out
        ]
        return Item(entity_id, document, left_out)
    return Item(entity_id, document, [])
