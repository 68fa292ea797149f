"""The audit page: central administrators search the trail by entity and actor, as a page or a fragment."""

from __future__ import annotations

from tests import factories
from tests.helpers import send
from tests.helpers import signed_in


def test_audit_page_filters(app, client):
    units = [factories.organisation(), factories.organisation()]
    assert send(client, "PUT", "organisations", units).status_code == 201
    central = signed_in(client, app, "central@kommun.se", "central_admin")
    page = central.get("/admin/audit?entity_type=Organisation")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert units[0]["id"] in text
    fragment = central.get("/admin/audit?actor=nobody", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment
    assert "0 händelser" in fragment
