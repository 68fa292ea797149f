"""Creating, following, editing and readying test groups."""

from __future__ import annotations

import pytest
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.auth.roles import Access
from dnp.groups import bulk
from dnp.groups import changes
from dnp.groups.facts import validate
from dnp.groups.models import TestGroupMember
from tests import factories
from tests.groups_fixtures import MA9
from tests.groups_fixtures import MATMAT
from tests.helpers import send

ADMIN = "admin@kommun.se"


def rights(world) -> Access:
    return Access(eppn=ADMIN, unit_ids=frozenset({world.unit["id"]}))


def pupils(db, group) -> set[str]:
    rows = db.exec(
        select(TestGroupMember.person_id).where(
            TestGroupMember.test_group_id == group.id,
            TestGroupMember.role == "pupil",
            TestGroupMember.excluded.is_(False),
        )
    ).all()
    return set(rows)


def create(db, world, sources=None, **kw):
    sources = [world.class_a["id"], world.class_b["id"]] if sources is None else sources
    group = changes.create_group(
        ADMIN, rights(world), world.unit["id"], MA9, "VT 2027", kw.pop("name", ""), sources, **kw, session=db
    )
    db.commit()
    return group


def test_create_from_two_classes_merges_duplicates_and_names_itself(db, world):
    group = create(db, world)
    expected = {p["id"] for p in world.pupils_a + world.pupils_b + [world.shared]}
    assert pupils(db, group) == expected
    assert group.display_name == "MA åk 9 9A + 9B"
    assert group.follows_register
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "group.created")).one().actor == ADMIN


def test_only_own_units_and_fitting_tests(db, world):
    with pytest.raises(LookupError):
        changes.create_group(
            ADMIN, rights(world), world.other_unit["id"], MA9, "VT 2027", "x", [], session=db
        )
    with pytest.raises(changes.GroupError, match="skolform"):
        changes.create_group(ADMIN, rights(world), world.unit["id"], MATMAT, "VT 2027", "x", [], session=db)
    with pytest.raises(changes.GroupError, match="klasserna"):
        changes.create_group(
            ADMIN,
            rights(world),
            world.unit["id"],
            MA9,
            "VT 2027",
            "x",
            [world.class_a["id"], factories.organisation()["id"]],
            session=db,
        )
    with pytest.raises(changes.GroupError, match="termin"):
        changes.create_group(ADMIN, rights(world), world.unit["id"], MA9, "sommar", "x", [], session=db)


def test_following_group_tracks_the_register_but_keeps_hand_made_changes(client, db, world):
    group = create(db, world, sources=[world.class_a["id"]])
    leaver = world.pupils_a[0]
    removed_by_hand = world.pupils_a[1]
    added_by_hand = world.pupils_b[0]
    changes.remove_member(ADMIN, group, removed_by_hand["id"], "pupil", session=db)
    changes.add_pupil(ADMIN, group, added_by_hand["id"], session=db)
    db.commit()
    newcomer = factories.person(world.unit["id"])
    send(client, "PUT", "persons", [newcomer])
    members = [p["id"] for p in world.pupils_a[1:]] + [world.shared["id"], newcomer["id"]]
    changed = {**world.class_a, "groupMemberships": [{"person": {"id": m}} for m in members]}
    assert send(client, "PUT", "groups", [changed]).status_code == 201
    db.expire_all()
    now = pupils(db, group)
    assert newcomer["id"] in now  # joined the class → joined the group
    assert leaver["id"] not in now  # left the class → left the group
    assert removed_by_hand["id"] not in now  # removed by hand stays removed
    assert added_by_hand["id"] in now  # added by hand stays
    actions = {(e.actor, e.action) for e in db.exec(select(AuditEvent)).all()}
    assert ("register", "group.pupil_joined") in actions
    assert ("register", "group.pupil_left") in actions


def test_fixed_list_does_not_follow(client, db, world):
    group = create(db, world, sources=[world.class_a["id"]])
    changes.set_following(ADMIN, group, False, session=db)
    db.commit()
    changed = {**world.class_a, "groupMemberships": []}
    send(client, "PUT", "groups", [changed])
    db.expire_all()
    assert len(pupils(db, group)) == 4


def test_deleting_a_followed_class_empties_it_from_the_group(client, db, world):
    group = create(db, world, sources=[world.class_a["id"]])
    assert send(client, "DELETE", "groups", [{"id": world.class_a["id"]}]).status_code == 202
    db.expire_all()
    assert pupils(db, group) == set()


