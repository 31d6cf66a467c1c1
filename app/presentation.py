"""Presentation mode: full screen, larger fonts, the curves and the latent map only; keys drive the
run. What it hides and changes is remembered and given back when it ends."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QMainWindow, QWidget

PRESENTATION_FONT_SCALE = 1.6


class Presentation:
    def __init__(self, window: QMainWindow, state_version: int):
        self.window = window
        self.state_version = state_version
        self._restore: dict | None = None

    @property
    def on(self) -> bool:
        return self._restore is not None

    def enter(self) -> None:
        window = self.window
        if self.on:
            return
        self._restore = {
            "state": window.saveState(self.state_version),
            "geometry": window.saveGeometry(),
            "tab": window.view_tabs.currentIndex(),
            "font": QFont(window.font()),
        }
        status = window.status
        for widget in (
            window.controls_dock, window.explorer_dock, window.run_actions.toolbar, window.menuBar(),
            status.state_label, status.device_label, status.model_label,
        ):  # fmt: skip
            widget.hide()
        window.views_dock.show()
        window.views_dock.setTitleBarWidget(QWidget())
        window.view_tabs.setCurrentWidget(window.curves)
        window.view_tabs.tabBar().hide()
        font = QFont(window.font())
        font.setPointSizeF(font.pointSizeF() * PRESENTATION_FONT_SCALE)
        window.setFont(font)
        window.curves.set_font_size(round(font.pointSizeF()))
        status.fit_to_font()
        window.statusBar().clearMessage()
        status.presentation_hint.show()
        window.showFullScreen()

    def leave(self) -> None:
        window = self.window
        if not self.on:
            return
        restore, self._restore = self._restore, None
        status = window.status
        window.showNormal()
        window.setFont(restore["font"])
        window.curves.set_font_size(round(restore["font"].pointSizeF()))
        status.fit_to_font()
        window.views_dock.setTitleBarWidget(None)
        for widget in (window.menuBar(), status.state_label, status.device_label, status.model_label):
            widget.show()
        window.view_tabs.tabBar().show()
        window.view_tabs.setCurrentIndex(restore["tab"])
        window.restoreGeometry(restore["geometry"])
        window.restoreState(restore["state"], self.state_version)
        status.presentation_hint.hide()
