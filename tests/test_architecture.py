"""core stays Qt-free and importable without a display; desktop only talks to it through requests and events."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_core_never_imports_qt_or_desktop():
    offenders = {path: names & {"PySide6", "PyQt5", "PyQt6", "desktop"}
                 for path, names in imported_modules("core").items()}
    assert not {path: names for path, names in offenders.items() if names}


def test_importing_the_cli_does_not_load_torch_or_qt():
    import subprocess
    import sys

    code = "import sys, core.cli; print(sorted(m for m in ('torch', 'diffusers', 'PySide6') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
