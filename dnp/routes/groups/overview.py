"""Overview per unit, totals for central administrators, creating groups, occasions, tasks."""

from __future__ import annotations

from datetime import date

from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from dnp import jobs
from dnp.auth.models import Role
from dnp.common.wording import counted
from dnp.db import get_session
from dnp.delivery.push import answers
from dnp.groups import bulk as bulk_groups
from dnp.groups import candidates
from dnp.groups import changes
from dnp.groups import overview
from dnp.groups.catalog import catalog_summary
from dnp.groups.models import BackgroundTask
from dnp.groups.models import TaskKind
from dnp.groups.models import TaskStatus
from dnp.groups.models import TestActivity
from dnp.groups.tasks import start_task
from dnp.groups.terms import term_has_ended
from dnp.groups.terms import upcoming_terms
from dnp.login import require_role
from dnp.login import require_unit
from dnp.register.models import Organisation
from dnp.register.models import OrganisationType
from dnp.routes.groups import bp
from dnp.web import htmx_redirect
from dnp.web import is_htmx
from dnp.web import render

MANAGERS = (Role.CENTRAL_ADMIN, Role.UNIT_ADMIN)


def _unit(unit_id: str) -> Organisation:
    require_unit(unit_id)
    unit = get_session().get(Organisation, unit_id)
    if unit is None or unit.organisation_type != OrganisationType.SKOLENHET:
        abort(404)
    return unit


@bp.get("/")
@require_role(*MANAGERS)
def index():
    """Central administrators: all units with totals. Others: their unit(s)."""
    db = get_session()
    units = overview.manageable_units(current_user.access, session=db)
    if not current_user.access.central_admin and len(units) == 1:
        return redirect(url_for("groups.unit", unit_id=units[0].id))
    totals = overview.central_totals(session=db)
    if not current_user.access.central_admin:
        totals = [row for row in totals if row["unit"].id in current_user.access.unit_ids]
    size, source = catalog_summary(session=db)
    return render("groups/index.html", totals=totals, catalog_size=size, catalog_source=source)


@bp.get("/enheter/<unit_id>")
@require_role(*MANAGERS)
def unit(unit_id: str):
    """A school unit's occasions and test groups with status, counts and problems."""
    school_unit = _unit(unit_id)
    session = get_session()
    occasions = overview.unit_overview(unit_id, session=session)
    today = date.today()
    push_groups = None
    push_method = answers.push_chosen(session=session)
    if push_method or answers.any_answers(session=session):  # answers.shown, the method read once
        group_ids = [row.group.id for item in occasions for row in item.groups]
        push_groups = answers.unit_summaries(group_ids, session=session)
    return render(
        "groups/unit.html",
        unit=school_unit,
        occasions=occasions,
        push_groups=push_groups,
        push_method=push_method,
        status_names=overview.STATUS_NAMES,
        ended={o.occasion.id: term_has_ended(o.occasion.term, today) for o in occasions},
    )


def _new_form(school_unit: Organisation, form: dict, error: str | None = None, status: int = 200):
    db = get_session()
    activities = candidates.unit_activities(school_unit, session=db)
    activity = db.get(TestActivity, form.get("activity_id") or "")
    chosen = form.get("register_group_ids", [])
    return render(
        "groups/new.html",
        block="new_form" if status == 422 else None,
        status=status,
        unit=school_unit,
        activities=activities,
        terms=upcoming_terms(date.today()),
        classes=candidates.unit_classes(school_unit.id, session=db),
        form=form,
        error=error,
        candidates=candidates.preview(school_unit.id, chosen, activity, session=db) if chosen else [],
    )


def _form() -> dict:
    return {
        "activity_id": request.form.get("activity_id", request.args.get("activity_id", "")),
        "term": request.form.get("term", request.args.get("term", "")),
        "name": request.form.get("name", ""),
        "register_group_ids": request.form.getlist("register_group_ids"),
        "follow": request.form.get("follow", "1" if request.method == "GET" else "") == "1",
    }


@bp.get("/enheter/<unit_id>/ny")
@require_role(*MANAGERS)
def new(unit_id: str):
    """Form for a new group: test, term, classes to build from, with a live preview."""
    return _new_form(_unit(unit_id), _form())


@bp.post("/enheter/<unit_id>/forhandsvisning")
@require_role(*MANAGERS)
def preview(unit_id: str):
    """The merged pupil list for the chosen classes (HTMX fragment)."""
    school_unit = _unit(unit_id)
    db = get_session()
    form = _form()
    activity = db.get(TestActivity, form["activity_id"] or "")
    pupils = candidates.preview(school_unit.id, form["register_group_ids"], activity, session=db)
    return render("groups/_preview.html", candidates=pupils, activity=activity)


