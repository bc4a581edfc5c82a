"""The package's layers, read from its source: the domain (dashboard/domain) knows nothing of the web, only
dashboard/domain/engine.py talks to Docker, and the domain's errors leave HTTP statuses to the web layer."""

import ast
import re
import importlib
import inspect
from pathlib import Path

import dashboard

PACKAGE = Path(dashboard.__file__).parent
DOMAIN = PACKAGE / "domain"
WEB_FRAMEWORKS = {"flask", "werkzeug", "flask_htmx", "jinja2", "markupsafe"}


def modules(folder):
    """Every Python file below `folder`, sorted."""
    found = sorted(folder.rglob("*.py"))
    assert found, f"no modules below {folder}"
    return found


def imports(path):
    """(line, module) of every import in the file, relative ones resolved (`from ..web import x` in
    dashboard/domain/a.py is dashboard.web and dashboard.web.x: the name may be a module)."""
    package = path.parent.relative_to(PACKAGE.parent).parts
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            found += [(node.lineno, module), *((node.lineno, f"{module}.{alias.name}") for alias in node.names)]
    return found


def where(path):
    """The file's path as the checkout names it: dashboard/domain/engine.py."""
    return path.relative_to(PACKAGE.parent)


def test_the_domain_imports_no_web_framework():
    offending = [f"{where(path)}:{line} imports {name}" for path in modules(DOMAIN) for line, name in imports(path)
                 if name.split(".")[0] in WEB_FRAMEWORKS]
    assert offending == []


def test_the_seat_host_imports_no_web_framework_nor_the_web_layer():
    """dashboard/seat_host is the host's OS plumbing for seat engines (run as root, and by detached helpers)."""
    offending = [f"{where(path)}:{line} imports {name}" for path in modules(PACKAGE / "seat_host")
                 for line, name in imports(path)
                 if name.split(".")[0] in WEB_FRAMEWORKS or name == "dashboard.web" or name.startswith("dashboard.web.")]
    assert offending == []


def test_the_domain_imports_nothing_from_the_web_layer():
    offending = [f"{where(path)}:{line} imports {name}" for path in modules(DOMAIN) for line, name in imports(path)
                 if name == "dashboard.web" or name.startswith("dashboard.web.")]
    assert offending == []


def test_no_blueprint_calls_another_blueprints_views():
    """A blueprint imports no other blueprint: what two of them share lives in the web layer's helpers (views.py,
    step_views.py, seat_views.py) or in the domain."""
    blueprints = PACKAGE / "web" / "blueprints"
    names = {f"dashboard.web.blueprints.{path.stem}" for path in modules(blueprints)}
    offending = [f"{where(path)}:{line} imports {name}" for path in modules(blueprints) if path.stem != "__init__"
                 for line, name in imports(path)
                 if any(name == other or name.startswith(other + ".") for other in names - {
                     f"dashboard.web.blueprints.{path.stem}", "dashboard.web.blueprints.__init__"})]
    assert offending == []


def test_only_the_engine_module_imports_the_docker_sdk():
    engine = DOMAIN / "engine.py"
    sdk = {path: [f"{where(path)}:{line} imports {name}" for line, name in imports(path)
                  if name.split(".")[0] == "docker"]
           for path in modules(PACKAGE)}
    assert sdk.pop(engine), f"{where(engine)} no longer imports the docker SDK"
    assert [found for found_in_file in sdk.values() for found in found_in_file] == []


def test_no_domain_error_carries_an_http_status():
    errors = []
    for path in modules(DOMAIN):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        errors += [(f"{where(path)}: {cls.__name__}", cls) for _, cls in inspect.getmembers(module, inspect.isclass)
                   if issubclass(cls, BaseException) and cls.__module__ == module.__name__]
    assert "dashboard/domain/errors.py: EngineError" in dict(errors)
    assert [shown for shown, cls in errors if hasattr(cls, "status")] == []


def test_an_action_kind_is_told_apart_only_in_action_kinds():
    """An action kind is one class in dashboard/domain/action_kinds.py: code and templates elsewhere ask the kind
    (`action.definition`) what it does, never test its name, so a new kind is one class."""
    action_kind = re.compile(r"\baction\.kind\s*(==|!=|\bin\b|\bnot in\b)")
    files = [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "templates").rglob("*.html")]
    found = [f"{path.relative_to(PACKAGE.parent)}:{number}" for path in files
             if path != DOMAIN / "action_kinds.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if action_kind.search(line)]
    assert not found, f"an action kind tested by name outside action_kinds.py: {found}"