def test_person_deleted_in_register_leaves_every_test_group(client, db, world):
    group = create(db, world)
    changes.add_staff(ADMIN, group, world.teacher["id"], session=db)
    db.commit()
    send(client, "DELETE", "persons", [{"id": world.shared["id"]}, {"id": world.teacher["id"]}])
    db.expire_all()
    assert world.shared["id"] not in pupils(db, group)
    assert db.exec(select(TestGroupMember).where(TestGroupMember.role == "staff")).first() is None


def test_add_pupil_and_staff_must_belong_to_the_unit(db, world):
    group = create(db, world, sources=[])
    with pytest.raises(changes.GroupError, match="inskriven"):
        changes.add_pupil(ADMIN, group, world.other_pupil["id"], session=db)
    with pytest.raises(changes.GroupError, match="tjänstgöring"):
        changes.add_staff(ADMIN, group, world.pupils_a[0]["id"], session=db)
    with pytest.raises(changes.GroupError, match="Klassen"):
        changes.add_class(ADMIN, group, factories.organisation()["id"], session=db)
    assert changes.add_class(ADMIN, group, world.class_b["id"], session=db) == 3


def test_ready_needs_no_errors_then_withdraw(db, world):
    group = create(db, world, sources=[])
    with pytest.raises(changes.GroupError, match="fel"):
        changes.mark_ready(ADMIN, group, session=db)  # no pupils
    changes.add_pupil(ADMIN, group, world.pupils_a[0]["id"], session=db)
    changes.add_staff(ADMIN, group, world.teacher["id"], session=db)
    assert [i for i in validate(group, session=db) if i.blocking] == []
    changes.mark_ready(ADMIN, group, session=db)
    assert group.status == "ready" and group.ready_at is not None
    changes.withdraw(ADMIN, group, session=db)
    assert group.status == "withdrawn"
    with pytest.raises(changes.GroupError):
        changes.withdraw(ADMIN, group, session=db)


def test_ready_all_skips_groups_with_errors_and_close_occasion_withdraws(db, world):
    good = create(db, world, sources=[world.class_a["id"]], name="Bra")
    create(db, world, sources=[], name="Tom")
    done, skipped = bulk.ready_all(ADMIN, rights(world), world.unit["id"], good.occasion_id, session=db)
    db.commit()
    assert (done, skipped) == (1, 1)
    assert bulk.close_occasion(ADMIN, good.occasion_id, session=db) == 1
    db.commit()
    db.refresh(good)
    assert good.status == "withdrawn"
    with pytest.raises(changes.GroupError, match="stängt"):
        create(db, world)


def test_ready_all_leaves_withdrawn_groups_withdrawn(db, world):
    withdrawn = create(db, world, sources=[world.class_a["id"]], name="Dragen")
    changes.mark_ready(ADMIN, withdrawn, session=db)
    changes.withdraw(ADMIN, withdrawn, session=db)
    draft = create(db, world, sources=[world.class_b["id"]], name="Utkast")
    done, skipped = bulk.ready_all(ADMIN, rights(world), world.unit["id"], draft.occasion_id, session=db)
    db.commit()
    assert (done, skipped) == (1, 0)
    db.refresh(withdrawn)
    db.refresh(draft)
    assert (withdrawn.status, draft.status) == ("withdrawn", "ready")


def test_rename_and_delete_draft(db, world):
    group = create(db, world)
    with pytest.raises(changes.GroupError):
        changes.rename(ADMIN, group, "   ", session=db)
    with pytest.raises(changes.GroupError):
        changes.rename(ADMIN, group, "x" * 200, session=db)
    changes.rename(ADMIN, group, "  Ny   grupp ", session=db)
    assert group.display_name == "Ny grupp"
    changes.delete_draft(ADMIN, group, session=db)
    db.commit()
    assert changes.visible_group(rights(world), group.id, session=db) is None


def test_visible_group_hides_other_units(db, world):
    group = create(db, world)
    stranger = Access(eppn="x@y.se", unit_ids=frozenset({world.other_unit["id"]}))
    assert changes.visible_group(stranger, group.id, session=db) is None
    assert changes.visible_group(Access(eppn="c@y.se", central_admin=True), group.id, session=db) is not None
