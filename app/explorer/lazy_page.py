"""A page that redraws only while it is on screen, and catches up when it is shown again."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


class LazyPage(QWidget):
    """Subclasses implement `refresh()`; callers ask with `request_refresh()`.

    Weights arrive several times a second while training; a hidden tab does no work for them.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._stale = True

    def request_refresh(self, *_) -> None:
        if self.isVisible():
            self._stale = False
            self.refresh()
        else:
            self._stale = True

    def refresh(self) -> None:
        raise NotImplementedError

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.refresh()
