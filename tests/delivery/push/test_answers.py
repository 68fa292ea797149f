"""The read model of Skolverket's answers for the group pages, and the role checks of the push actions."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from dnp.auth.roles import Access
from dnp.delivery.push import actions
from dnp.delivery.push import answers
from dnp.delivery.push.method import transfer_method
from dnp.delivery.push.models import PushObject
from dnp.groups import changes
from tests.delivery.push.conftest import ADMIN
from tests.groups_fixtures import MA9


class _Statements:
    """Counts the SQL statements an engine runs while open."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.count = 0

    def _seen(self, *args) -> None:
        self.count += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc_info) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def test_answers_for_a_group_and_each_member_after_a_push(push_env):
    env = push_env
    refused = env.world.pupils_a[0]["id"]
    env.api.refuse[refused] = ("3011", "civicNo.value", "Personnumret är ogiltigt.")
    env.api.warn[env.world.pupils_a[1]["id"]] = ("3047", "eppn", "EPPN innehåller namnbokstäver.")
    env.switch_to_push()
    env.settle()
    group = env.group()
    with env.session() as session:
        found = answers.group_answers(group.id, group.activity_id, group.school_unit_id, session=session)
        assert answers.shown(session=session) and answers.push_chosen(session=session)
    assert found.group.kind == answers.ACCEPTED_OK and found.group.at is not None
    assert found.activity.kind == answers.ACCEPTED_OK
    assert found.persons[refused].kind == answers.REFUSED
    (message,) = found.persons[refused].messages
    assert (message.attribute, message.code, message.error) == ("Personnummer", "3011", True)
    warned = found.persons[env.world.pupils_a[1]["id"]]
    assert warned.kind == answers.WARNED and "bokstäver ur namnet" in warned.messages[0].text
    teacher = env.world.teacher["id"]
    assert [a.kind for a in found.for_member(teacher)] == [answers.ACCEPTED_OK, answers.ACCEPTED_OK]
    assert [what for what, _ in found.member_answers(teacher)] == ["Personen", "Tjänstgöringen"]
    assert [what for what, _ in found.member_answers(refused)] == [""]
    assert (found.refused, found.warned) == (1, 1)
    with env.session() as session:
        summary = answers.unit_summaries([group.id], session=session)[group.id]
    assert (summary.group.kind, summary.refused, summary.warned) == (answers.ACCEPTED_OK, 1, 1)


def test_a_bigger_group_costs_the_same_three_queries(push_env):
    env = push_env
    env.switch_to_push()
    env.settle()
    small = env.group()
    with env.session() as session:
        big = changes.create_group(
            ADMIN.eppn,
            ADMIN,
            env.world.unit["id"],
            MA9,
            "VT 2027",
            "MA åk 9 alla",
            [env.world.class_a["id"], env.world.class_b["id"]],
            session=session,
        )
        changes.mark_ready(ADMIN.eppn, big, session=session)
        session.commit()
        big_id = big.id
    env.settle()
    engine = env.app.extensions["dnp.engine"]
    counts = []
    for group_id in (small.id, big_id):
        with env.session() as session:
            group = changes.visible_group(ADMIN, group_id, session=session)
            with _Statements(engine) as statements:
                found = answers.group_answers(
                    group_id, group.activity_id, group.school_unit_id, session=session
                )
            counts.append((statements.count, len(found.persons)))
    assert counts[0][0] == counts[1][0] == 3
    assert counts[1][1] > counts[0][1]


def test_answer_states_in_words():
    def state(**fields) -> str:
        row = PushObject(resource="Person", entity_id="x", **fields)
        return answers.answer_of(row).name

    assert state(status="Success") == "Godkänd"
    assert state(status="Warning") == "Godkänd med varning"
    assert state(status="Error") == "Avvisad"
    assert state(status="Pending", batch_id=1) == "Skickad"
    assert state(status="", dirty=True) == "Väntar"
    assert state(status="TemporaryError", dirty=True) == "Väntar"
    failed = answers.answer_of(
        PushObject(resource="Person", entity_id="x", status="TemporaryError", failed=True)
    )
    assert "Jouren kan skicka om" in failed.messages[-1].text
    waiting = answers.answer_of(PushObject(resource="Person", entity_id="x", status="Success", dirty=True))
    assert waiting.change_waiting


def test_skolverkets_messages_in_plain_words():
    message = answers.message_of(
        {
            "id": "3047",
            "attributeName": "eppn",
            "message": "EPPN innehåller namnbokstäver.",
            "severityLevel": "Warning",
        }
    )
    assert message.attribute == "EPPN" and "bokstäver ur namnet" in message.text and not message.error
    odd = answers.message_of({"id": "9" * 50, "attributeName": "<b>x</b>", "message": "y" * 5000})
    assert (len(odd.code), odd.attribute, len(odd.text)) == (12, "<b>x</b>", 500)
    assert answers.message_of({}).text == "Skolverket angav ingen förklaring."


@pytest.mark.parametrize(
    "rights",
    [
        Access(eppn="drift@kommun.se", operator=True),
        Access(eppn="enhet@kommun.se", unit_ids=frozenset({"u1"})),
    ],
)
def test_only_central_administrators_switch_or_test_in_the_service(push_env, rights):
    env = push_env
    with env.session() as session:
        with pytest.raises(actions.NotAllowed):
            actions.choose_method(rights, "push", session=session)
        with pytest.raises(actions.NotAllowed):
            actions.test_push_connection(env.app.config, rights, session=session)
        assert transfer_method(session=session) == "pull"
    assert env.api.alive_calls == 0


@pytest.mark.parametrize(
    "rights",
    [ADMIN, Access(eppn="enhet@kommun.se", unit_ids=frozenset({"u1"}))],
)
def test_only_operators_resend_in_the_service(push_env, rights):
    env = push_env
    env.switch_to_push()
    env.settle()
    with env.session() as session:
        with pytest.raises(actions.NotAllowed):
            actions.resend_failed(rights, session=session)
        with pytest.raises(actions.NotAllowed):
            actions.resend_object(rights, "Group", env.group_id, session=session)
        with pytest.raises(actions.NotAllowed):
            actions.resend_group(rights, env.group_id, session=session)
    assert not env.objects("Group")[env.group_id].dirty


def test_a_withdrawn_group_has_no_answers_left_and_a_refused_group_is_listed(push_env):
    env = push_env
    env.switch_to_push()
    env.settle()
    with env.session() as session:
        group = changes.visible_group(ADMIN, env.group_id, session=session)
        changes.withdraw(ADMIN.eppn, group, session=session)
        session.commit()
    env.settle()
    with env.session() as session:
        found = answers.group_answers(group.id, group.activity_id, group.school_unit_id, session=session)
    assert found.group is None and found.persons == {}  # Skolverket holds nothing of it: no answer to show
    assert found.own_refusals == []
    deleted = PushObject(resource="Group", entity_id="x", status="Success", sent_action="delete", dirty=True)
    assert answers.answer_of(deleted).name == "Borttagen hos Skolverket"
    refused = answers.GroupAnswers(group=answers.Answer(kind=answers.REFUSED, at=None, answered_at=None))
    assert [what for what, _ in refused.own_refusals] == ["Provgruppen"]
