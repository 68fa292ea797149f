"""The test group editor: every change re-renders the editor in place (HTMX)."""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from dnp.auth.models import Role
from dnp.db import get_session
from dnp.delivery.push import answers
from dnp.groups import candidates
from dnp.groups import changes
from dnp.groups.candidates import search_pupils
from dnp.groups.candidates import unit_staff
from dnp.groups.editor_view import editor_context
from dnp.groups.models import MemberRole
from dnp.login import require_role
from dnp.routes.groups import bp
from dnp.web import is_htmx
from dnp.web import render

MANAGERS = (Role.CENTRAL_ADMIN, Role.UNIT_ADMIN)


def _group(group_id: str):
    group = changes.visible_group(current_user.access, group_id, session=get_session())
    if group is None:
        abort(404)
    return group


def _push_answers(group) -> dict:
    """Skolverket's answers about the group and each member, when the method is push (or answers exist)."""
    session = get_session()
    push_method = answers.push_chosen(session=session)
    if not push_method and not answers.any_answers(session=session):  # answers.shown, the method read once
        return {"push_answers": None, "push_method": False}
    found = answers.group_answers(group.id, group.activity_id, group.school_unit_id, session=session)
    return {"push_answers": found, "push_method": push_method}


def _editor(
    group, message: str | None = None, error: str | None = None, status: int = 200, focus=None, highlight=None
):
    context = editor_context(group, session=get_session())
    return render(
        "groups/edit.html",
        block="editor",
        status=status,
        message=message,
        error=error,
        focus=focus,
        highlight=highlight,
        **context,
        **_push_answers(group),
    )


@bp.get("/<group_id>")
@require_role(*MANAGERS)
def edit(group_id: str):
    """The editor: name, status, validation, pupils and staff."""
    return _editor(_group(group_id))


def _apply(group_id: str, change, message: str, focus: str | None = None, highlight: str | None = None):
    """Run one change, commit, and re-render; a refused change shows why in place (422).

    ``focus`` is the id of the field that gets the keyboard focus back (the search the change came from);
    ``highlight`` the person just added, whose folded class opens so the new row shows.
    """
    group = _group(group_id)
    db = get_session()
    try:
        result = change(db, group)
    except changes.GroupError as error:
        db.rollback()
        return _editor(_group(group_id), error=str(error), status=422)
    except LookupError:
        abort(404)
    db.commit()
    if not is_htmx():  # a plain form post (no JavaScript): back to the editor page
        flash(message.format(result=result), "success")
        return redirect(url_for("groups.edit", group_id=group_id), code=303)
    return _editor(group, message=message.format(result=result), focus=focus, highlight=highlight)


@bp.post("/<group_id>/namn")
@require_role(*MANAGERS)
def rename(group_id: str):
    """Rename the group."""
    name = request.form.get("name", "")
    return _apply(
        group_id, lambda db, g: changes.rename(current_user.eppn, g, name, session=db), "Namnet är ändrat."
    )


def _person_in_unit(group, person_id: str):
    if candidates.unit_person(group.school_unit_id, person_id, session=get_session()) is None:
        abort(404)


@bp.post("/<group_id>/elever")
@require_role(*MANAGERS)
def add_pupil(group_id: str):
    """Add one pupil (chosen from the search)."""
    person_id = request.form.get("person_id", "")
    _person_in_unit(_group(group_id), person_id)
    return _apply(
        group_id,
        lambda db, g: changes.add_pupil(current_user.eppn, g, person_id, session=db),
        "Eleven är tillagd.",
        focus="pupil-search",
        highlight=person_id,
    )


@bp.post("/<group_id>/elever/klass")
@require_role(*MANAGERS)
def add_class(group_id: str):
    """Add every pupil of another class or teaching group."""
    class_id = request.form.get("register_group_id", "")
    return _apply(
        group_id,
        lambda db, g: changes.add_class(current_user.eppn, g, class_id, session=db),
        "{result} elever lades till från klassen.",
    )


@bp.post("/<group_id>/elever/<person_id>/ta-bort")
@require_role(*MANAGERS)
def remove_pupil(group_id: str, person_id: str):
    """Remove a pupil."""
    return _apply(
        group_id,
        lambda db, g: changes.remove_member(current_user.eppn, g, person_id, MemberRole.PUPIL, session=db),
        "Eleven är borttagen ur gruppen.",
    )


