"""Where the seed's views join the window: pages among the view tabs, docks, and a row of
controls under the latent map's (their menu actions are rows of the table in app/actions). Each
view is built with the state it draws; the host only places it, where `TheoryPlaces` says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.controllers.explorer import LatentExplorer
from app.controllers.model_jobs import ModelJobs
from app.controllers.run import RunController
from app.controllers.runs import RunsController
from app.file_actions import FileDialogs
from app.lessons.lesson_host import LessonWindow
from app.lessons.lesson_panel import LessonController
from app.runs.runs_panel import RunsComparePage, RunsPanel
from app.theory.aggregate_layer import AggregateLayers
from app.theory.gradient_view import GradientEstimatorsPage
from app.theory.identity_view import IdentityView
from app.theory.posterior_layers import PosteriorLayers
from app.theory.rate_distortion_view import RateDistortionView

DockMaker = Callable[[str, str, QWidget, Qt.DockWidgetArea], QDockWidget]


@dataclass(frozen=True)
class TheoryPlaces:
    """Where the theory's views go in the window."""

    window: QMainWindow
    view_tabs: QTabWidget
    last_tab: QWidget  # pages go before it (the Evaluate page)
    views_dock: QDockWidget  # the Runs dock goes beside it
    make_dock: DockMaker


class TheoryViews(QObject):
    """Builds the seed's views and places them."""

    def __init__(
        self,
        runs: RunController,
        explorer: LatentExplorer,
        jobs: ModelJobs,
        settings: QSettings,
        show_error: Callable[[str], None],
        places: TheoryPlaces,
        lesson_window: LessonWindow,
        dialogs: FileDialogs,
    ):
        super().__init__(places.window)
        self.places = places
        self.docks: dict[str, QDockWidget] = {}
        self._map_row: QToolBar | None = None
        self._map = explorer.map
        # For the input selected on the map: its true posterior, importance samples, the ELBO identity.
        shown = explorer.shown
        self.posterior_layers = PosteriorLayers(
            explorer, shown, jobs, self.add_map_controls, show_error, self
        )
        self.identity = IdentityView(shown, jobs, show_error)
        self.add_page("ELBO identity", self.identity)
        # The two gradient estimators of the seed.
        self.gradients = GradientEstimatorsPage(shown, jobs)
        self.gradients.errorOccurred.connect(show_error)
        self.add_page("Gradient estimators", self.gradients)
        # The role of the prior: the aggregate posterior and holes on the map, rate and distortion.
        self.aggregate = AggregateLayers(shown, explorer, jobs, show_error, self)
        self.rate_distortion = RateDistortionView(runs.state.run)
        self.add_page("Rate–distortion", self.rate_distortion)
        self.dialogs = dialogs
        self._build_runs(runs, settings, show_error)
        # Built last: a lesson may name any view's controls.
        self.lessons = LessonController(lesson_window, jobs, self, self.runs.state)

    def _build_runs(
        self,
        runs: RunController,
        settings: QSettings,
        show_error: Callable[[str], None],
    ) -> None:
        """Compare runs: the Runs list (a dock beside the views, closed until View > Runs) and its page."""
        self.runs = RunsController(runs.state, runs, settings, self)
        self.runs.errorOccurred.connect(show_error)
        runs_dock = self.add_dock(
            "runsDock",
            "Runs",
            RunsPanel(self.runs, self.ask_open_run_folder),
            Qt.DockWidgetArea.BottomDockWidgetArea,
        )
        self.places.window.splitDockWidget(
            self.places.views_dock, runs_dock, Qt.Orientation.Horizontal
        )
        runs_dock.hide()
        self.compare = RunsComparePage(self.runs)
        self.add_page("Compare runs", self.compare)
        self.runs.state.compared.connect(self._show_compared_runs)
        runs.runStarted.connect(self._show_compared_runs)  # after the Runs list named its live run
        self._show_compared_runs()

    def help_topics(self) -> dict[QWidget, str]:
        """The help page of each of the seed's pages (app/help)."""
        return {
            self.identity: "elbo_identity",
            self.gradients: "gradient_estimators",
            self.aggregate.page: "aggregate_posterior",
            self.rate_distortion: "rate_distortion",
            self.compare: "compare_runs",
        }

    def _show_compared_runs(self, *_) -> None:
        # The current run is on the rate-distortion plane already, as "this run".
        self.rate_distortion.show_runs(self.runs.others_compared())

    def ask_open_run_folder(self) -> None:
        """List a run folder the user picks in the Runs list."""
        if folder := self.dialogs.ask_folder("Open run folder"):
            self.runs.open_folder(folder)

    def add_page(self, title: str, page: QWidget) -> None:
        """A page among the view tabs, before Evaluate."""
        tabs = self.places.view_tabs
        tabs.insertTab(tabs.indexOf(self.places.last_tab), page, title)

    def add_dock(
        self, name: str, title: str, widget: QWidget, area=Qt.DockWidgetArea.RightDockWidgetArea
    ) -> QDockWidget:
        dock = self.places.make_dock(name, title, widget, area)
        self.docks[name] = dock
        return dock

    def add_map_controls(self, *widgets: QWidget) -> None:
        """Controls in the seed's row under the latent map's own (the row appears with its first).
        The row is a tool bar: on a narrow screen what does not fit folds into its » menu, so the
        row never makes the window wider. Labels (readouts of figures) go on a line of their own
        under it instead, where they are never folded away."""
        if self._map_row is None:
            box = QWidget()
            box.setObjectName("seedMapControls")
            layout = QVBoxLayout(box)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(0)
            self._map_row = QToolBar()
            self._map_row.setAccessibleName("Theory on the map")
            self._map_row.addWidget(QLabel("Theory: "))
            self._map_readouts = QHBoxLayout()
            self._map_readouts.setContentsMargins(8, 0, 8, 2)
            layout.addWidget(self._map_row)
            layout.addLayout(self._map_readouts)
            self._map.add_control_row(box)
        for widget in widgets:
            if isinstance(widget, QLabel):
                # Its text, however long, must not widen the window: it is cut at the edge instead.
                widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
                self._map_readouts.addWidget(widget, 1)
            else:
                self._map_row.addWidget(widget)
