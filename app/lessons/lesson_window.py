"""What a lesson does to the window's controls, found by objectName: reading and setting a
control's value, and locking controls while the lesson lasts."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QSlider,
    QWidget,
)

LOCKED_TIP = "Locked by the lesson (Leave lesson unlocks it)"


class ControlLocks(QObject):
    """Keeps the lesson's controls disabled: a control the window enables again (the settings
    panel enables its controls when a run ends) is disabled again at once."""

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.tips: dict[QWidget, str] = {}  # each locked control's own tooltip

    def lock(self, widget: QWidget) -> None:
        self.tips[widget] = widget.toolTip()
        widget.setToolTip(LOCKED_TIP)
        widget.setEnabled(False)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched in self.tips:
            if event.type() == QEvent.Type.EnabledChange and watched.isEnabled():
                watched.setEnabled(False)
            elif event.type() == QEvent.Type.ToolTipChange and watched.toolTip() != LOCKED_TIP:
                self.tips[watched] = watched.toolTip()
                watched.setToolTip(LOCKED_TIP)
        return False

    def release(self) -> None:
        for widget, tip in self.tips.items():
            widget.removeEventFilter(self)
            widget.setToolTip(tip)
            widget.setEnabled(True)
        self.tips.clear()


def map_controls(view, theory_row: QWidget | None) -> list[QWidget]:
    """The map `view`'s layer check boxes and every named control in the theory row under it."""
    widgets = [view.tiles_check, view.points_check, view.prior_check]
    row = theory_row
    if row is not None:
        widgets += [
            widget
            for widget in row.findChildren(QWidget)
            if widget.objectName() and isinstance(widget, (QCheckBox, QComboBox, QAbstractSpinBox))
        ]
    return widgets


def control_value(widget: QWidget) -> bool | int | float | str:
    if isinstance(widget, QAbstractButton):
        return widget.isChecked()
    if isinstance(widget, QComboBox):
        data = widget.currentData()
        return data if isinstance(data, str) else widget.currentText()
    return widget.value()


def set_control(widget: QWidget, value) -> bool:
    """Tick, choose or set `widget` to `value`; False when it cannot take that value."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(widget, QAbstractButton) and widget.isCheckable() and isinstance(value, bool):
        widget.setChecked(value)
    elif isinstance(widget, QComboBox) and isinstance(value, str):
        index = widget.findData(value)
        index = index if index >= 0 else widget.findText(value)
        if index < 0:
            return False
        widget.setCurrentIndex(index)
    elif hasattr(widget, "setValue") and isinstance(widget, (QAbstractSpinBox, QSlider)) and number:
        widget.setValue(value if isinstance(widget.value(), float) else round(value))
    else:
        return False
    return True
