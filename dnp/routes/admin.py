"""Central administration: access management and the audit log."""

from __future__ import annotations

from datetime import date

from flask import Blueprint
from flask import abort
from flask import request
from flask_login import current_user

from dnp.audit.search import ACTION_NAMES
from dnp.audit.search import ENTITY_NAMES
from dnp.audit.search import PAGE_SIZE
from dnp.audit.search import AuditFilter
from dnp.audit.search import known_values
from dnp.audit.search import search_audit
from dnp.auth import roles as access
from dnp.common.request_input import page_number
from dnp.common.wording import counted
from dnp.db import get_session
from dnp.login import require_role
from dnp.register.stats import school_units
from dnp.web import render

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _units(db):
    return school_units(session=db)


def _access_page(db, status=200, error=None, form=None, message=None):
    return render(
        "admin/access.html",
        block="grants_panel",
        status=status,
        grants=access.list_grants(session=db),
        units=_units(db),
        role_names=access.ROLE_NAMES,
        error=error,
        form=form or {},
        message=message,
    )


@bp.get("/access")
@require_role("central_admin")
def access_page():
    """Who has which role, and the form to grant more."""
    return _access_page(get_session())


@bp.get("/access/people")
@require_role("central_admin")
def people():
    """Search-as-you-type for persons to grant a role to (by EPPN or name)."""
    query = request.args.get("eppn", "")
    return render("admin/_people.html", people=access.find_people(query, session=get_session()), query=query)


@bp.post("/access/grants")
@require_role("central_admin")
def grant():
    """Grant a role to an EPPN (school-unit administrators: for the chosen units)."""
    db = get_session()
    form = {
        "eppn": request.form.get("eppn", ""),
        "role": request.form.get("role", ""),
        "unit_ids": request.form.getlist("unit_ids"),
    }
    try:
        added = access.grant_role(current_user.eppn, form["eppn"], form["role"], form["unit_ids"], session=db)
    except access.AccessError as error:
        db.rollback()
        return _access_page(db, status=422, error=str(error), form=form)
    db.commit()
    message = (
        f"{counted(added, 'ny behörighet', 'nya behörigheter')} gavs till {form['eppn'].strip()}."
        if added
        else "Behörigheten fanns redan."
    )
    return _access_page(db, message=message)


@bp.post("/access/grants/<int:grant_id>/revoke")
@require_role("central_admin")
def revoke(grant_id: int):
    """Take a role away."""
    db = get_session()
    try:
        revoked = access.revoke_grant(current_user.eppn, grant_id, session=db)
    except LookupError:
        abort(404)
    except access.AccessError as error:
        db.rollback()
        return _access_page(db, error=str(error))
    db.commit()
    return _access_page(db, message=f"Behörigheten togs bort från {revoked.eppn}.")


def _date(name: str) -> date | None:
    """A date filter; None (no filter) when it is not a date or is too far out to be a day's bound."""
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if date.min < day < date.max else None


@bp.get("/audit")
@require_role("central_admin")
def audit():
    """The audit log, filtered and paged; the table alone for HTMX."""
    db = get_session()
    wanted = AuditFilter(
        actor=request.args.get("actor", "").strip(),
        action=request.args.get("action", ""),
        entity_type=request.args.get("entity_type", ""),
        entity_id=request.args.get("entity_id", "").strip(),
        since=_date("since"),
        until=_date("until"),
        page=page_number(request.args.get("page")),
    )
    events, total = search_audit(wanted, session=db)
    actions, types = known_values(session=db)
    return render(
        "admin/audit.html",
        block="audit_results",
        events=events,
        total=total,
        wanted=wanted,
        actions=actions,
        types=types,
        action_names=ACTION_NAMES,
        entity_names=ENTITY_NAMES,
        pages=max(1, -(-total // PAGE_SIZE)),
    )
