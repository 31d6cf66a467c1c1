"""A class on one plane, joined to the window: the student's side (File > Join Class Folder…: the
window's runs are written into the class folder as they train, and the status bar says where)
and the teacher's (File > Follow Class Folder…, `classFolderAction`: every student's run in the
Runs list, so on the rate-distortion plane and Compare runs, and the leaderboard in the Class
dock). Builds the two controllers and the views, and places them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDockWidget, QLabel, QMainWindow

from app.controllers.class_folder import ClassFolderFollower
from app.controllers.class_writer import ClassRunWriter
from app.controllers.run import RunController
from app.controllers.runs import RunsController
from app.file_actions import FileDialogs
from app.naming import named
from app.runs.class_views import ClassLeaderboard, JoinClassDialog
from vae_core.class_folder import ClassNews

BOARD_WIDTH = 420  # pixels: the ranking and the first labels, beside the map
DockMaker = Callable[[str, str, object, Qt.DockWidgetArea], QDockWidget]


class Classroom(QObject):
    def __init__(
        self,
        window: QMainWindow,
        make_dock: DockMaker,
        beside: QDockWidget,
        runs: RunsController,
        run_controller: RunController,
        settings: QSettings,
        dialogs: FileDialogs,
        actions: dict[str, QAction],
        say: Callable[[str], None],
        show_error: Callable[[str], None],
    ):
        super().__init__(window)
        self.window = window
        self.dialogs = dialogs
        self.actions = actions
        self.say = say
        self.follower = ClassFolderFollower(runs.state, self)
        self.follower.errorOccurred.connect(show_error)
        self.follower.noticed.connect(say)
        self.follower.following.connect(lambda folder: say(f"Following the class folder {folder}"))
        self.follower.polled.connect(self._show_class)
        self.board = ClassLeaderboard(runs.state)
        # A tab beside `beside` (the explorer's dock): a class's many runs want its full height.
        self.dock = make_dock(
            "classDock", "Class", self.board, Qt.DockWidgetArea.RightDockWidgetArea
        )
        window.tabifyDockWidget(beside, self.dock)
        self.dock.hide()
        self.where = named(QLabel(), "classStatusLabel", "Where runs go")
        window.statusBar().addPermanentWidget(self.where)
        self.where.hide()
        self.writer = ClassRunWriter(runs.app_state, run_controller, settings, self)
        self.writer.errorOccurred.connect(show_error)
        self.writer.joined.connect(self._joined)
        self.writer.runFolderMade.connect(lambda folder: say(f"This run is written to {folder}"))

    # The teacher's side.
    def ask_follow(self) -> None:
        if folder := self.dialogs.ask_folder("Follow class folder"):
            self.follow(folder)

    def follow(self, folder: str | Path) -> None:
        """Follow a class folder: its students' runs join the Runs list as they are written."""
        self.follower.follow(folder)
        self.board.label.setText(f"Following {folder}: reading…")
        self.actions["stopClassFolderAction"].setEnabled(True)
        self.dock.show()
        self.dock.raise_()
        self.window.resizeDocks([self.dock], [BOARD_WIDTH], Qt.Orientation.Horizontal)

    def stop_following(self) -> None:
        self.follower.stop()
        self.board.label.setText("Not following a class folder (the runs read stay listed)")
        self.actions["stopClassFolderAction"].setEnabled(False)

    def _show_class(self, news: ClassNews) -> None:
        students = f"{news.students} student{'s' if news.students != 1 else ''}"
        runs = f"{news.run_count} run{'s' if news.run_count != 1 else ''}"
        self.board.label.setText(f"Following {self.follower.folder}: {students}, {runs}")

    # The student's side.
    def ask_join(self) -> None:
        dialog = JoinClassDialog(*self.writer.last_choice(), self.window)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            folder, student = dialog.chosen()
            if folder:
                self.writer.join(folder, student)

    def leave(self) -> None:
        self.writer.leave()

    def _joined(self, where: str) -> None:
        self.actions["leaveClassAction"].setEnabled(bool(where))
        self.where.setVisible(bool(where))
        if where:
            self.where.setText(f"Class: runs go to {where}")
            self.where.setToolTip(
                "Each run you train is written here as it trains (File > Leave Class Folder stops)"
            )
            self.say(f"Joined the class: runs go to {where}")
        else:
            self.say("Left the class folder: runs are no longer written there")
