"""The window's helpers, each built with what it uses, typed: the one place that composes them.
The order is the arguments' (a helper given another's method is built after it), not a contract
hidden in attribute look-ups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.actions import build_menus
from app.data_source import DataSources
from app.export import FigureExports
from app.file_actions import FileActions, FileDialogs
from app.help_pages import ViewHelp
from app.lessons.lesson_host import WindowForLessons
from app.presentation import Presentation, PresentedParts
from app.recent_files import RecentFiles
from app.runs.classroom import Classroom
from app.settings_undo import SettingsUndo
from app.theory.host import TheoryPlaces, TheoryViews

if TYPE_CHECKING:
    from app.main_window import MainWindow

# Bumped when the docks change, so an old saved layout is not forced onto new docks.
WINDOW_STATE_VERSION = 2


@dataclass(frozen=True)
class WindowHelpers:
    data_sources: DataSources
    seed: TheoryViews
    files: FileActions
    figures: FigureExports
    view_help: ViewHelp
    presentation: Presentation
    classroom: Classroom
    recent: RecentFiles
    settings_undo: SettingsUndo


def build_helpers(window: MainWindow, actions: dict[str, QAction]) -> WindowHelpers:
    """The helpers of `window` (its views, docks and controllers built already), and its menus."""
    dialogs = FileDialogs(window, window.settings)
    data_sources = DataSources(
        window.controls, window.runs, window.model_jobs, window.settings, window.show_error, window
    )
    seed = _theory_views(window, dialogs)
    files = FileActions(
        window,
        window.model_jobs,
        dialogs,
        window.state,
        window.runs,
        window.checkpoints,
        actions["stopFollowingAction"],
        data_sources.open_dropped,
        seed.runs.open_folder,
    )
    files.follower.configFound.connect(window.controls.apply_config)
    recent = _recent_files(window, files)
    figures = _figure_exports(window, dialogs)
    view_help = ViewHelp(window.view_tabs, lambda: help_topics(window, seed), window)
    classroom = _classroom(window, seed, dialogs, actions)
    build_menus(
        window,
        actions,
        (files.plots_menu(window.exportable_views()), figures.menu),
        [
            window.controls_dock,
            window.explorer_dock,
            window.views_dock,
            *seed.docks.values(),
            classroom.dock,
        ],
        seed.lessons.menu,
        window.messages.show_about,
        recent.menu,
    )
    settings_undo = SettingsUndo(window.controls, window)
    settings_undo.steer(actions["undoAction"], actions["redoAction"])
    presentation = _presentation(window)
    return WindowHelpers(
        data_sources,
        seed,
        files,
        figures,
        view_help,
        presentation,
        classroom,
        recent,
        settings_undo,
    )


def _recent_files(window: MainWindow, files: FileActions) -> RecentFiles:
    return RecentFiles(
        window.settings,
        window.model_jobs,
        files,
        window.checkpoints,
        window.state.shown,
        window.show_error,
        window,
    )


def _classroom(
    window: MainWindow, seed: TheoryViews, dialogs: FileDialogs, actions: dict[str, QAction]
) -> Classroom:
    return Classroom(
        window,
        window.add_dock,
        window.explorer_dock,
        seed.runs,
        window.runs,
        window.settings,
        dialogs,
        actions,
        window.say,
        window.show_error,
    )


def _theory_views(window: MainWindow, dialogs: FileDialogs) -> TheoryViews:
    lesson_window = WindowForLessons(
        window,
        window.controls,
        window.runs,
        window.explorer,
        window.view_tabs,
        (window.controls_dock, window.views_dock),
        window.train,
        dialogs.ask_file,
        window.show_error,
    )
    places = TheoryPlaces(
        window, window.view_tabs, window.evaluation, window.views_dock, window.add_dock
    )
    return TheoryViews(
        window.runs,
        window.explorer,
        window.model_jobs,
        window.settings,
        window.show_error,
        places,
        lesson_window,
        dialogs,
    )


def _figure_exports(window: MainWindow, dialogs: FileDialogs) -> FigureExports:
    explorer = window.explorer
    return FigureExports(
        {
            "latent_map": (explorer.map.plot, False),
            "loss_curves": (window.curves.plot, True),
            "kl_per_dimension": (window.kl_bars.plot, True),
        },
        {"interpolation_grid": explorer.interpolation, "traversal_grid": explorer.traversals},
        window.state.shown,
        window.model_jobs,
        dialogs.ask_file,
        window.say,
        window.show_error,
        window,
    )


def _presentation(window: MainWindow) -> Presentation:
    parts = PresentedParts(
        (window.controls_dock, window.explorer_dock, window.run_actions.toolbar),
        window.views_dock,
        window.view_tabs,
        window.curves,
        (window.curves, window.explorer.map),
        window.status,
    )
    return Presentation(
        window, parts, window.state.run, lambda: window.controls.beta, WINDOW_STATE_VERSION
    )


def help_topics(window: MainWindow, seed: TheoryViews) -> dict[QWidget, str]:
    """The help topic of each view tab with its own page (the map's is the default)."""
    previews, explorer = window.previews, window.explorer
    return {
        window.curves: "curves",
        window.kl_bars: "kl_per_dim",
        previews.reconstruction_page: "reconstructions",
        previews.samples_page: "samples",
        explorer.interpolation: "interpolation",
        explorer.traversals: "traversals",
        explorer.codebook: "codebook",
        explorer.draw: "draw",
        window.evaluation: "evaluate",
        **seed.help_topics(),
    }
