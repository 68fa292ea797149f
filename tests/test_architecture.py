"""The layout's rules, checked on the source: no import cycles, areas free of Flask, calls go down the flow.

Every import counts, also one inside a function: a lazy import must not hide a cycle. Imports under
``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DNP = ROOT / "dnp"
# The area packages in the order of the data flow. An area may import any module of a later area
# (call it) and only the models of an earlier one (read them): never call back up the flow.
FLOW = ("demo", "register", "groups", "publication", "ss12000", "delivery", "connection", "auth", "audit")
# What an area package must never import: the web layer and the job entry points.
WEB_AND_JOBS = ("flask", "flask_login", "flask_wtf", "htmx_flask", "werkzeug", "dnp.routes", "dnp.jobs",
                "dnp.web", "dnp.login", "dnp.db", "dnp.extensions", "dnp.request_limits")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in DNP.rglob("*.py")}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str) -> set[str]:
    """Every module that ``module`` imports (dnp modules resolved to the module, others by top name)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], base]).strip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


GRAPH = {module: {name for name in imports_of(module) if name in MODULES} for module in MODULES}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for name in sorted(GRAPH[module]):
            if state.get(name) == 1:
                return stack[stack.index(name) :] + [name]
            if name not in state and (found := visit(name)):
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(MODULES):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle_among_dnp_modules():
    assert _cycle() is None


def _area(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOW else None


AREA_MODULES = sorted(module for module in MODULES if _area(module))


@pytest.mark.parametrize("module", AREA_MODULES)
def test_an_area_imports_neither_flask_nor_routes_nor_jobs(module):
    wrong = {
        name
        for name in imports_of(module)
        if any(name == bad or name.startswith(bad + ".") for bad in WEB_AND_JOBS)
    }
    assert wrong == set()


@pytest.mark.parametrize("module", AREA_MODULES)
def test_an_area_calls_only_later_areas_and_reads_earlier_models(module):
    area = _area(module)
    backwards = {
        name
        for name in GRAPH[module]
        if (other := _area(name))
        and FLOW.index(other) < FLOW.index(area)
        and name != f"dnp.{other}.models"
        and name != f"dnp.{other}"
    }
    assert backwards == set()


def test_no_module_is_over_300_lines():
    long = {module: n for module, path in MODULES.items() if (n := len(path.read_text().splitlines())) > 300}
    assert long == {}


def test_the_checks_see_a_cycle_and_a_backward_call():
    """The graph is built from real imports: known edges are in it (the checks above are not vacuous)."""
    assert "dnp.publication.changes" in GRAPH["dnp.groups.changes"]
    assert "dnp.groups.sync" in GRAPH["dnp.register.ingest"]
    assert imports_of("dnp.web") & {"flask"}


def test_templates_never_query(app):
    """The views pass what a page shows: no template global or context processor of ours can reach the
    database while a template renders (filters only format what they are given)."""
    ours = [
        name
        for name, value in app.jinja_env.globals.items()
        if getattr(value, "__module__", "").startswith("dnp")
    ]
    processors = [
        f.__qualname__
        for functions in app.template_context_processors.values()
        for f in functions
        if f.__module__.startswith("dnp")
    ]
    assert ours == [] and processors == []


def test_views_leave_queries_to_the_services():
    """A view parses, checks the role, calls a service and renders: it builds no SQL of its own."""
    builders = {"select", "func", "update", "delete", "insert"}
    found = []
    for path in (DNP / "routes").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ("sqlalchemy", "sqlmodel"):
                found += [f"{path.name}: {alias.name}" for alias in node.names if alias.name in builders]
    assert found == []


def _session_parameters(module: str, source: str) -> list[str]:
    """``module:function`` for every public function or method whose session is not ``*, session``."""
    tree = ast.parse(source)
    wrong = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name.startswith("_") and node.name != "__init__":
            continue
        arguments = node.args
        for argument in arguments.posonlyargs + arguments.args + arguments.kwonlyargs:
            annotation = ast.unparse(argument.annotation) if argument.annotation else ""
            takes_session = argument.arg == "session" or annotation.split("|")[0].strip() == "Session"
            if takes_session and (argument not in arguments.kwonlyargs or argument.arg != "session"):
                wrong.append(f"{module}:{node.name}({argument.arg})")
    return wrong


def test_an_area_takes_the_session_by_keyword_only():
    """``f(..., *, session)``: a call reads ``session=`` and cannot pass the session in the wrong place."""
    wrong = [
        name
        for module in AREA_MODULES
        for name in _session_parameters(module, MODULES[module].read_text(encoding="utf-8"))
    ]
    assert wrong == []


def test_the_session_check_sees_a_positional_or_misnamed_session():
    """The check is not vacuous: a positional or misnamed session is found, private helpers are not."""
    source = """
def first(session: Session, actor: str): ...
def renamed(actor: str, *, db: Session): ...
def right(actor: str, *, session: Session): ...
def _private(session, actor): ...
class Writer:
    def __init__(self, session: Session): ...
"""
    assert _session_parameters("m", source) == ["m:first(session)", "m:renamed(db)", "m:__init__(session)"]
