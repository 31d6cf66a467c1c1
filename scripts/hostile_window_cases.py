"""Issue 24's cases of the window: bad presets at start-up (the window started offscreen in a fresh
interpreter), lessons that crashed or froze it, checkpoint histories of NaN or inf, and run folders
in the Runs list and Follow. Reading a lesson or a run folder runs on the window's worker, through
the Qt-free calls tried here."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import hostile_common as common
import numpy as np
from hostile_common import ENVIRONMENT, ROOT, Outcome, in_process

GB = 10**9


def in_thread(call: Callable[[], str], timeout: float) -> Outcome:
    """`in_process(call)` on a thread given `timeout` seconds: a hang is measured, not suffered."""
    result: list[Outcome] = []
    worker = threading.Thread(target=lambda: result.append(in_process(call)), daemon=True)
    worker.start()
    worker.join(timeout)
    return result[0] if result else Outcome(False, f"still running after {timeout:.0f} s")


def remove_deep(folder: Path, levels: int) -> None:
    """Remove folder/d/d/... (`levels` deep) a level at a time: shutil.rmtree recurses."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        for _ in range(levels):
            os.chdir("d")
        for _ in range(levels):
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(here)


_BAD_PRESETS = {
    "invalid-toml.toml": 'description = "x\n',
    "no-description.toml": "[model]\nlatent_dim = 2\n",
    "unknown-key.toml": 'description = "x"\n[model]\nlatent = 2\n',
    "deep.toml": 'description = "x"\na = ' + "[" * 3000 + "]" * 3000 + "\n",
}
_OPEN_WINDOW = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from vae_core import presets
presets.preset_folders = lambda: [Path({folder!r})]
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.main_window import MainWindow
window = MainWindow()
combo = window.controls.preset_combo
print([combo.itemText(i) for i in range(combo.count())])
box = window.messages._error_box
print(box.text() if box is not None else "no message")
"""


def _window_with_bad_presets() -> Outcome:
    folder = common.WORKSPACE.folder / "presets"
    folder.mkdir()
    (folder / "good.toml").write_text('description = "fine"\n[model]\nlatent_dim = 3\n')
    for name, text in _BAD_PRESETS.items():
        (folder / name).write_text(text)
    os.mkfifo(folder / "fifo.toml")
    script = _OPEN_WINDOW.format(root=str(ROOT), folder=str(folder))
    try:
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            env={**ENVIRONMENT, "QT_QPA_PLATFORM": "offscreen"},
        )
    except subprocess.TimeoutExpired:
        return Outcome(False, "still running after 120 s")
    if result.returncode != 0 or "Traceback" in result.stderr:
        return Outcome(False, f"traceback: {common._cut(result.stderr.strip()[-150:])}")
    listed, message = (result.stdout.splitlines() + ["", ""])[:2]
    named = [name for name in [*_BAD_PRESETS, "fifo.toml"] if name in message]
    held = listed == "['(none)', 'good']" and len(named) == len(_BAD_PRESETS) + 1
    return Outcome(held, f"opens; presets listed {listed}; {len(named)} of 5 bad files named")


def _lesson(text: str, steps: int = 1, controls: str = "") -> Callable[[], str]:
    from app.lessons.lessons import parse_lesson

    step = f'[[steps]]\ntitle = "s"\ntext = "t"\n{controls}'
    lesson = f'title = "T"\ntext = """{text}"""\n' + step * steps
    return lambda: f"read, {len(parse_lesson(lesson, 'lesson.toml').steps)} steps"


def _tables(depth: int) -> str:
    return "<table><tr><td>" * depth + "x" + "</td></tr></table>" * depth


def _history(value: float) -> Outcome:
    from vae_core.checkpoint import load_checkpoint

    def change(tensors, metadata):
        table = tensors["history.metrics"].clone()
        table[0, -2] = value
        tensors["history.metrics"] = table

    folder = common.WORKSPACE.changed_run(f"history-{value}", change)
    outcome = in_process(
        lambda: f"opens, {len(load_checkpoint(folder / 'checkpoint.safetensors').history)} rows"
    )
    wanted = "opens" if value != value else "VaeStudioError"
    return Outcome(outcome.held and outcome.text.startswith(wanted), outcome.text)


def _run_folder(name: str, make: Callable[[Path], None]) -> Outcome:
    from app.runs.run_folders import read_run_folder

    folder = common.WORKSPACE.folder / name
    folder.mkdir()
    make(folder / "metrics.csv")
    return in_thread(lambda: f"listed: {read_run_folder(folder)}", timeout=60)


def _followed(name: str, make: Callable[[Path], None]) -> Outcome:
    from vae_core.metrics_reader import MetricsTail

    folder = common.WORKSPACE.folder / name
    folder.mkdir()
    make(folder / "metrics.csv")
    tail = MetricsTail(folder / "metrics.csv")

    def read() -> str:
        rows = tail.read().rows
        return f"{len(rows)} rows, {int(np.isinf(rows).sum())} infinite values"

    outcome = in_thread(read, timeout=60)
    # Read with no infinite value left, or refused in one line.
    return Outcome(
        outcome.held and "infinite values" not in outcome.text.replace(" 0 infinite", ""),
        outcome.text,
    )


def _sparse(path: Path) -> None:
    with path.open("wb") as out:
        out.write(b"step,loss\n")
        out.truncate(20 * GB)


def _infinite(path: Path) -> None:
    path.write_text("step,loss\n1,inf\n2,1e999\n")


WINDOW = [
    (
        "window start with 5 bad presets (invalid TOML, no description, unknown key, deep, FIFO)",
        "constructor raises; the FIFO hangs start-up",
        _window_with_bad_presets,
    ),
    (
        "lesson of 3,000 nested HTML tables",
        "crashes the window",
        lambda: in_process(_lesson(_tables(3000))),
    ),
    (
        "lesson of 100 nested HTML tables",
        "freezes the window > 2 min",
        lambda: in_process(_lesson(_tables(100))),
    ),
    (
        "lesson of 30,000 steps",
        "crashes the window",
        lambda: in_process(_lesson("x", steps=30_000)),
    ),
    (
        "lesson setting a spin box to 2^63",
        "OverflowError, lesson half applied",
        lambda: in_process(
            _lesson("x", controls=f"[steps.controls]\nlatentDimSpinBox = {2**63 - 1}\n")
        ),
    ),
    (
        "checkpoint history holding NaN",
        "never opens, stuck 'training'",
        lambda: _history(float("nan")),
    ),
    (
        "checkpoint history holding inf",
        "never opens, stuck 'training'",
        lambda: _history(float("inf")),
    ),
    (
        "Runs list: metrics.csv a FIFO",
        "(not measured)",
        lambda: _run_folder("runs-fifo", os.mkfifo),
    ),
    (
        "Runs list: metrics.csv sparse, 20 GB",
        "(not measured)",
        lambda: _run_folder("runs-sparse", _sparse),
    ),
    ("Follow: metrics.csv a FIFO", "(not measured)", lambda: _followed("follow-fifo", os.mkfifo)),
    (
        "Follow: metrics.csv of infinite values",
        "(not measured)",
        lambda: _followed("follow-inf", _infinite),
    ),
]