@bp.post("/<group_id>/personal")
@require_role(*MANAGERS)
def add_staff(group_id: str):
    """Add a member of staff with a duty at the unit."""
    person_id = request.form.get("person_id", "")
    _person_in_unit(_group(group_id), person_id)
    return _apply(
        group_id,
        lambda db, g: changes.add_staff(current_user.eppn, g, person_id, session=db),
        "Personal är tillagd.",
        focus="staff-search",
    )


@bp.post("/<group_id>/personal/<person_id>/ta-bort")
@require_role(*MANAGERS)
def remove_staff(group_id: str, person_id: str):
    """Remove a member of staff."""
    return _apply(
        group_id,
        lambda db, g: changes.remove_member(current_user.eppn, g, person_id, MemberRole.STAFF, session=db),
        "Personal är borttagen ur gruppen.",
    )


@bp.post("/<group_id>/folj")
@require_role(*MANAGERS)
def set_following(group_id: str):
    """Follow the source classes, or keep a fixed list."""
    follow = request.form.get("follow") == "1"
    text = "Gruppen följer nu klasserna i registret." if follow else "Gruppen har nu en fast elevlista."
    return _apply(
        group_id, lambda db, g: changes.set_following(current_user.eppn, g, follow, session=db), text
    )


@bp.get("/<group_id>/sok-elever")
@require_role(*MANAGERS)
def search(group_id: str):
    """Search-as-you-type for pupils at the unit (name, class, EPPN)."""
    group = _group(group_id)
    query = request.args.get("q", "")
    results = search_pupils(group.school_unit_id, query, session=get_session())
    return render("groups/_search_results.html", group=group, results=results, query=query)


@bp.get("/<group_id>/sok-personal")
@require_role(*MANAGERS)
def search_staff(group_id: str):
    """The unit's staff, filtered by name or EPPN."""
    group = _group(group_id)
    staff = unit_staff(group.school_unit_id, request.args.get("q", ""), session=get_session())[:30]
    return render("groups/_staff_results.html", group=group, staff=staff)


@bp.get("/<group_id>/klar")
@require_role(*MANAGERS)
def confirm_ready(group_id: str):
    """What Skolverket will receive, before marking the group ready."""
    context = editor_context(_group(group_id), session=get_session())
    return render("groups/confirm_ready.html", block="confirm", inline=is_htmx(), **context)


def _apply_status(group_id: str, change, message: str):
    """A status change (ready, withdrawn): members and validation stay as they were, so the editor's
    read model is gathered once, before the change, and re-rendered with the new status (a whole year
    group would otherwise be loaded and validated three times in one request)."""
    group = _group(group_id)
    db = get_session()
    context = editor_context(group, session=db)
    try:
        change(db, group, context["issues"])
    except changes.GroupError as error:
        db.rollback()
        return _editor(_group(group_id), error=str(error), status=422)
    db.commit()
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("groups.edit", group_id=group_id), code=303)
    return render(
        "groups/edit.html",
        block="editor",
        message=message,
        error=None,
        focus=None,
        highlight=None,
        **context,
        **_push_answers(group),
    )


@bp.post("/<group_id>/klar")
@require_role(*MANAGERS)
def mark_ready(group_id: str):
    """Mark the group ready: Skolverket may fetch it from now on."""
    return _apply_status(
        group_id,
        lambda db, g, issues: changes.mark_ready(current_user.eppn, g, issues, session=db),
        "Gruppen är klar att skicka. Skolverket hämtar den och får ändringar automatiskt.",
    )


@bp.post("/<group_id>/dra-tillbaka")
@require_role(*MANAGERS)
def withdraw(group_id: str):
    """Withdraw a ready group: it is removed from Skolverket."""
    return _apply_status(
        group_id,
        lambda db, g, issues: changes.withdraw(current_user.eppn, g, session=db),
        "Gruppen är tillbakadragen och tas bort hos Skolverket.",
    )


@bp.post("/<group_id>/ta-bort")
@require_role(*MANAGERS)
def delete(group_id: str):
    """Delete a draft group."""
    group = _group(group_id)
    db = get_session()
    unit_id = group.school_unit_id
    try:
        changes.delete_draft(current_user.eppn, group, session=db)
    except changes.GroupError as error:
        db.rollback()
        return _editor(_group(group_id), error=str(error), status=422)
    db.commit()
    flash("Utkastet är borttaget.", "success")
    return redirect(url_for("groups.unit", unit_id=unit_id), code=303)
