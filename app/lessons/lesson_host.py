"""What a lesson does to the window, as a narrow protocol (apply a config, train, show a view,
select, set the map's controls), and the window's side of it. Lessons name controls by their
object names (the lesson files' format); finding them by name happens here and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabWidget, QWidget

from app.controllers.explorer import LatentExplorer
from app.controllers.run import RunController
from app.controls import ControlPanel
from app.lessons.lesson_window import map_controls
from vae_core.config import RunConfig

AskFile = Callable[..., tuple[str, str] | None]
MapRegion = tuple[tuple[float, float], tuple[float, float]]  # the map's x and y ranges
# A theory step zooms the map to the selected input's q(z|x): this many of its σ each side (the
# true posterior and the importance samples spread wider than q), and at least this much.
ZOOM_SIGMAS, ZOOM_LEAST_HALF_WIDTH = 8.0, 0.5


def region_around(centre: np.ndarray, covariance: np.ndarray, widest_half: float) -> MapRegion:
    """A square region of the plane centred on `centre` (2,) that holds ZOOM_SIGMAS of the
    Gaussian with `covariance` (2, 2) along its widest axis, no wider than `widest_half` each side
    (a zoom to an input never shows more than the map did)."""
    widest = float(np.sqrt(np.linalg.eigvalsh(covariance).max()))
    half = min(max(ZOOM_SIGMAS * widest, ZOOM_LEAST_HALF_WIDTH), widest_half)
    x, y = (float(value) for value in centre)
    return (x - half, x + half), (y - half, y + half)


class LessonWindow(Protocol):
    # The settings.
    def apply_config(self, config: RunConfig) -> None: ...

    def config(self) -> RunConfig:
        """The settings shown (VaeStudioError while they are half typed)."""

    def set_beta(self, beta: float) -> None: ...

    def settle_controls(self) -> None:
        """The settings panel enables what applies again (after a lesson's locks)."""

    # The run.
    def train(self) -> None: ...

    def training(self) -> bool: ...

    def stop_run(self) -> None: ...

    def when_run_ends(self, callback: Callable[[str], None]) -> None: ...

    def when_model_shown(self, callback: Callable[[], None]) -> None: ...

    # The views.
    def show_view(self, title: str) -> bool:
        """Bring the view tab `title` forward; False when there is none."""

    def current_view(self) -> str: ...

    def examples_on_map(self) -> int | None:
        """How many examples the map shows; None while no model is on show."""

    def select(self, index: int) -> None: ...

    def selected(self) -> int | None: ...

    def zoom_to_selected(self) -> None:
        """Zoom the map to the selected input's q(z|x) (a theory step looks at that input)."""

    def map_region(self) -> MapRegion: ...

    def set_map_region(self, region: MapRegion) -> None: ...

    def control(self, name: str) -> QWidget | None: ...

    def map_controls(self) -> list[QWidget]:
        """The map's layer boxes and the named controls of the theory row under it."""

    def dock_beside_settings(self, dock: QDockWidget) -> None: ...

    # Files and words.
    def ask_file(
        self, save: bool, title: str, file_filter: str, default_name: str = ""
    ) -> tuple[str, str] | None: ...

    def show_error(self, message: str) -> None: ...

    def say(self, line: str) -> None: ...


class WindowForLessons:
    """The window's side of `LessonWindow`, from the parts a lesson touches; `docks`: the
    settings' and the views'."""

    def __init__(
        self,
        window: QMainWindow,
        controls: ControlPanel,
        runs: RunController,
        explorer: LatentExplorer,
        view_tabs: QTabWidget,
        docks: tuple[QDockWidget, QDockWidget],
        train: Callable[[], None],
        ask_file: AskFile,
        show_error: Callable[[str], None],
    ):
        self._window = window
        self._controls = controls
        self._runs = runs
        self._explorer = explorer
        self._view_tabs = view_tabs
        self._settings_dock, self._views_dock = docks
        self.train = train
        self.ask_file = ask_file
        self.show_error = show_error

    def apply_config(self, config: RunConfig) -> None:
        self._controls.apply_config(config)

    def config(self) -> RunConfig:
        return self._controls.config()

    def set_beta(self, beta: float) -> None:
        self._controls.set_beta(beta)

    def settle_controls(self) -> None:
        self._controls.set_run_active(self._runs.status.training)

    def training(self) -> bool:
        return self._runs.status.training

    def stop_run(self) -> None:
        self._runs.stop()

    def when_run_ends(self, callback: Callable[[str], None]) -> None:
        self._runs.runEnded.connect(callback)

    def when_model_shown(self, callback: Callable[[], None]) -> None:
        self._explorer.shown.model_changed.connect(callback)

    def show_view(self, title: str) -> bool:
        tabs = self._view_tabs
        titles = [tabs.tabText(index) for index in range(tabs.count())]
        if title not in titles:
            return False
        tabs.setCurrentIndex(titles.index(title))
        self._views_dock.show()
        return True

    def current_view(self) -> str:
        return self._view_tabs.tabText(self._view_tabs.currentIndex())

    def examples_on_map(self) -> int | None:
        examples = self._explorer.state.examples
        return None if self._explorer.model is None or examples is None else len(examples)

    def select(self, index: int) -> None:
        self._explorer.select(index)

    def selected(self) -> int | None:
        return self._explorer.state.selected

    def zoom_to_selected(self) -> None:
        state = self._explorer.state
        posterior = state.posterior
        if posterior is None or not np.asarray(posterior.std).any():
            return  # nothing selected, or a point (VQ-VAE): the map stays as it is
        centre = state.plane.project(np.asarray(posterior.mean)[None])[0]
        covariance = state.plane.project_covariance(np.asarray(posterior.std) ** 2)
        (x_low, x_high), (y_low, y_high) = self.map_region()
        shown_half = min(x_high - x_low, y_high - y_low) / 2
        self.set_map_region(region_around(centre, covariance, shown_half))

    def map_region(self) -> MapRegion:
        return self._explorer.map.visible_range()

    def set_map_region(self, region: MapRegion) -> None:
        self._explorer.map.show_region(*region)

    def control(self, name: str) -> QWidget | None:
        return self._window.findChild(QWidget, name)

    def map_controls(self) -> list[QWidget]:
        return map_controls(self._explorer.map, self._window.findChild(QWidget, "seedMapControls"))

    def dock_beside_settings(self, dock: QDockWidget) -> None:
        # A tab beside the settings: the text needs the height, and a lesson locks most settings.
        self._window.tabifyDockWidget(self._settings_dock, dock)

    def say(self, line: str) -> None:
        self._window.statusBar().showMessage(line, 10000)
