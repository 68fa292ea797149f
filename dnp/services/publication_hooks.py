"""Where test group and register changes tell the publication that something may have changed.

The publication (SS 12000 snapshot) subscribes here; until it does these are no-ops, so the
group editor does not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

_group_listeners: list[Callable[[Session, str], None]] = []
_person_listeners: list[Callable[[Session, list[str]], None]] = []


def on_group_changed(listener: Callable[[Session, str], None]) -> None:
    """Register a listener for changes to one test group (id)."""
    _group_listeners.append(listener)


def on_persons_changed(listener: Callable[[Session, list[str]], None]) -> None:
    """Register a listener for register changes to persons (ids)."""
    _person_listeners.append(listener)


def group_changed(session: Session, group_id: str) -> None:
    """A test group changed (members, name, status, or it was deleted)."""
    for listener in _group_listeners:
        listener(session, group_id)


def persons_changed(session: Session, person_ids: list[str]) -> None:
    """The register changed these persons (data, enrolments, duties or deletion)."""
    if person_ids:
        for listener in _person_listeners:
            listener(session, person_ids)
