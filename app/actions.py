"""The window's actions as data, as napari declares its own: an id (the QAction's object name,
what tests and lessons find it by), a title, the callback (given the window when the action is
triggered, so no helper needs to hold the window for it), the menu it sits in and its key.
`install_actions` makes the QActions; `build_menus` lays the menus out from the same table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

if TYPE_CHECKING:
    from app.main_window import MainWindow

Key = str | QKeySequence.StandardKey | None
FILE, EDIT, RUN, VIEW, HELP = "&File", "&Edit", "&Run", "&View", "&Help"
# Where a menu's entries break into groups: before these actions.
SECTION_STARTS = frozenset(
    {"exportCsvAction", "betaUpAction", "joinClassAction", "openLessonAction"}
)


@dataclass(frozen=True)
class WindowAction:
    id: str
    title: str
    callback: Callable[..., object]  # (window) or, checkable, (window, checked)
    menu: str | None = None  # None: a key only (it still works with the menu bar hidden)
    key: Key = None
    tip: str = ""
    checkable: bool = False
    enabled: bool = True


_STANDARD = QKeySequence.StandardKey
WINDOW_ACTIONS: tuple[WindowAction, ...] = (
    # File.
    WindowAction(
        "openAction", "&Open Checkpoint…", lambda w: w.files.ask_open(), FILE, _STANDARD.Open
    ),
    WindowAction(
        "openDataAction",
        "Open &Data Set…",
        lambda w: w.data_sources.open_dialog(),
        FILE,
        "Ctrl+D",
        "Train on MNIST files or a download, a folder of images, an .npz/.npy file or IDX files",
    ),
    WindowAction(
        "saveAction", "&Save Checkpoint…", lambda w: w.files.ask_save(), FILE, _STANDARD.Save
    ),
    WindowAction(
        "resumeAction",
        "&Resume Training",
        lambda w: w.files.ask_resume(),
        FILE,
        "Ctrl+R",
        "Continue training the opened checkpoint, or one you pick",
    ),
    WindowAction(
        "followAction",
        "&Follow Run Folder…",
        lambda w: w.files.ask_follow(),
        FILE,
        tip="Watch a run that another process writes: its curves and newest checkpoint, read-only",
    ),
    WindowAction(
        "stopFollowingAction",
        "Stop Following",
        lambda w: w.files.stop_following(),
        FILE,
        enabled=False,
    ),
    WindowAction(
        "openRunFolderAction",
        "Open R&un Folder…",
        lambda w: w.seed.ask_open_run_folder(),
        FILE,
        tip="List a run folder's curves and config in the Runs list, to compare runs",
    ),
    WindowAction(
        "joinClassAction",
        "&Join Class Folder…",
        lambda w: w.classroom.ask_join(),
        FILE,
        tip="Write each run you train into a class folder under your name, for the teacher to follow",
    ),
    WindowAction(
        "leaveClassAction",
        "Leave Class Folder",
        lambda w: w.classroom.leave(),
        FILE,
        enabled=False,
    ),
    WindowAction(
        "classFolderAction",
        "Follow &Class Folder…",
        lambda w: w.classroom.ask_follow(),
        FILE,
        tip="Every student's run in a class folder on the rate-distortion plane, Compare runs and "
        "a leaderboard, as they train",
    ),
    WindowAction(
        "stopClassFolderAction",
        "Stop Following Class Folder",
        lambda w: w.classroom.stop_following(),
        FILE,
        enabled=False,
    ),
    WindowAction("openLessonAction", "Open &Lesson…", lambda w: w.seed.lessons.ask_open(), FILE),
    WindowAction("saveLessonAction", "Save as Lesso&n…", lambda w: w.seed.lessons.ask_save(), FILE),
    WindowAction(
        "shareLessonAction",
        "S&hare Lesson…",
        lambda w: w.seed.lessons.codes.ask_share(),
        FILE,
        tip="A short code and a QR image that set another window up as this one: the lesson at "
        "its step, the view, the settings (with no lesson open: the set-up)",
    ),
    WindowAction(
        "openLessonCodeAction",
        "Open Lesson &Code…",
        lambda w: w.seed.lessons.codes.ask_open(),
        FILE,
        tip="Paste a lesson code, or open a text file holding one: set up as shared, offline",
    ),
    WindowAction(
        "exportCsvAction",
        "Export &Metrics CSV…",
        lambda w: w.files.ask_export_csv(),
        FILE,
        "Ctrl+E",
    ),
    # Edit.
    WindowAction(
        "undoAction",
        "&Undo",
        lambda w: w.settings_undo.undo(),
        EDIT,
        _STANDARD.Undo,
        "Undo the last change of the settings",
    ),
    WindowAction(
        "redoAction",
        "&Redo",
        lambda w: w.settings_undo.redo(),
        EDIT,
        _STANDARD.Redo,
        "Redo the last change of the settings undone",
    ),
    # Run.
    WindowAction(
        "trainAction", "&Train", lambda w: w.train(), RUN, "Ctrl+Return", "Train a new model"
    ),
    WindowAction("pauseAction", "&Pause / Resume", lambda w: w.runs.toggle_pause(), RUN, "Space"),
    WindowAction(
        "stepAction", "&Step", lambda w: w.runs.step(), RUN, "N", "Train exactly one step"
    ),
    WindowAction("stopAction", "St&op", lambda w: w.runs.stop(), RUN, "Ctrl+."),
    WindowAction(
        "continueAction",
        "&Continue",
        lambda w: w.runs.continue_run(),
        RUN,
        "Ctrl+Shift+Return",
        "Go on with the stopped run",
    ),
    WindowAction(
        "betaUpAction",
        "β Up",
        lambda w: w.controls.scale_beta(0.1),
        RUN,
        "]",
        "β × 1.26 (a tenth of a decade)",
    ),
    WindowAction(
        "betaDownAction", "β Down", lambda w: w.controls.scale_beta(-0.1), RUN, "[", "β ÷ 1.26"
    ),
    # View.
    WindowAction(
        "resetViewAction",
        "Reset Map &View",
        lambda w: w.explorer.map.reset_view(),
        VIEW,
        "Home",
        "Fit the latent map to the test set and, on planes of codes, the decoded tiles' extent",
    ),
    WindowAction(
        "presentationAction",
        "&Presentation Mode",
        lambda w, checked: w.set_presentation_mode(checked),
        VIEW,
        "F11",
        "Full screen, large fonts, the curves and the latent map only",
        checkable=True,
    ),
    WindowAction(
        "leavePresentationAction",
        "Leave Presentation Mode",
        lambda w: w.set_presentation_mode(False),
        key="Esc",
        enabled=False,
    ),
    WindowAction("resetLayoutAction", "Reset &Layout", lambda w: w.reset_layout()),
    # Help.
    WindowAction(
        "helpAction",
        "&What Am I Looking At?",
        lambda w: w.view_help.open_for_current_view(),
        HELP,
        "F1",
        "What the view on show means, in plain words",
    ),
    WindowAction("quitAction", "&Quit", lambda w: w.close(), key=_STANDARD.Quit),
)


def install_actions(window: MainWindow) -> dict[str, QAction]:
    """The table's QActions, by id, added to the window (their keys work with the menu bar hidden)."""
    actions = {}
    for spec in WINDOW_ACTIONS:
        action = QAction(spec.title, window)
        action.setObjectName(spec.id)
        if spec.key is not None:
            action.setShortcut(QKeySequence(spec.key))
        action.setStatusTip(spec.tip)
        action.setCheckable(spec.checkable)
        action.setEnabled(spec.enabled)
        action.triggered.connect(partial(_trigger, window, spec, action))
        window.addAction(action)
        actions[spec.id] = action
    return actions


