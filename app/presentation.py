"""Presentation mode: full screen, the curves and the latent map only, text sized to read from the
back of a room, a large readout of β, step and loss; keys drive the run. What it hides and
changes is remembered and given back when it ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QTabWidget, QWidget

from app.naming import named
from app.state import RunModel
from app.status_bar import RunStatusBar

# Text height as a share of the screen's: 1080 rows give 24-pixel plot text and a 36-pixel
# readout, what a projected screen needs to read from the back row.
PLOT_TEXT_SHARE = 1 / 45
READOUT_TEXT_SHARE = 1 / 30
MIN_PLOT_TEXT_PX = 24
# The rest of the window's text (tabs, status bar) grows less: it is not what the room reads.
WINDOW_FONT_SCALE = 1.6


class TextSized(Protocol):
    def set_text_size(self, pixels: int | None) -> None: ...  # None: as built


class PresentedCurves(TextSized, Protocol):
    def set_presenting(self, on: bool) -> None: ...  # lines for a projector, or as built


@dataclass(frozen=True)
class PresentedParts:
    """The parts of the window presentation mode hides, shows and enlarges."""

    hidden: tuple[QWidget, ...]  # the toolbar and whatever else, besides docks, is not presented
    views_dock: QDockWidget  # its title bar becomes the readout; every other dock is hidden
    view_tabs: QTabWidget
    curves: QWidget  # the tab presented, a PresentedCurves
    plots: tuple[TextSized, ...]  # their text grows
    status: RunStatusBar


class Presentation:
    def __init__(
        self,
        window: QMainWindow,
        parts: PresentedParts,
        run: RunModel,
        beta: Callable[[], float],
        state_version: int,
    ):
        """`beta`: the β the controls show, for the readout before the first snapshot."""
        self.window = window
        self.parts = parts
        self.run = run
        self.beta = beta
        self.state_version = state_version
        self._restore: dict | None = None
        self.readout = named(QLabel(), "presentationReadout", "β, step and loss")
        self.readout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.readout.setMargin(6)

    @property
    def on(self) -> bool:
        return self._restore is not None

    def enter(self) -> None:
        window, parts = self.window, self.parts
        if self.on:
            return
        self._restore = {
            "state": window.saveState(self.state_version),
            "geometry": window.saveGeometry(),
            "tab": parts.view_tabs.currentIndex(),
            "font": QFont(window.font()),
        }
        status = parts.status
        # Every dock but the views' (settings, explorer, runs, lessons, any a later issue adds):
        # the window's saved state shows them again on leaving.
        docks = [dock for dock in window.findChildren(QDockWidget) if dock is not parts.views_dock]
        for widget in (
            *parts.hidden,
            *docks,
            window.menuBar(),
            status.state_label,
            status.device_label,
            status.model_label,
        ):
            widget.hide()
        parts.views_dock.show()
        parts.views_dock.setTitleBarWidget(self.readout)
        parts.view_tabs.setCurrentWidget(parts.curves)
        parts.view_tabs.tabBar().hide()
        screen_height = window.screen().geometry().height()
        plot_pixels = max(MIN_PLOT_TEXT_PX, round(screen_height * PLOT_TEXT_SHARE))
        font = QFont(window.font())
        font.setPointSizeF(font.pointSizeF() * WINDOW_FONT_SCALE)
        window.setFont(font)
        readout_font = QFont(font)
        readout_font.setPixelSize(max(plot_pixels, round(screen_height * READOUT_TEXT_SHARE)))
        readout_font.setBold(True)
        self.readout.setFont(readout_font)
        self._set_plot_text(plot_pixels)
        parts.curves.set_presenting(True)
        status.fit_to_font()
        window.statusBar().clearMessage()
        status.presentation_hint.show()
        self.show_figures()
        # Without a window manager no one acts on the full-screen request: take the screen
        # directly first (set after it, a geometry would take the window out of full screen).
        window.setGeometry(window.screen().geometry())
        window.showFullScreen()

    def leave(self) -> None:
        window, parts = self.window, self.parts
        if not self.on:
            return
        restore, self._restore = self._restore, None
        status = parts.status
        window.showNormal()
        window.setFont(restore["font"])
        self._set_plot_text(None)
        parts.curves.set_presenting(False)
        status.fit_to_font()
        parts.views_dock.setTitleBarWidget(None)
        for widget in (
            window.menuBar(),
            status.state_label,
            status.device_label,
            status.model_label,
        ):
            widget.show()
        parts.view_tabs.tabBar().show()
        parts.view_tabs.setCurrentIndex(restore["tab"])
        window.restoreGeometry(restore["geometry"])
        window.restoreState(restore["state"], self.state_version)
        status.presentation_hint.hide()

    def _set_plot_text(self, pixels: int | None) -> None:
        for plot in self.parts.plots:
            plot.set_text_size(pixels)

    def show_figures(self) -> None:
        """β, step and loss of the newest snapshot (while presenting)."""
        if not self.on:
            return
        latest = self.run.latest
        if latest is None:
            self.readout.setText(f"β {self.beta():.3g}")
            return
        self.readout.setText(
            f"β {latest.beta:.3g}     step {latest.step:,}     loss {latest.loss:,.2f}"
        )
