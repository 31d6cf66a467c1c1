"""A class on one plane: students' windows write their runs into a class folder as they train, the
teacher's window follows it (new students, runs and rows as they are written; torn rows and
missing files never stop it), labels name the student and what differs, and the leaderboard
ranks held-out ELBO."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QTreeWidget

from app.runs.class_views import leaderboard_rows
from app.runs.runs_panel import RunsComparePage
from app.state import UNTIL_STOPPED_STEPS
from app.state.runs import RunsState
from vae_core.class_folder import (
    ClassFolderReader,
    append_class_rows,
    start_class_run,
    student_folder_name,
)
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.run_folder import CONFIG_NAME, METRICS_NAME
from vae_core.run_labels import LabelledRun, run_labels

SIGNAL_TIMEOUT_MS = 10_000
_STEP, _LOSS, _HELDOUT = (METRICS_COLUMNS.index(c) for c in ("step", "loss", "heldout_elbo"))


def student_config(beta: float = 1.0, latent: int = 2, max_steps: int = 20) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(32,), latent_dim=latent),
        train=TrainConfig(
            batch_size=50, max_steps=max_steps, beta=beta, device="cpu", heldout_every=0
        ),
    )


def rows_from(first_step: int, count: int, heldout: float | None = None) -> np.ndarray:
    """Rows every 10 steps; rate and distortion falling; a held-out ELBO on the last row."""
    rows = np.full((count, len(METRICS_COLUMNS)), np.nan)
    steps = first_step + 10 * np.arange(count)
    for column in range(len(METRICS_COLUMNS)):
        rows[:, column] = 1.0
    rows[:, _STEP] = steps
    rows[:, METRICS_COLUMNS.index("kl")] = 5 + 10 / steps
    rows[:, METRICS_COLUMNS.index("recon")] = 100 + 100 / steps
    rows[:, _LOSS] = rows[:, METRICS_COLUMNS.index("kl")] + rows[:, METRICS_COLUMNS.index("recon")]
    rows[:, _HELDOUT] = np.nan
    if heldout is not None:
        rows[-1, _HELDOUT] = heldout
    return rows


# The folder's layout and its reader, without a window.
def test_a_students_name_becomes_a_safe_folder_name():
    assert student_folder_name("  Ana María ") == "Ana_María"
    assert student_folder_name("ben/../../etc") == "ben_.._.._etc"
    with pytest.raises(VaeStudioError, match="no name"):
        student_folder_name(" / ")


def test_the_reader_gives_new_students_runs_and_only_the_new_rows(tmp_path):
    ana = start_class_run(tmp_path, "ana", "run-1", student_config(beta=4), rows_from(10, 3))
    assert ana == tmp_path / "ana" / "run-1"
    reader = ClassFolderReader(tmp_path)
    first = reader.read()
    assert (first.students, first.run_count) == (1, 1)
    [news] = first.runs
    assert (news.run.student, news.run.name) == ("ana", "run-1")
    assert news.config == student_config(beta=4)
    np.testing.assert_array_equal(news.rows[:, _STEP], [10, 20, 30])
    assert reader.read().runs == ()  # nothing new: nothing read again

    append_class_rows(ana, rows_from(40, 2))
    ben = start_class_run(tmp_path, "ben", "run-1", student_config(latent=8), rows_from(10, 1))
    second = reader.read()
    assert (second.students, second.run_count) == (2, 2)
    by_student = {news.run.student: news for news in second.runs}
    assert by_student["ana"].config is None  # config.json unchanged: not read again
    np.testing.assert_array_equal(by_student["ana"].rows[:, _STEP], [40, 50])
    assert by_student["ben"].run.folder == ben and len(by_student["ben"].rows) == 1
    # A second run of the same name in the same second gets a number.
    again = start_class_run(tmp_path, "ana", "run-1", student_config(), rows_from(10, 1))
    assert again.name == "run-1-2"


def test_a_half_written_row_a_torn_row_and_a_missing_metrics_file_do_not_stop_reading(tmp_path):
    ana = start_class_run(tmp_path, "ana", "run-1", student_config(), rows_from(10, 2))
    waiting = tmp_path / "ben" / "run-1"
    waiting.mkdir(parents=True)  # a run folder made, its files not yet written
    reader = ClassFolderReader(tmp_path)
    first = reader.read()
    assert [news.run.student for news in first.runs] == ["ana"] and first.problems == ()
    assert first.run_count == 2

    metrics = ana / METRICS_NAME
    with metrics.open("ab") as handle:
        handle.write(b"30,1,1,1,110,100,")  # half a row: its writer has not finished it
    assert reader.read().runs == ()
    with metrics.open("ab") as handle:
        handle.write(b"10,1,1,1,,\n" + b"40,1,x,1,1,1,1,1,1,\n")  # finished torn; then garbled
    append_class_rows(ana, rows_from(50, 1))
    torn = reader.read()
    np.testing.assert_array_equal(torn.runs[0].rows[:, _STEP], [50])
    [problem] = torn.problems
    assert "2 malformed rows skipped" in problem and str(metrics) in problem
    assert "\n" not in problem

    (waiting / CONFIG_NAME).write_text("{not json")
    broken = reader.read()
    assert broken.runs == () and "ben's run run-1" in broken.problems[0]
    assert reader.read().problems == ()  # said once
    start_class_run(tmp_path, "ben", "run-2", student_config(), rows_from(10, 1))
    assert [news.run.name for news in reader.read().runs] == ["run-2"]


def test_a_class_folder_that_is_not_there_is_one_line(tmp_path):
    with pytest.raises(VaeStudioError, match="cannot read the class folder"):
        ClassFolderReader(tmp_path / "gone").read()


# Labels and the leaderboard.
def test_labels_name_the_student_and_what_differs_not_budgets_or_defaults():
    until_stopped = student_config(beta=4, latent=8, max_steps=UNTIL_STOPPED_STEPS)
    until_stopped.train.seed = 7  # each student's own seed: no difference of the model
    runs = [
        LabelledRun("run-1", student_config(beta=1, latent=2), "ana"),
        LabelledRun("run-1", until_stopped, "ben"),
        LabelledRun("run-2", dataclasses.replace(until_stopped), "ben"),
        LabelledRun("mine", None),
    ]
    labels = run_labels(runs)
    assert labels == [
        "ana · latent 2, β 1",
        "ben · latent 8, β 4 (run-1)",
        "ben · latent 8, β 4 (run-2)",
        "mine",
    ]
    assert not any(word in label for label in labels for word in ("max steps", "seed"))
    # Alike in all but their budgets: nothing differs, and their names tell them apart.
    alike = student_config(max_steps=UNTIL_STOPPED_STEPS)
    assert run_labels(
        [LabelledRun("a", student_config(), "ana"), LabelledRun("b", alike, "ana")]
    ) == ["ana (a)", "ana (b)"]


def test_the_leaderboard_ranks_the_best_held_out_elbo_first():
    state = RunsState()
    state.add("mine", student_config(), rows_from(10, 3, heldout=-80.0))  # not a student's
    best_late = rows_from(10, 4, heldout=-95.0)
    best_late[1, _HELDOUT] = -90.0  # its best is not its last
    state.add("run-1", student_config(beta=4), best_late, student="ana")
    state.add("run-1", student_config(beta=1), rows_from(10, 2, heldout=-85.5), student="ben")
    state.add("run-1", student_config(beta=2), rows_from(10, 2), student="cleo")  # none yet
    state.add("run-2", student_config(beta=1), rows_from(10, 2, heldout=-120.0), student="ben")
    board = leaderboard_rows(state)
    assert [(row.student, row.run, row.best_elbo, row.step) for row in board] == [
        ("ben", "run-1", -85.5, 20),
        ("ana", "run-1", -90.0, 20),
        ("ben", "run-2", -120.0, 20),
        ("cleo", "run-1", None, None),
    ]
    assert [row.differs for row in board] == ["β 1", "β 4", "β 1", "β 2"]


# In the window.
def class_window(qtbot, shown_window, folder):
    window = shown_window(student_config())
    window.seed.docks["runsDock"].show()
    window.classroom.dialogs.ask_folder = lambda _title: str(folder)
    with qtbot.waitSignal(window.classroom.follower.polled, timeout=SIGNAL_TIMEOUT_MS):
        window.findChild(QAction, "classFolderAction").trigger()
    return window


def test_the_teacher_follows_new_students_runs_and_rows_on_every_view(
    qtbot, shown_window, tmp_path
):
    ana = start_class_run(tmp_path, "ana", "run-1", student_config(beta=4), rows_from(10, 3, -99))
    ben = start_class_run(tmp_path, "ben", "run-1", student_config(beta=1), rows_from(10, 2, -90))
    window = class_window(qtbot, shown_window, tmp_path)
    runs = window.seed.runs.state
    assert [(entry.student, entry.name) for entry in runs.entries] == [
        ("ana", "run-1"),
        ("ben", "run-1"),
    ]
    tree = window.findChild(QTreeWidget, "runsTree")
    labels = ["ana · β 4", "ben · β 1"]
    qtbot.waitUntil(lambda: [tree.topLevelItem(i).text(1) for i in range(2)] == labels)
    # The rate-distortion plane and Compare runs label them alike.
    rate_distortion = window.seed.rate_distortion
    window.view_tabs.setCurrentWidget(rate_distortion)
    assert [name for name, _colour in rate_distortion._run_keys] == ["ana · β 4", "ben · β 1"]
    compare = window.findChild(RunsComparePage)
    window.view_tabs.setCurrentWidget(compare)
    compare.refresh()
    assert [label.text for _, label in compare.legend.items] == ["ana · β 4", "ben · β 1"]
    # The leaderboard, in its dock: ben's held-out ELBO is the better.
    board = window.findChild(QTreeWidget, "classLeaderboard")
    assert window.findChild(QDockWidget, "classDock").isVisible()
    window.classroom.board.refresh()
    assert [board.topLevelItem(i).text(1) for i in range(2)] == ["ben", "ana"]
    assert board.topLevelItem(0).text(3) == "-90.00"

    # New rows, a torn row and a new student: all appear, and following goes on.
    with (ana / METRICS_NAME).open("ab") as handle:
        handle.write(b"35,garbled\n")
    append_class_rows(ana, rows_from(40, 2, -80))
    start_class_run(tmp_path, "cleo", "run-1", student_config(beta=1), rows_from(10, 1))
    notices = []
    window.classroom.follower.noticed.connect(notices.append)
    qtbot.waitUntil(
        lambda: len(runs.entries) == 3 and runs.entries[0].steps == 50, timeout=SIGNAL_TIMEOUT_MS
    )
    assert runs.entries[2].student == "cleo"
    assert any("1 malformed row skipped" in line for line in notices)
    window.classroom.board.refresh()
    assert board.topLevelItem(0).text(1) == "ana" and board.topLevelItem(0).text(4) == "50"
    assert "3 students, 3 runs" in window.classroom.board.label.text()

    # A run the teacher takes off the list stays off, though it goes on growing.
    window.seed.runs.remove(runs.entries[1])
    append_class_rows(ben, rows_from(30, 1))
    reads = []
    window.classroom.follower.polled.connect(reads.append)
    qtbot.waitUntil(lambda: len(reads) >= 2, timeout=SIGNAL_TIMEOUT_MS)  # one began after the write
    assert [entry.student for entry in runs.entries] == ["ana", "cleo"]


def test_a_students_window_writes_its_run_under_the_class_folder(qtbot, shown_window, tmp_path):
    window = shown_window(student_config(max_steps=30))
    writer = window.classroom.writer
    with qtbot.waitSignal(writer.joined, timeout=SIGNAL_TIMEOUT_MS):
        writer.join(tmp_path, "Ana María")
    assert window.findChild(QAction, "leaveClassAction").isEnabled()
    assert str(tmp_path / "Ana_María") in window.classroom.where.text()
    made = []
    writer.runFolderMade.connect(made.append)
    with qtbot.waitSignals([writer.runFolderMade, window.runs.runEnded], timeout=SIGNAL_TIMEOUT_MS):
        window.train()
    [folder] = made
    history = window.state.run.history.table.rows
    assert len(history) > 1
    qtbot.waitUntil(lambda: _written_rows(folder) == len(history), timeout=SIGNAL_TIMEOUT_MS)
    [run] = ClassFolderReader(tmp_path).read().runs
    assert run.run.student == "Ana_María" and str(run.run.folder) == folder
    assert run.config == window.state.run.config
    np.testing.assert_allclose(run.rows, history, rtol=1e-6)
    # The choice is kept for the next session, and Leave forgets it.
    assert window.settings.value("class/student") == "Ana María"
    window.findChild(QAction, "leaveClassAction").trigger()
    assert window.settings.value("class/student") is None and not writer.class_folder


def _written_rows(folder: str) -> int:
    from vae_core.metrics_reader import MetricsTail

    return len(MetricsTail(f"{folder}/{METRICS_NAME}").read().rows)


def test_a_batch_of_changes_announces_the_compared_runs_once():
    state = RunsState()
    compared, ended = [], []
    state.compared.connect(compared.append)
    state.batch_ended.connect(lambda: ended.append(state.in_batch))
    with state.batch():
        ana = state.add("run-1", student_config(beta=4), rows_from(10, 2), student="ana")
        state.add("run-1", student_config(beta=1), rows_from(10, 2), student="ben")
        state.update(ana, rows=rows_from(10, 3))
        assert compared == [] and state.in_batch
    assert ended == [False]
    [runs] = compared
    assert [label for label, _colour, _rows in runs] == ["ana · β 4", "ben · β 1"]
    assert len(runs[0][2]) == 3


def test_a_class_of_twenty_runs_gets_twenty_colours():
    state = RunsState()
    with state.batch():
        for index in range(20):
            state.add(f"run-{index}", student_config(), student=f"s{index}")
    assert len({entry.colour for entry in state.entries}) == 20


def test_joining_a_class_folder_that_is_not_there_is_one_line(qtbot, shown_window, tmp_path):
    window = shown_window(student_config())
    writer = window.classroom.writer
    with qtbot.waitSignal(writer.errorOccurred, timeout=SIGNAL_TIMEOUT_MS) as said:
        writer.join(tmp_path / "not mounted", "ana")
    assert "no such folder" in said.args[0] and "\n" not in said.args[0]
    assert writer.class_folder is None and not window.classroom.where.isVisible()
    with qtbot.waitSignal(writer.errorOccurred, timeout=SIGNAL_TIMEOUT_MS) as said:
        writer.join(tmp_path, " / ")
    assert "no name" in said.args[0]
