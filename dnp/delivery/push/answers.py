"""What Skolverket answered about a test group and its members, for the group pages (a read model).

A constant number of queries per page, joined through the group's members (no id lists, no query per
member): a year group of 2,000 pupils costs the same three queries as a class of 25.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from sqlalchemy import and_
from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery.push.models import ACCEPTED
from dnp.delivery.push.models import PushObject
from dnp.groups.models import TestGroupMember
from dnp.publication.models import CentralSetting
from dnp.register.models import Duty

# The method is read from its row here (method.py imports the pipeline, which a read model does not need).
METHOD_KEY = "transfer_method"

# Our words for Skolverket's states (the five a user sees), and the badge class for each.
SENT, ACCEPTED_OK, WARNED, REFUSED, WAITING = "sent", "accepted", "warning", "refused", "waiting"
REMOVED = "removed"  # a delete Skolverket accepted (a withdrawn group, a pupil in no ready group)
KIND_NAMES = {
    SENT: "Skickad",
    ACCEPTED_OK: "Godkänd",
    WARNED: "Godkänd med varning",
    REFUSED: "Avvisad",
    WAITING: "Väntar",
    REMOVED: "Borttagen hos Skolverket",
}
KIND_BADGES = {
    SENT: "",
    ACCEPTED_OK: "ok",
    WARNED: "warn",
    REFUSED: "err",
    WAITING: "muted",
    REMOVED: "muted",
}

# Skolverket's attribute names in words (LogEntry ``attributeName``); others are shown as they come.
ATTRIBUTES = {
    "eppn": "EPPN",
    "eduPersonPrincipalNames": "EPPN",
    "civicNo": "Personnummer",
    "civicNo.value": "Personnummer",
    "givenName": "Förnamn",
    "familyName": "Efternamn",
    "emails": "E-postadress",
    "enrolments": "Inskrivning",
    "person.id": "Personen",
    "dutyRole": "Roll",
    "dutyAt": "Skolenhet",
    "groupType": "Grupptyp",
    "schoolType": "Skolform",
    "groupMemberships": "Gruppens medlemmar",
    "groups": "Provgruppen",
    "groups.id": "Provgruppen",
    "teachers": "Lärare",
    "parentActivity": "Nationellt prov",
}
# Codes we can explain better than the bare message (3047: Skolverket's published EPPN warning).
EXPLAINED = {
    "3047": "EPPN:en innehåller bokstäver ur namnet. Personen är godkänd, men Skolverket vill att EPPN inte "
    "avslöjar namnet – be den som sköter elevregistret byta den.",
}


@dataclass(frozen=True)
class Message:
    """One of Skolverket's LogEntries in words: what, about which attribute, its code, how serious."""

    text: str
    attribute: str
    code: str
    severity: str  # Error | Warning | Info

    @property
    def error(self) -> bool:
        """True for an error (the object was refused)."""
        return self.severity == "Error"


@dataclass
class Answer:
    """Skolverket's last answer about one object, as the group pages show it."""

    kind: str
    at: datetime | None  # when it was last sent
    answered_at: datetime | None
    messages: list[Message] = field(default_factory=list)
    change_waiting: bool = False  # accepted earlier, a newer change is still to be sent

    @property
    def name(self) -> str:
        """The state in Swedish."""
        return KIND_NAMES[self.kind]

    @property
    def badge(self) -> str:
        """The badge class for the state."""
        return KIND_BADGES[self.kind]


@dataclass
class GroupAnswers:
    """Answers about one test group: the Group and Activity, and each member (Person, staff's Duty)."""

    group: Answer | None = None
    activity: Answer | None = None
    persons: dict[str, Answer] = field(default_factory=dict)
    duties: dict[str, Answer] = field(default_factory=dict)  # by person id: the member's duty at the unit

    def for_member(self, person_id: str) -> list[Answer]:
        """The answers about one member: the person, and for staff also their duty."""
        return [a for a in (self.persons.get(person_id), self.duties.get(person_id)) if a is not None]

    def member_answers(self, person_id: str) -> list[tuple[str, Answer]]:
        """The answers about one member, each with what it is about when there are two (staff)."""
        person, duty = self.persons.get(person_id), self.duties.get(person_id)
        if duty is None:
            return [("", person)] if person else []
        return ([("Personen", person)] if person else []) + [("Tjänstgöringen", duty)]

    @property
    def own_refusals(self) -> list[tuple[str, Answer]]:
        """The group's own parts Skolverket refused (the Group, the Activity), with what each is."""
        parts = (("Provgruppen", self.group), ("Provaktiviteten", self.activity))
        return [(what, a) for what, a in parts if a is not None and a.kind == REFUSED]

    @property
    def refused(self) -> int:
        """Members Skolverket refused (as a person or a duty)."""
        ids = {pid for pid, a in self.persons.items() if a.kind == REFUSED}
        return len(ids | {pid for pid, a in self.duties.items() if a.kind == REFUSED})

    @property
    def warned(self) -> int:
        """Members accepted with a warning."""
        return sum(1 for a in self.persons.values() if a.kind == WARNED)


@dataclass
class GroupSummary:
    """One line for the unit overview: the group's own answer and its members' refusals and warnings."""

    group: Answer | None
    refused: int = 0
    warned: int = 0


