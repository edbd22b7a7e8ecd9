"""The one service template, checked on the source (pure: reads files, imports nothing).

Rules of the house (docs/runtime.md, STYLE): transports are thin and do not
import each other, `service.py` knows no HTTP or Kafka, SQL lives in
repositories, services never import each other, and every `consumers.py`
is a module-level `EventRouter` with module-level handlers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p for p in (ROOT / "services").iterdir() if (p / "src").is_dir())

#: Transports a use case must not know (STYLE 2).
TRANSPORTS = ("fastapi", "faststream", "httpx", "starlette", "aiokafka")
#: Query builders that mean SQL (STYLE 2: no SQL outside repositories).
SQL_NAMES = {"select", "insert", "update", "delete", "text", "union", "union_all", "exists"}


@dataclass(frozen=True)
class Module:
    """One source file of a service, parsed."""

    service: str
    package: str
    path: Path
    tree: ast.Module

    @property
    def name(self) -> str:
        """Return the dotted module name."""
        return ".".join(self.relative_parts).removesuffix(".py").removesuffix(".__init__")

    @property
    def relative_parts(self) -> tuple[str, ...]:
        """Return the path parts below `src/`."""
        parts = self.path.parts
        return parts[parts.index("src") + 1 :]

    @property
    def is_router(self) -> bool:
        """Tell whether the file is an HTTP router module (`api.py`, `*_api.py`)."""
        return self.path.name == "api.py" or self.path.name.endswith("_api.py")

    @property
    def is_repository(self) -> bool:
        """Tell whether the file may hold SQL (repositories, table definitions)."""
        return self.path.name in ("repository.py", "models.py") or "repositories" in self.path.parts

    def imports(self) -> Iterator[tuple[int, str, list[str]]]:
        """Yield (line, module, names) of every import, relative ones resolved."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name, []
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = self.name.split(".")[: -node.level]
                    base = ".".join([*package, base]) if base else ".".join(package)
                yield node.lineno, base, [a.name for a in node.names]


def _modules() -> list[Module]:
    found = []
    for service in SERVICES:
        for path in sorted((service / "src").rglob("*.py")):
            package = path.relative_to(service / "src").parts[0]
            found.append(Module(service.name, package, path, ast.parse(path.read_text())))
    return found


MODULES = _modules()
ROUTERS = {m.name for m in MODULES if m.is_router}


def _where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(ROOT)}:{line}"


def test_the_tree_is_read() -> None:
    assert len(SERVICES) >= 6 and len(MODULES) > 50 and ROUTERS


def test_no_router_module_imports_another() -> None:
    bad = [
        f"{_where(m, line)} imports {target}"
        for m in MODULES
        if m.is_router
        for line, module, names in m.imports()
        for target in [module, *(f"{module}.{n}" for n in names)]
        if target in ROUTERS and target != m.name
    ]
    assert bad == []


def test_use_cases_know_no_transport() -> None:
    bad = [
        f"{_where(m, line)} imports {module}"
        for m in MODULES
        if m.path.name == "service.py" or "services" in m.relative_parts[:-1]
        for line, module, _ in m.imports()
        if module.split(".")[0] in TRANSPORTS
    ]
    assert bad == []


def test_sql_lives_in_repositories() -> None:
    bad = [
        f"{_where(m, line)} imports {', '.join(sorted(SQL_NAMES & set(names)))} from {module}"
        for m in MODULES
        if not m.is_repository
        for line, module, names in m.imports()
        if module.startswith("sqlalchemy") and SQL_NAMES & set(names)
    ]
    assert bad == []


def test_services_do_not_import_each_other() -> None:
    packages = {m.package for m in MODULES}
    bad = [
        f"{_where(m, line)} imports {module}"
        for m in MODULES
        for line, module, _ in m.imports()
        if module.split(".")[0] in packages - {m.package}
    ]
    assert bad == []


CONSUMERS = [m for m in MODULES if m.path.name == "consumers.py"]


@pytest.mark.parametrize("module", CONSUMERS, ids=lambda m: str(m.path.relative_to(ROOT)))
def test_consumers_have_the_template_shape(module: Module) -> None:
    body = module.tree.body
    routers = [
        node
        for node in body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["router"]
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "EventRouter"
    ]
    assert len(routers) == 1, "a consumers.py has one module-level `router = EventRouter()`"
    handlers = [
        node
        for node in body
        if isinstance(node, ast.AsyncFunctionDef)
        and any(
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and getattr(d.func.value, "id", None) == "router"
            for d in node.decorator_list
        )
    ]
    assert handlers, "handlers are module-level functions decorated with @router.handles…"
    for node in ast.walk(module.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node not in body:
            assert not node.decorator_list, f"nested decorated function {node.name}"
    for handler in handlers:
        positional = [a.arg for a in handler.args.args]
        assert positional[:1] == ["session"] and len(positional) == 2, handler.name
        assert ast.get_docstring(handler), f"{handler.name} has no docstring"


#: Settings naming the internal services the gateway calls (SPEC §6).
INTERNAL_URLS = {
    f"{name}_url" for name in ("identity", "competitions", "scoring", "notifier", "ingest")
}


def test_internal_urls_are_used_only_by_the_gateway_clients() -> None:
    bad = [
        f"{_where(m, node.lineno)} reads {node.attr}"
        for m in MODULES
        if m.package == "podium_gateway" and "clients" not in m.relative_parts
        for node in ast.walk(m.tree)
        if isinstance(node, ast.Attribute) and node.attr in INTERNAL_URLS
    ]
    assert bad == []