@bp.post("/enheter/<unit_id>/ny")
@require_role(*MANAGERS)
def create(unit_id: str):
    """Create the group and open it in the editor."""
    school_unit = _unit(unit_id)
    db = get_session()
    form = _form()
    try:
        group = changes.create_group(
            current_user.eppn,
            current_user.access,
            school_unit.id,
            form["activity_id"],
            form["term"],
            form["name"],
            form["register_group_ids"],
            follow=form["follow"], session=db,
        )
    except changes.GroupError as error:
        db.rollback()
        return _new_form(school_unit, form, str(error), status=422)
    db.commit()
    target = url_for("groups.edit", group_id=group.id)
    if is_htmx():
        # A full page load: HX-Location would fetch the editor as an HTMX request and get only its fragment.
        return htmx_redirect(target)
    return redirect(target, code=303)


@bp.route("/enheter/<unit_id>/per-klass", methods=["GET", "POST"])
@require_role(*MANAGERS)
def bulk(unit_id: str):
    """One group per class of a school year for an occasion, as a background task."""
    school_unit = _unit(unit_id)
    db = get_session()
    activities = [a for a in candidates.unit_activities(school_unit, session=db) if a.school_year]
    form = {key: request.values.get(key, "") for key in ("activity_id", "term", "school_year")}
    task, error = None, None
    if request.method == "POST":
        try:
            task = bulk_groups.start_per_class(
                current_user.eppn,
                current_user.access,
                school_unit,
                form["activity_id"],
                form["term"],
                date.today(),
                session=db,
            )
        except changes.GroupError as problem:
            db.rollback()
            error = str(problem)
        else:
            db.commit()
            jobs.enqueue("dnp.jobs.tasks.run_background_task", task.id)
            db.refresh(task)
    return render(
        "groups/bulk.html",
        unit=school_unit,
        activities=activities,
        terms=upcoming_terms(date.today()),
        form=form,
        task=task,
        error=error,
        status=422 if error else 200,
    )


@bp.post("/enheter/<unit_id>/tillfallen/<int:occasion_id>/klara")
@require_role(*MANAGERS)
def ready_all(unit_id: str, occasion_id: int):
    """Mark every group of the occasion at the unit ready that has no blocking errors."""
    _unit(unit_id)
    db = get_session()
    done, skipped = bulk_groups.ready_all(
        current_user.eppn, current_user.access, unit_id, occasion_id, session=db
    )
    db.commit()
    message = f"{counted(done, 'grupp', 'grupper')} markerades som klara."
    if skipped:
        message += f" {counted(skipped, 'grupp', 'grupper')} har fel som måste rättas först."
    flash(message, "success")
    return redirect(url_for("groups.unit", unit_id=unit_id), code=303)


@bp.post("/tillfallen/<int:occasion_id>/stang")
@require_role(Role.CENTRAL_ADMIN)
def close_occasion(occasion_id: int):
    """Close an occasion after its term: its ready groups are withdrawn together."""
    db = get_session()
    try:
        withdrawn = bulk_groups.close_occasion(current_user.eppn, occasion_id, session=db)
    except LookupError:
        abort(404)
    db.commit()
    flash(f"Provtillfället är stängt. {counted(withdrawn, 'grupp', 'grupper')} drogs tillbaka.", "success")
    return redirect(url_for("groups.index"), code=303)


@bp.post("/katalog")
@require_role(Role.CENTRAL_ADMIN)
def refresh_catalog():
    """Fetch the provaktivitet catalog from Skolverket (background task with progress)."""
    db = get_session()
    task = start_task(current_user.eppn, TaskKind.CATALOG_REFRESH, session=db)
    db.commit()
    jobs.enqueue("dnp.jobs.tasks.run_background_task", task.id)
    db.refresh(task)
    return render("groups/_task.html", task=task)


@bp.get("/uppgifter/<int:task_id>")
@require_role(*MANAGERS)
def task_status(task_id: int):
    """Progress of a background task; answers 286 (stop polling) when it is finished."""
    task = get_session().get(BackgroundTask, task_id)
    if task is None or (task.created_by != current_user.eppn and not current_user.access.central_admin):
        abort(404)
    response = render("groups/_task.html", task=task)
    if task.status in (TaskStatus.DONE, TaskStatus.FAILED):
        response.status_code = 286
    return response