def _trigger(window: MainWindow, spec: WindowAction, action: QAction, *_) -> None:
    if spec.checkable:
        spec.callback(window, action.isChecked())
    else:
        spec.callback(window)


def menu_actions(menu: str) -> list[str]:
    """The ids of `menu`'s entries, in the table's order."""
    return [spec.id for spec in WINDOW_ACTIONS if spec.menu == menu]


def add_menu_actions(menu: QMenu, name: str, actions: dict[str, QAction]) -> None:
    """`name`'s actions from the table, with a separator before each new section."""
    for action_id in menu_actions(name):
        if action_id in SECTION_STARTS and not menu.isEmpty():
            menu.addSeparator()
        menu.addAction(actions[action_id])


def build_menus(
    window: QMainWindow,
    actions: dict[str, QAction],
    export_menus: tuple[QMenu, QMenu],
    docks: list[QDockWidget],
    lessons_menu: QMenu,
    show_about: Callable[[], None],
    recent_menu: QMenu,
) -> None:
    """The menu bar from the table, with what is not an action of it: Open Recent, the plot and
    figure export menus, the docks' toggles, the lessons menu and the About entry."""
    menus = window.menuBar()
    file_menu = menus.addMenu(FILE)
    add_menu_actions(file_menu, FILE, actions)
    file_menu.insertMenu(actions["openDataAction"], recent_menu)
    for export_menu in export_menus:
        file_menu.addMenu(export_menu)
    file_menu.addSeparator()
    file_menu.addAction(actions["quitAction"])
    add_menu_actions(menus.addMenu(EDIT), EDIT, actions)
    add_menu_actions(menus.addMenu(RUN), RUN, actions)
    view_menu = menus.addMenu(VIEW)
    add_menu_actions(view_menu, VIEW, actions)
    view_menu.addSeparator()
    for dock in docks:
        view_menu.addAction(dock.toggleViewAction())
    view_menu.addAction(actions["resetLayoutAction"])
    help_menu = menus.addMenu(HELP)
    add_menu_actions(help_menu, HELP, actions)
    help_menu.addMenu(lessons_menu)
    help_menu.addAction("&About VAE Studio", show_about)
