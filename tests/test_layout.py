"""Import rules of the layout (docs/architecture.md): one kernel, one package per kind of process.

- the kernel (`mraster`) imports no application package;
- applications do not import each other, except: every process's `__main__` hands over to the
  `mraster` command (`commands`), which sits above them all; the scanner (`bot`) uses its policy
  library `ml_policy`, which itself imports no application.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "mraster"
APPS = {"bot", "guard", "dashboard", "paper", "trial", "ml_policy", "recorder", "backtest", "commands", "ops",
        "momentum", "maker", "deltaneutral"}
ALLOWED = {("bot", "ml_policy")}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _violations(package: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top == package or top not in APPS | {KERNEL}:
                continue
            if package == KERNEL and top in APPS:
                bad.append(f"{path.relative_to(root)}:{line} kernel imports application {module}")
            elif package in APPS and top in APPS and package != "commands":
                if path.name == "__main__.py" and top == "commands" or (package, top) in ALLOWED:
                    continue
                bad.append(f"{path.relative_to(root)}:{line} {package} imports application {module}")
    return bad


@pytest.mark.parametrize("package", [KERNEL, *sorted(APPS)])
def test_import_rules(package: str) -> None:
    assert (ROOT / package / "__init__.py").exists(), f"{package} is a package"
    assert _violations(package) == []


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself: a kernel module importing an application is reported."""
    (tmp_path / KERNEL).mkdir()
    (tmp_path / KERNEL / "m.py").write_text("import os\nfrom bot.runtime import loop\nfrom mraster.domain import types\n")
    (tmp_path / "guard").mkdir()
    (tmp_path / "guard" / "g.py").write_text("import dashboard.app\nfrom mraster import logs\n")
    assert _violations(KERNEL, tmp_path) == ["mraster/m.py:2 kernel imports application bot.runtime"]
    assert _violations("guard", tmp_path) == ["guard/g.py:1 guard imports application dashboard.app"]
