"""The form and badge macros every page uses: CSRF on every POST form, one status-to-colour map."""

from __future__ import annotations

from pathlib import Path

IMPORT = '{% import "_macros/forms.html" as forms %}'
TEMPLATES = Path(__file__).resolve().parents[2] / "dnp" / "templates"


def _render(app, source: str, **context) -> str:
    with app.test_request_context("/"):
        return app.jinja_env.from_string(source).render(**context)


def test_post_form_carries_the_token_and_works_without_javascript(app):
    html = _render(
        app,
        IMPORT
        + '{% call forms.post_form("/x", target="#p", confirm="Ta bort " ~ name ~ "?", hidden={"id": 7}) %}'
        "<button>Ok</button>{% endcall %}",
        name='<b>"9A"</b>',
    )
    assert '<form method="post" action="/x" hx-post="/x" hx-target="#p" hx-swap="outerHTML"' in html
    assert 'name="csrf_token" value="' in html and '<input type="hidden" name="id" value="7">' in html
    assert 'hx-confirm="Ta bort &lt;b&gt;&#34;9A&#34;&lt;/b&gt;?"' in html  # names are escaped, never markup
    plain = _render(app, IMPORT + '{% call forms.post_form("/y", htmx=False) %}{% endcall %}')
    assert 'action="/y"' in plain and "hx-post" not in plain and 'name="csrf_token"' in plain


def test_remove_button_names_what_it_removes_for_screen_readers(app):
    html = _render(app, IMPORT + '{{ forms.remove_button("/r", "Ada L") }}')
    assert (
        'Ta bort<span class="visually-hidden"> Ada L</span></button>' in html and 'name="csrf_token"' in html
    )


def test_one_badge_map_for_every_status(app):
    source = '{% import "_macros/badges.html" as badges %}{{ badges.badge(status, "t") }}'
    colours = {"ready": "badge ok", "draft": "badge", "withdrawn": "badge muted", "Error": "badge err"}
    colours |= {"Warning": "badge warn", "dead": "badge err", "pending": "badge warn", "failed": "badge err"}
    for status, css in colours.items():
        assert _render(app, source, status=status) == f'<span class="{css}">t</span>'


def test_no_template_writes_its_own_csrf_field():
    """Every POST form goes through post_form, so none can forget the token."""
    hand_written = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if 'name="csrf_token"' in path.read_text() and path.parent.name != "_macros"
    ]
    assert hand_written == []
