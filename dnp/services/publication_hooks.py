"""Where test group and register changes tell the publication that something may have changed.

The publication (SS 12000 snapshot) subscribes here; until it does these are no-ops, so the
group editor does not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

_group_listeners: list[Callable[[Session, str], None]] = []
_person_listeners: list[Callable[[Session, list[str]], None]] = []
_duty_listeners: list[Callable[[Session, list[str]], None]] = []
_organisation_listeners: list[Callable[[Session, list[str]], None]] = []


def on_group_changed(listener: Callable[[Session, str], None]) -> None:
    """Register a listener for changes to one test group (id)."""
    _group_listeners.append(listener)


def on_persons_changed(listener: Callable[[Session, list[str]], None]) -> None:
    """Register a listener for register changes to persons (ids)."""
    _person_listeners.append(listener)


def on_duties_changed(listener: Callable[[Session, list[str]], None]) -> None:
    """Register a listener for register changes to duties (ids; deleted ones included)."""
    _duty_listeners.append(listener)


def on_organisations_changed(listener: Callable[[Session, list[str]], None]) -> None:
    """Register a listener for register changes to organisations (register ids)."""
    _organisation_listeners.append(listener)


def group_changed(session: Session, group_id: str) -> None:
    """A test group changed (members, name, status, or it was deleted)."""
    for listener in _group_listeners:
        listener(session, group_id)


def persons_changed(session: Session, person_ids: list[str]) -> None:
    """The register changed these persons (data, enrolments, duties or deletion)."""
    if person_ids:
        for listener in _person_listeners:
            listener(session, person_ids)


def duties_changed(session: Session, duty_ids: list[str]) -> None:
    """The register created, changed or deleted these duties."""
    if duty_ids:
        for listener in _duty_listeners:
            listener(session, duty_ids)


def organisations_changed(session: Session, organisation_ids: list[str]) -> None:
    """The register created or changed these organisations (name, school unit code…)."""
    if organisation_ids:
        for listener in _organisation_listeners:
            listener(session, organisation_ids)
