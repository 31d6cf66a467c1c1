"""A class's views: the leaderboard of held-out ELBO (`classLeaderboard`, the students' runs from
the Runs list's state, best first) and the dialog in which a student joins a class folder.

The leaderboard draws from the RunsState alone, at most twice a second and only while on screen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.naming import named
from app.state.runs import RunsState
from vae_core.metrics_columns import METRICS_COLUMNS

REDRAW_INTERVAL_MS = 500
_STEP, _HELDOUT = METRICS_COLUMNS.index("step"), METRICS_COLUMNS.index("heldout_elbo")
# The figures before the labels: a label's length must not push the ranking off a narrow dock.
BOARD_COLUMNS = ("#", "Student", "Run", "Held-out ELBO", "Step", "Differs")


@dataclass(frozen=True)
class BoardRow:
    student: str
    run: str
    differs: str  # what sets the run apart from the others on the board ("β 4, latent 8")
    best_elbo: float | None  # nats per example (higher is better); None: not evaluated yet
    step: int | None  # the step of the best


def best_heldout(rows: np.ndarray) -> tuple[float | None, int | None]:
    """The highest held-out ELBO among `rows` and its step (None, None: none measured)."""
    heldout = rows[:, _HELDOUT] if len(rows) else rows[:0, 0]
    finite = np.flatnonzero(np.isfinite(heldout))
    if not len(finite):
        return None, None
    best = finite[np.argmax(heldout[finite])]
    return float(heldout[best]), int(rows[best, _STEP])


def leaderboard_rows(runs: RunsState) -> list[BoardRow]:
    """The students' runs among `runs`, best held-out ELBO first (runs with none last, by
    student and run), each with what sets it apart from the others on the board."""
    students = [entry for entry in runs.entries if entry.student]
    board = [
        BoardRow(entry.student, entry.name, differs, *best_heldout(entry.rows))
        for entry, differs in zip(students, runs.differences(students))
    ]
    return sorted(
        board,
        key=lambda row: (
            row.best_elbo is None,
            -row.best_elbo if row.best_elbo is not None else 0.0,
            row.student,
            row.run,
        ),
    )


class ClassLeaderboard(QWidget):
    """`classLeaderboard`: a row per student's run, best held-out ELBO first; `classFolderLabel`
    says which folder is followed."""

    def __init__(self, runs: RunsState, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "classPanel", "Class")
        self.runs = runs
        self.label = named(
            QLabel("Not following a class folder: File > Follow Class Folder…"),
            "classFolderLabel",
            "Class folder",
        )
        self.label.setWordWrap(True)
        self.tree = named(QTreeWidget(), "classLeaderboard", "Leaderboard of held-out ELBO")
        self.tree.setHeaderLabels(list(BOARD_COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setToolTip(
            "Each student's run by its best held-out ELBO (nats per example; higher is better), "
            "measured on examples the run never trained on, and the step it was measured at"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.label)
        layout.addWidget(self.tree, 1)
        self.rows: list[BoardRow] = []
        self._dirty = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        for signal in (runs.added, runs.changed, runs.removed):
            signal.connect(self._request_redraw)

    def _request_redraw(self, *_) -> None:
        self._dirty = True
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        """Rank the students' runs again (one redraw's whole work)."""
        self._dirty = False
        rows = leaderboard_rows(self.runs)
        if rows == self.rows:
            return
        self.rows = rows
        self.tree.clear()
        for rank, row in enumerate(rows, 1):
            item = QTreeWidgetItem(
                [
                    str(rank),
                    row.student,
                    row.run,
                    "—" if row.best_elbo is None else f"{row.best_elbo:.2f}",
                    "" if row.step is None else f"{row.step:,}",
                    row.differs,
                ]
            )
            item.setToolTip(5, row.differs)
            for column in (0, 3, 4):
                item.setTextAlignment(
                    column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
            self.tree.addTopLevelItem(item)

    def showEvent(self, event) -> None:
        if self._dirty:
            self.refresh()
        super().showEvent(event)


class JoinClassDialog(QDialog):
    """Asks a student for the class folder (a shared drive) and their name."""

    def __init__(self, folder: str, student: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Join Class Folder")
        self.setMinimumWidth(480)
        named(self, "joinClassDialog", "Join class folder")
        self.folder_edit = named(QLineEdit(folder), "classFolderEdit", "Class folder")
        self.folder_edit.setPlaceholderText("a shared folder the teacher gave")
        browse = named(QPushButton("Browse…"), "classFolderBrowseButton", "Browse")
        browse.clicked.connect(self._browse)
        self.student_edit = named(QLineEdit(student), "studentNameEdit", "Your name")
        self.student_edit.setPlaceholderText("as the teacher should see it")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Class folder:", folder_row)
        form.addRow("Your name:", self.student_edit)
        note = QLabel(
            "Each run you train is written, as it trains, to the class folder under your name, "
            "for the teacher's window to follow."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Class folder", self.folder_edit.text())
        if chosen:
            self.folder_edit.setText(chosen)

    def chosen(self) -> tuple[str, str]:
        return self.folder_edit.text().strip(), self.student_edit.text().strip()
