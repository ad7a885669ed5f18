"""The product package holds the product: the core never imports the lab or the artifact builders."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "clusterctl"
LAB = PACKAGE / "lab"


def imported_modules(path: Path) -> list[str]:
    """Absolute names of the modules a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_no_core_module_imports_the_lab_or_the_artifact_builders():
    core = [p for p in PACKAGE.rglob("*.py") if LAB not in p.parents]
    assert len(core) > 20
    offenders = {str(p.relative_to(PACKAGE)): m for p in core for m in imported_modules(p)
                 if m == "clusterctl.lab" or m.startswith("clusterctl.lab.")}
    assert offenders == {}


def test_the_import_scanner_sees_relative_imports():
    lab_cli = imported_modules(LAB / "cli.py")
    assert "clusterctl.lab.errors" in lab_cli and "clusterctl.errors" in lab_cli


def test_no_two_test_modules_share_a_name():
    # pytest imports test modules by their basename (the test folders are not packages): a second
    # test_x.py anywhere under tests/ stops the whole run at collection.
    from collections import Counter
    tests = Path(__file__).resolve().parents[1]
    names = Counter(p.name for p in tests.rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []


def test_only_the_client_module_starts_a_kazoo_session():
    # zk/client.started_client is where a session learns how to reach the servers (TLS included):
    # a KazooClient made anywhere else would miss it.
    makers = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if LAB not in p.parents
              for node in ast.walk(ast.parse(p.read_text()))
              if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "KazooClient"]
    assert makers == ["zk/client.py"]
