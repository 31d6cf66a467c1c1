"""The app's layers, read from the source: views ask the jobs controller and never start work or
pace it themselves; the state stands below the explorer; vae_core (the figures included) below the app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Modules that draw: they may ask app.controllers.model_jobs, never the workers or the pacing.
VIEWS = sorted(
    [
        *(ROOT / "app" / "theory").glob("*.py"),
        *(
            path
            for path in (ROOT / "app" / "explorer").glob("*.py")
            if path.name not in ("explorer.py",)  # the explorer's controller
        ),
        ROOT / "app" / "evaluation_page.py",
        ROOT / "app" / "lessons" / "lesson_dock.py",
        ROOT / "app" / "lessons" / "lesson_panel.py",
        ROOT / "app" / "export.py",
    ]
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", VIEWS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_view_neither_starts_nor_paces_work(path):
    assert not _imports(path) & {"app.workers", "app.controllers.pacing"}


def test_the_state_imports_nothing_of_the_explorer():
    assert not any(name.startswith("app.explorer") for name in _imports(ROOT / "app" / "state.py"))


def test_vae_core_imports_nothing_of_the_app():
    for path in (ROOT / "vae_core").rglob("*.py"):
        assert not any(name.split(".")[0] == "app" for name in _imports(path)), path