def message_of(entry: dict) -> Message:
    """One LogEntry in plain Swedish (Skolverket's own message when we have no better words)."""
    code = str(entry.get("id") or "")
    raw = str(entry.get("attributeName") or "")
    text = EXPLAINED.get(code) or str(entry.get("message") or "Skolverket angav ingen förklaring.")
    severity = str(entry.get("severityLevel") or "")
    attribute = ATTRIBUTES.get(raw, raw)[:80]
    return Message(text=text[:500], attribute=attribute, code=code[:12], severity=severity)


def answer_of(row: PushObject) -> Answer:
    """A stored push state as the state a user sees."""
    if row.status == "Error":
        kind = REFUSED
    elif row.sent_action == "delete" and row.status in ACCEPTED:
        kind = REMOVED
    elif row.status == "Warning":
        kind = WARNED
    elif row.status == "Success":
        kind = ACCEPTED_OK
    elif row.status == "Pending" or (row.batch_id is not None and row.sent_at is not None):
        kind = SENT
    else:
        kind = WAITING  # never sent, or a temporary error that is retried
    messages = [message_of(e) for e in (row.log_entries or []) if isinstance(e, dict)]
    if row.failed:
        messages.append(
            Message("Skolverket gick inte att nå på flera dagar. Jouren kan skicka om.", "", "", "Error")
        )
    return Answer(
        kind=kind,
        at=row.sent_at,
        answered_at=row.answered_at,
        messages=messages,
        change_waiting=row.dirty and row.status in ACCEPTED,
    )


def push_chosen(*, session: Session) -> bool:
    """Whether push is the transfer method now."""
    row = session.get(CentralSetting, METHOD_KEY)
    return row is not None and row.value == "push"


def shown(*, session: Session) -> bool:
    """Whether the group pages show Skolverket's push answers: the method is push, or answers exist."""
    return push_chosen(session=session) or any_answers(session=session)


def any_answers(*, session: Session) -> bool:
    """Whether Skolverket has answered anything pushed (for a page that already knows the method)."""
    return session.exec(select(PushObject.entity_id).limit(1)).first() is not None


def group_answers(group_id: str, activity_id: str, school_unit_id: str, *, session: Session) -> GroupAnswers:
    """Skolverket's answers about a group, its activity and its members, in three queries."""
    result = GroupAnswers()
    own = session.exec(
        select(PushObject).where(
            ((PushObject.resource == "Group") & (PushObject.entity_id == group_id))
            | ((PushObject.resource == "Activity") & (PushObject.entity_id == activity_id))
        )
    ).all()
    for row in own:
        if row.resource == "Group":
            result.group = answer_of(row)
        else:
            result.activity = answer_of(row)
    persons = session.exec(
        select(PushObject)
        .join(
            TestGroupMember,
            and_(
                TestGroupMember.person_id == PushObject.entity_id,
                TestGroupMember.test_group_id == group_id,
                TestGroupMember.excluded.is_(False),
            ),
        )
        .where(PushObject.resource == "Person")
    ).all()
    result.persons = {row.entity_id: answer_of(row) for row in persons}
    duties = session.exec(
        select(Duty.person_id, PushObject)
        .join(PushObject, and_(PushObject.resource == "Duty", PushObject.entity_id == Duty.id))
        .join(
            TestGroupMember,
            and_(
                TestGroupMember.person_id == Duty.person_id,
                TestGroupMember.test_group_id == group_id,
                TestGroupMember.role == "staff",
                TestGroupMember.excluded.is_(False),
            ),
        )
        .where(Duty.school_unit_id == school_unit_id)
    ).all()
    # Several duties at the unit: the worst answer shows (a refusal is never hidden).
    rank = {REFUSED: 0, WARNED: 1, WAITING: 2, SENT: 3, ACCEPTED_OK: 4, REMOVED: 5}
    for person_id, row in duties:
        answer = answer_of(row)
        if person_id not in result.duties or rank[answer.kind] < rank[result.duties[person_id].kind]:
            result.duties[person_id] = answer
    return result


def unit_summaries(group_ids: list[str], *, session: Session) -> dict[str, GroupSummary]:
    """Per test group of a unit: its own answer and how many members were refused or warned (two queries)."""
    if not group_ids:
        return {}
    summaries = {gid: GroupSummary(group=None) for gid in group_ids}
    for row in session.exec(
        select(PushObject).where(PushObject.resource == "Group", PushObject.entity_id.in_(group_ids))
    ).all():
        summaries[row.entity_id].group = answer_of(row)
    counts = session.exec(
        select(TestGroupMember.test_group_id, PushObject.status, func.count())
        .join(
            PushObject,
            and_(PushObject.resource == "Person", PushObject.entity_id == TestGroupMember.person_id),
        )
        .where(
            TestGroupMember.test_group_id.in_(group_ids),
            TestGroupMember.excluded.is_(False),
            PushObject.status.in_(("Error", "Warning")),
        )
        .group_by(TestGroupMember.test_group_id, PushObject.status)
    ).all()
    for group_id, status, count in counts:
        if status == "Error":
            summaries[group_id].refused = count
        else:
            summaries[group_id].warned = count
    return summaries
