"""Where the seed's views join the window: pages among the view tabs, docks, a row of controls
under the latent map's, and menu actions. Each view is built with the state it draws; the host
only places it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QWidget

if TYPE_CHECKING:
    from app.main_window import MainWindow


class SeedViews(QObject):
    """Builds the seed's views for `window` and places them."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.docks: dict[str, QDockWidget] = {}

    def add_page(self, title: str, page: QWidget) -> None:
        """A page among the view tabs, before Evaluate."""
        tabs = self.window.view_tabs
        tabs.insertTab(tabs.indexOf(self.window.evaluation), page, title)

    def add_dock(self, name: str, title: str, widget: QWidget, area=Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        dock = self.window._dock(name, title, widget, area)
        self.docks[name] = dock
        return dock

    def add_map_row(self, row: QWidget) -> None:
        """A row of controls under the latent map's own."""
        self.window.explorer.map_widget.add_control_row(row)
