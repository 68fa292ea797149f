"""A small register with two school units, classes, a teacher, and the demo catalog."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlmodel import Session

from dnp.groups.catalog import ensure_catalog
from dnp.register.models import skolverket_id
from tests import factories
from tests.helpers import send

MA9 = skolverket_id("MA åk 9")
MATMAT = skolverket_id("MATMAT01c")


@dataclass
class World:
    """Ids of what the register holds."""

    unit: dict
    other_unit: dict
    class_a: dict
    class_b: dict
    pupils_a: list[dict]
    pupils_b: list[dict]
    shared: dict  # a pupil in both classes
    teacher: dict
    other_pupil: dict


@pytest.fixture
def world(app, client) -> World:
    unit = factories.organisation(schoolTypes=["GR"])
    other = factories.organisation(schoolTypes=["GR"])
    send(client, "PUT", "organisations", [unit, other])
    pupils_a = [factories.person(unit["id"]) for _ in range(3)]
    pupils_b = [factories.person(unit["id"]) for _ in range(2)]
    shared = factories.person(unit["id"])
    teacher = factories.person(None, emails=[{"value": "larare@kommun.se", "type": "Skola personal"}])
    other_pupil = factories.person(other["id"])
    send(client, "PUT", "persons", pupils_a + pupils_b + [shared, teacher, other_pupil])
    send(client, "PUT", "duties", [factories.duty(teacher["id"], unit["id"])])
    class_a = factories.group(unit["id"], [p["id"] for p in pupils_a] + [shared["id"]], displayName="9A")
    class_b = factories.group(unit["id"], [p["id"] for p in pupils_b] + [shared["id"]], displayName="9B")
    other_class = factories.group(other["id"], [other_pupil["id"]], displayName="9A")
    assert send(client, "PUT", "groups", [class_a, class_b, other_class]).status_code == 201
    with Session(app.extensions["dnp.engine"]) as session:
        ensure_catalog(session=session)
        session.commit()
    return World(unit, other, class_a, class_b, pupils_a, pupils_b, shared, teacher, other_pupil)
